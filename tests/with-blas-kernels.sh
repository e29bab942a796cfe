#!/usr/bin/env bash
# Runs a test command with OPENBLAS_CORETYPE=CORE, for the tests whose result must not depend on the BLAS kernels
# (exact on-policy log-probs). Exits 77 (CTest: skipped, with the reason) when this CPU cannot run CORE's kernels.
#   tests/with-blas-kernels.sh CORE COMMAND [ARGS...]
set -euo pipefail
core=$1
shift
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { [[ " $flags " == *" $1 "* ]]; }
case "$core" in
  Sandybridge) need=(avx) ;;
  Haswell) need=(avx2 fma) ;;
  SkylakeX) need=(avx512f avx512bw avx512vl avx512dq avx512cd) ;;
  *) echo "with-blas-kernels.sh: unknown kernel family '$core'" >&2; exit 2 ;;
esac
for f in "${need[@]}"; do
  if ! has "$f"; then
    echo "skipped: this CPU lacks $f, which OpenBLAS's $core kernels need"
    exit 77
  fi
done
export OPENBLAS_CORETYPE=$core
exec "$@"
