# Sourced by the benchmarks: both sides get the BLAS / OpenMP settings r1 runs with. OMP_WAIT_POLICY=PASSIVE
# (as r1 sets it); OPENBLAS_CORETYPE as the user set it, or else the kernels r1's policy chose for itself
# (include/r1/runtime.h), so PyTorch-Python is not left on kernels r1 replaced. Needs $r1 (the binary).
export OMP_WAIT_POLICY=PASSIVE
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  r1_core=$("$r1" --version | sed -n 's/.*OpenBLAS [0-9.]* (\([A-Za-z0-9]*\) kernels, chosen by r1.*/\1/p')
  if [ -n "$r1_core" ]; then export OPENBLAS_CORETYPE=$r1_core; fi
fi
echo "BLAS for both sides: $("$r1" --version | sed -n 's/.*BLAS: \(.*\), OMP_WAIT_POLICY.*/\1/p')"
