#!/usr/bin/env bash
# Prepares and checks the Python environment for the Math-Verify reference oracle.
#   tests/reference/math-verify/setup.sh MATH_VERIFY_TREE LATEX2SYMPY_TREE [--tests]
# The trees are exported sources (README.md says which commits and how to get them). This script
#  1. checks Debian's /usr/bin/python3 has sympy and antlr4 (scripts/install-deps.sh --reference installs them);
#  2. generates latex2sympy2_extended's ANTLR 4.9.3 parser into LATEX2SYMPY_TREE/src/latex2sympy2_extended/gen/
#     with the tree's own antlr-4.9.3-complete.jar (needs java; skipped when already there);
#  3. writes LATEX2SYMPY_TREE/.r1-antlr-shim, a dist-info naming the runtime 4.9.3: Debian ships runtime 4.9.1,
#     whose serialized ATN is the 4.9 format the 4.9.3 tool writes, but latex2sympy2_extended only accepts
#     version strings 4.9.3, 4.11 or 4.13.2;
#  4. parses and verifies one pair, and with --tests runs both projects' own test suites (needs python3-pytest).
# It prints the two export lines the other scripts read.
set -euo pipefail
PY=/usr/bin/python3
[[ $# -ge 2 ]] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
mv=$(cd "$1" && pwd); l2s=$(cd "$2" && pwd); run_tests=0
[[ "${3:-}" == "--tests" ]] && run_tests=1
[[ -f "$mv/src/math_verify/__init__.py" ]] || { echo "setup.sh: $mv is not a Math-Verify tree" >&2; exit 1; }
[[ -f "$l2s/src/latex2sympy2_extended/PS.g4" ]] || { echo "setup.sh: $l2s is not a latex2sympy2_extended tree" >&2; exit 1; }

$PY -c 'import sympy, antlr4' 2>/dev/null ||
  { echo "setup.sh: $PY lacks sympy or antlr4: scripts/install-deps.sh --reference" >&2; exit 1; }

gen="$l2s/src/latex2sympy2_extended/gen/antlr4_9_3"
if [[ ! -f "$gen/PSParser.py" ]]; then
  command -v java >/dev/null || { echo "setup.sh: java is needed once to generate the ANTLR parser" >&2; exit 1; }
  (cd "$l2s/src/latex2sympy2_extended" && java -jar ../../antlr-4.9.3-complete.jar PS.g4 -o gen/antlr4_9_3)
  echo "setup.sh: generated $gen"
fi

shim="$l2s/.r1-antlr-shim/antlr4_python3_runtime-4.9.3.dist-info"
mkdir -p "$shim"
printf 'Metadata-Version: 2.1\nName: antlr4-python3-runtime\nVersion: 4.9.3\n' > "$shim/METADATA"

export MATH_VERIFY_SRC="$mv" LATEX2SYMPY_SRC="$l2s"
here=$(cd "$(dirname "$0")" && pwd)
$PY - <<PYEOF
import sys; sys.path.insert(0, "$here")
import mvenv
print("versions:", mvenv.activate("$mv", "$l2s"))
for name, fn in mvenv.presets().items():
    g, p, ok, extra = fn(r"\frac{1}{2}", r"<think>so 0.5</think> The answer is \$\boxed{0.5}\$.")
    assert ok, (name, g, p)
    print(f"{name}: gold {g} pred {p} -> {ok}")
PYEOF

if [[ $run_tests -eq 1 ]]; then
  export PYTHONPATH="$l2s/.r1-antlr-shim:$mv/src:$l2s/src"
  (cd "$mv" && $PY -m pytest -q -p no:cacheprovider tests | tail -1)
  (cd "$l2s" && $PY -m pytest -q -p no:cacheprovider tests | tail -1)
fi
echo "export MATH_VERIFY_SRC=$mv LATEX2SYMPY_SRC=$l2s"
