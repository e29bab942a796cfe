#!/usr/bin/env bash
# Installs every Debian package that r1.cpp's build, tests and demo need. Idempotent: when everything
# is present it changes nothing and returns at once. Runs as root, or through sudo when available.
#   scripts/install-deps.sh            install what is missing
#   scripts/install-deps.sh --check    exit 1 (listing them) if packages are missing, install nothing
#   scripts/install-deps.sh --reference  also the packages that regenerate golden files (python3-torch)
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev                 # LibTorch 1.13 (CPU)
  libgloo-dev                  # the headers of the Gloo that LibTorch's c10d links (data-parallel training)
  libopenblas0-pthread         # without it Debian's LibTorch falls back to reference BLAS (~100x slower GEMM)
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libpcre2-dev                 # full-Unicode regex (JIT) for tokenizer pre-tokenization
  libicu-dev                   # Unicode normalization (NFC/NFD/NFKC/NFKD) and character classes
  libginac-dev                 # computer algebra (GiNaC) for math answer verification
  libyaml-cpp-dev              # YAML run recipes (open-r1 style)
  libcpp-httplib-dev           # HTTP server and client (r1 serve, r1 generate --server)
  libcld2-dev                  # Google's CLD2 language identification (r1 data filter)
  python3                      # the code reward runs Python programs (tests included); scripts/check-includes.py
  python3-protobuf protobuf-compiler  # test-tensorboard's independent event-file reader (not a runtime dependency)
  clang-format                 # make check: every source as .clang-format says
  chromium                     # tests: the r1 dashboard page in a headless browser (tests/browser/)
  libgtest-dev libgmock-dev libbenchmark-dev
)
check_only=0
for arg in "$@"; do
  case "$arg" in
    --check) check_only=1 ;;
    --reference) packages+=(python3-torch python3-numpy python3-sympy python3-antlr4) ;;
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then exit 0; fi
if [[ $check_only -eq 1 ]]; then echo "missing packages: ${missing[*]}" >&2; exit 1; fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
