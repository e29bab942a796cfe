#!/usr/bin/env bash
# Math answer verification speed: `r1 verify --input` on a mixed batch (integers, decimals, fractions, radicals,
# symbolic expressions, sets, intervals, equations, matrices, percentages; right and wrong answers; bare and
# boxed inside a long reasoning text), with 1 thread and with every thread, in the same run; prints
# verifications per second and the ratio. No peer: Math-Verify (Python) is not installable offline here.
#   bench/verify-bench.sh [ROWS]   (default 4000)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
r1=${R1:-$root/build/r1}
work=${WORK:-/tmp/r1-bench-verify}
rows=${1:-4000}
mkdir -p "$work"
python3 - "$rows" > "$work/rows.jsonl" <<'PY'
import json, random, sys
random.seed(0)
pairs = [
    ("42", "42"), ("42", "41"), ("\\frac{1}{2}", "0.5"), ("\\frac{3}{4}", "\\frac{6}{8}"), ("\\frac{3}{4}", "0.7"),
    ("2\\sqrt{2}", "\\sqrt{8}"), ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}"), ("\\sqrt{5}", "2.236"),
    ("(x+1)^2", "x^2+2x+1"), ("(x+1)^2", "x^2+1"), ("\\frac{x^2-1}{x-1}", "x+1"), ("2\\pi", "\\pi \\cdot 2"),
    ("\\{1,2,3\\}", "\\{3,2,1\\}"), ("(1,2]", "(1,2]"), ("(1,2]", "[1,2]"), ("x+y=3", "y=3-x"), ("x > 2", "(2,\\infty)"),
    ("28\\%", "28"), ("7425000", "7,425,000"), ("3+4i", "4i+3"), ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}",
    "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"), ("5!", "120"), ("\\binom{6}{3}", "20"), ("2^{10}", "1024"),
]
filler = "Let us compute step by step. First we expand the expression and collect terms. " * 8
for i in range(int(sys.argv[1])):
    gold, pred = random.choice(pairs)
    style = i % 3
    completion = pred if style == 0 else f"{filler}Therefore the answer is $\\boxed{{{pred}}}$." if style == 1 \
        else f"<think>{filler}</think><answer>{pred}</answer>"
    print(json.dumps({"solution": f"The answer is $\\boxed{{{gold}}}$.", "completion": completion}))
PY
run() {  # threads -> verifications/s
  "$r1" verify --input "$work/rows.jsonl" --threads "$1" | tee /dev/stderr | sed -n 's/^\([0-9.]*\) verifications.*/\1/p'
}
one=$(run 1)
all=$(run "$(nproc)")
echo "1 thread: $one verifications/s; $(nproc) threads: $all verifications/s; speed-up $(python3 -c "print(f'{$all/$one:.2f}x')")"
