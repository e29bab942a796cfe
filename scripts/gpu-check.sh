#!/usr/bin/env bash
# r1 on a CUDA machine in one command (issue 25): configures and builds r1 against that machine's LibTorch (the
# python3 PyTorch's, torch.utils.cmake_prefix_path) with the other libraries from a packed prefix
# (scripts/gpu/pack-deps.sh: Debian 12's packages, for machines with neither Debian packages nor network), runs
# `ctest -L gpu`, the parity check against transformers and peft (tests/reference/gpu-parity.py) and the GPU
# numbers (scripts/gpu/bench.sh). A failed stage does not stop the later ones that do not need it; every stage is
# cut to fit --limit. The last lines say what ran and how it ended; OUT holds (at most 8 files): gpu-check.log
# (everything but the compiler's and ctest's output), build.log, ctest.log, summary.json, parity.json, bench.json and
# binaries.tar.xz (r1, test-gpu and bench-train-step, for --prebuilt).
#
#   scripts/gpu-check.sh [--deps FILE|DIR] [--out DIR] [--build DIR] [--jobs N] [--skip STAGES] [--limit S]
#                        [--prebuilt FILE]
#     --deps      the packed prefix (a .tar.xz from pack-deps.sh, or its unpacked r1-deps directory); omit it where
#                 the machine has the -dev packages itself (scripts/install-deps.sh)
#     --build     build directory (default /tmp/r1-gpu-build)
#     --skip      comma-separated stages not to run: ctest, parity, bench
#     --limit     seconds the whole run may take (default 570): no stage starts in its last 30 s, and each is
#                 stopped at the limit
#     --prebuilt  binaries.tar.xz of an earlier run on a machine like this one (same paths): configure, then use
#                 them instead of building
# On the GPU machine: bash scripts/gpu-check.sh --deps r1-deps.tar.xz --out "$OUT"
# Env: TORCH_PREFIX (LibTorch's CMake prefix; default: python3's torch), TORCH_CUDA_ARCH_LIST (default 9.0).
set -uo pipefail
start=$(date +%s)
root=$(cd "$(dirname "$0")/.." && pwd)
deps="" out="$root/gpu-check-out" build=/tmp/r1-gpu-build jobs=$(nproc) skip="" limit=570 prebuilt=""
while [ $# -gt 0 ]; do
  case $1 in
    --deps) deps=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --skip) skip=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --prebuilt) prebuilt=$(realpath "$2"); shift 2 ;;
    *) sed -n '11,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
mkdir -p "$out" "$build"
out=$(cd "$out" && pwd)
build=$(cd "$build" && pwd)
exec > >(tee -a "$out/gpu-check.log") 2>&1
export PYTHONUNBUFFERED=1
elapsed() { echo $(($(date +%s) - start)); }
left() { echo $((limit - $(elapsed))); }
tl() { local l; l=$(left); echo $((l > 1 ? l : 1)); }  # for timeout, where 0 would mean none
summary="$out/summary.json"
echo '{}' > "$summary"
record() {  # stage status since [note]
  python3 - "$summary" "$1" "$2" "$(($(date +%s) - $3))" "${4:-}" <<'PY'
import json, sys
path, stage, status, seconds, note = sys.argv[1:6]
s = json.load(open(path))
s[stage] = {"status": status, "seconds": int(seconds), **({"note": note} if note else {})}
json.dump(s, open(path, "w"), indent=1)
PY
  echo "== stage $1: $2 ($(($(date +%s) - $3)) s)${4:+ — $4}"
}
want() {  # stage: not skipped, and time left for it
  if [[ ",$skip," == *",$1,"* ]]; then return 1; fi
  if [ "$(left)" -lt 30 ]; then echo "== stage $1: not started (out of time)"; return 1; fi
}

# ---- 1. the machine ---------------------------------------------------------------------------------------------
t=$(date +%s)
echo "date: $(date -u)"; uname -a; ldd --version 2>&1 | head -1; grep PRETTY_NAME /etc/os-release 2>/dev/null
echo "cpus: $(nproc), memory: $(free -g 2>/dev/null | awk '/Mem:/ {print $2 " GiB"}'), repository: $root"
for tool in g++ gcc nvcc cmake ninja pkg-config ccache python3; do
  printf '%-10s %s %s\n' "$tool" "$(command -v $tool || echo -)" "$($tool --version 2>/dev/null | head -1)"
done
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 | head -3
python3 - <<'PY'
import importlib
for name in ("torch", "transformers", "peft", "tokenizers", "safetensors"):
    try:
        print(f"{name} {importlib.import_module(name).__version__}")
    except Exception as e:
        print(f"{name}: {e}")
import torch
print("torch CUDA", torch.version.cuda, "available:", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PY
record machine ok "$t"

# ---- 2. dependencies --------------------------------------------------------------------------------------------
t=$(date +%s)
cmake_args=()
deps_lib=""
if [ -n "$deps" ]; then
  if [ -f "$deps" ]; then
    rm -rf /tmp/r1-deps && tar -C /tmp -xJf "$deps" && deps=/tmp/r1-deps
  fi
  deps=$(cd "$deps" && pwd)
  deps_lib=$deps/usr/lib/x86_64-linux-gnu
  # pkg-config files say prefix=/usr: point them (and the absolute paths some hold) into the prefix.
  for pc in "$deps_lib"/pkgconfig/*.pc "$deps"/usr/share/pkgconfig/*.pc; do
    [ -f "$pc" ] && sed -i -E "s#(=[[:space:]]*|-I|-L)/usr(/|$)#\1$deps/usr\2#g" "$pc"
  done
  # The carried pkgconf, with its library (CMake would otherwise find it in the prefix, without the library).
  mkdir -p "$deps/bin"
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s exec %s "$@"\n' "$deps_lib" "$deps/usr/bin/pkgconf" > "$deps/bin/pkg-config"
  chmod +x "$deps/bin/pkg-config"
  export PKG_CONFIG_PATH="$deps_lib/pkgconfig:$deps/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  # -I (searched before every -isystem directory): the prefix's headers win over same-named ones that LibTorch's
  # include directory may bundle (fmt: r1 links the prefix's libfmt, whose headers must match it).
  cmake_args+=("-DPKG_CONFIG_EXECUTABLE=$deps/bin/pkg-config" "-DICU_ROOT=$deps/usr" "-DCMAKE_CXX_FLAGS=-I$deps/usr/include")
  echo "deps: $(wc -l < "$deps/PACKAGES") Debian packages in $deps ($(du -sh "$deps" | cut -f1))"
  # Debian 12's libraries need glibc >= 2.34 and GLIBCXX_3.4.30 (GCC 12's libstdc++): say so before building.
  libstdcxx=$(readlink -f "$(g++ -print-file-name=libstdc++.so.6 2>/dev/null)")
  grep -q GLIBCXX_3.4.30 "$libstdcxx" 2>/dev/null || echo "warning: $libstdcxx lacks GLIBCXX_3.4.30"
fi
torch_prefix=${TORCH_PREFIX:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')}
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
if ! command -v nvcc > /dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi
record deps ok "$t" "${deps:-system}, LibTorch from $torch_prefix"

# ---- 3. configure and build -------------------------------------------------------------------------------------
t=$(date +%s)
# RPATH (not RUNPATH): the prefix's libraries find theirs (libginac -> libcln) without LD_LIBRARY_PATH.
timeout "$(tl)" cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$torch_prefix${deps:+;$deps/usr}" -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
  -DCMAKE_EXE_LINKER_FLAGS=-Wl,--disable-new-dtags "${cmake_args[@]}" > "$out/build.log" 2>&1
configured=$?
grep -E "Found|Torch|CUDA|CMake (Warning|Error)" "$out/build.log" | head -40
targets=(r1 test-gpu bench-train-step)
if [ $configured -ne 0 ]; then
  tail -40 "$out/build.log"
  record configure failed "$t"
elif [ -n "$prebuilt" ]; then
  record configure ok "$t"
  t=$(date +%s)
  tar -C "$build" -xJf "$prebuilt" && record build ok "$t" "prebuilt: $prebuilt" || record build failed "$t" "prebuilt"
else
  record configure ok "$t"
  t=$(date +%s)
  timeout "$(tl)" cmake --build "$build" -j "$jobs" --target "${targets[@]}" >> "$out/build.log" 2>&1
  built=$?
  note=""
  if [ $built -ne 0 ] && grep -q "FAILED: .*sdpa-attention" "$out/build.log" && [ "$(left)" -gt 60 ]; then
    # This LibTorch rejects the fused attention's call: build without it (explicit attention), and say so.
    grep -A12 "sdpa-attention.cpp.*error" "$out/build.log" | head -40
    echo "the fused attention does not compile against this LibTorch: rebuilding with R1_NO_FUSED_ATTENTION"
    sed -i '1i #define R1_NO_FUSED_ATTENTION 1' "$root/src/model/sdpa-attention.cpp"
    timeout "$(tl)" cmake --build "$build" -j "$jobs" --target "${targets[@]}" >> "$out/build.log" 2>&1
    built=$?
    note="fused attention compiled out"
  fi
  echo "compiler warnings: $(grep -c "warning:" "$out/build.log")"
  if [ $built -ne 0 ]; then
    grep -A8 -E "error:|FAILED:|undefined reference" "$out/build.log" | head -150
    record build failed "$t"
  else
    record build ok "$t" "$note"
    (cd "$build" && tar -cf - r1 tests/test-gpu bench-train-step | xz -T0 -1 > "$out/binaries.tar.xz")
  fi
  # A long build log (LibTorch's deprecation warnings) keeps its end.
  if [ "$(stat -c %s "$out/build.log")" -gt 8000000 ]; then
    tail -c 8000000 "$out/build.log" > "$out/build.tail" && mv "$out/build.tail" "$out/build.log"
  fi
fi
ready=0
[ -x "$build/r1" ] && [ -x "$build/tests/test-gpu" ] && ready=1
if [ $ready = 1 ]; then
  ldd "$build/r1" | grep -E "not found|${deps:-r1-deps}" | sed "s/ (0x.*//"
  # The binaries find the prefix's libraries through their RPATH; where they do not, everything runs with it on
  # LD_LIBRARY_PATH (Python too, which may then see the prefix's OpenSSL: said so here).
  if ! "$build/r1" --version > /dev/null 2>&1 && [ -n "$deps_lib" ]; then
    echo "r1 does not start by its RPATH alone: exporting LD_LIBRARY_PATH=$deps_lib"
    export LD_LIBRARY_PATH="$deps_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  "$build/r1" --version || ready=0
fi

# ---- 4. ctest -L gpu --------------------------------------------------------------------------------------------
if [ $ready = 1 ] && want ctest; then
  t=$(date +%s)
  (cd "$build" && timeout "$(tl)" ctest -L gpu -V --timeout 300) > "$out/ctest.log" 2>&1
  status=$?
  grep -E "^[0-9]+: \[  |tests passed|Test +#|bf16|Failure|Expected|Which is|error" "$out/ctest.log" | head -80
  record ctest "$([ $status = 0 ] && echo ok || echo failed)" "$t"
fi

# ---- 5. parity with transformers and peft -----------------------------------------------------------------------
if [ $ready = 1 ] && want parity; then
  t=$(date +%s)
  timeout "$(tl)" python3 "$root/tests/reference/gpu-parity.py" --r1 "$build/r1" \
    --test-gpu "$build/tests/test-gpu" --work /tmp/r1-parity --out "$out/parity.json"
  status=$?
  record parity "$([ $status = 0 ] && echo ok || echo failed)" "$t"
fi

# ---- 6. numbers -------------------------------------------------------------------------------------------------
if [ $ready = 1 ] && want bench; then
  t=$(date +%s)
  timeout "$(tl)" bash "$root/scripts/gpu/bench.sh" "$build" "$out/bench.json" /tmp/r1-gpu-bench
  status=$?
  record bench "$([ $status = 0 ] && echo ok || echo failed)" "$t"
fi

echo "== gpu-check done in $(elapsed) s"
cat "$summary"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if all(v["status"]=="ok" for v in s.values()) else 1)' "$summary"
