#!/usr/bin/env bash
# Near-duplicate removal and decontamination: r1 vs plain Python (bench/dedup-reference.py: datasketch +
# text-dedup's MinHash-LSH with the same verification, and open-r1's decontaminate.py functions) on the same
# generated corpora, same machine, same run. r1 runs with 1 thread and with every thread; Python is one process
# (datasketch and open-r1's script without num_proc). Wall and CPU seconds of each whole command (start-up,
# reading, writing included), documents per second and the ratios; the outputs are compared (dedup: the planted
# copies each side removed, from DIR/dedup-truth.json; decontamination: the written files must be identical).
#   bench/dedup.sh [DOCS] [ROWS]   (defaults 20000 dedup documents, 100000 decontamination rows; needs
#                                   `make build` and python3 with NumPy: Debian's python3-numpy)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
r1=${R1:-$root/build/r1}
python=${PYTHON:-/usr/bin/python3}
docs=${1:-20000}
rows=${2:-100000}
work=${WORK:-/tmp/r1-bench-dedup}/$docs-$rows
mkdir -p "$work"
"$python" -c "import numpy" 2>/dev/null || { echo "dedup.sh: $python has no NumPy (apt-get install python3-numpy)" >&2; exit 1; }
[ -f "$work/dedup-truth.json" ] || "$python" "$here/dedup-reference.py" corpus "$work" --docs "$docs" --rows "$rows"
threads=$(nproc)
# timed LABEL UNITS COMMAND...: runs the command (stdout kept in $work/last.out), then prints a table row:
# wall seconds, CPU seconds (user + system: what a loaded machine does not inflate), UNITS / wall second.
timed() {
  local label=$1 units=$2
  shift 2
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" > "$work/last.out"
  read -r wall user sys < "$work/time"
  cpu=$(echo "$user + $sys" | bc -l)
  printf '%-34s %8.2f %8.2f %12s\n' "$label" "$wall" "$cpu" "$("$python" -c "print(f'{$units / $wall:,.0f}')")"
  last_wall=$wall last_cpu=$cpu
}
ratios() {  # PEER_WALL PEER_CPU R1_WALL R1_CPU
  "$python" -c "print(f'    r1 vs Python: {$1 / $3:.1f}x wall, {$2 / $4:.1f}x CPU')"
}

echo "== dedup: $docs documents ($(du -h "$work/dedup.jsonl" | cut -f1)), threshold 0.7, 128 permutations, word 5-grams"
printf '%-34s %8s %8s %12s\n' tool "wall s" "CPU s" "docs/s"
timed "Python (datasketch's algorithm)" "$docs" "$python" "$here/dedup-reference.py" dedup "$work/dedup.jsonl" "$work/py-dedup.jsonl"
py_wall=$last_wall py_cpu=$last_cpu
timed "r1, 1 thread" "$docs" "$r1" --threads 1 data dedup --input "$work/dedup.jsonl" --output "$work/r1-dedup-1.jsonl" --overwrite --quiet
ratios "$py_wall" "$py_cpu" "$last_wall" "$last_cpu"
timed "r1, $threads threads" "$docs" "$r1" --threads "$threads" data dedup --input "$work/dedup.jsonl" --output "$work/r1-dedup.jsonl" --overwrite --quiet
ratios "$py_wall" "$py_cpu" "$last_wall" "$last_cpu"
sed 's/^/    /' "$work/last.out"
cmp -s "$work/r1-dedup-1.jsonl" "$work/r1-dedup.jsonl" || echo "r1's output DIFFERS between 1 and $threads threads"
"$python" "$here/dedup-reference.py" compare "$work" "$work/r1-dedup.jsonl" "$work/py-dedup.jsonl"

echo "== decontaminate: $rows rows ($(du -h "$work/train.jsonl" | cut -f1)) against 2 benchmarks (30 + 500 problems), 8-grams, drop"
printf '%-34s %8s %8s %12s\n' tool "wall s" "CPU s" "rows/s"
timed "Python (open-r1's functions)" "$rows" "$python" "$here/dedup-reference.py" decontaminate "$work/train.jsonl" \
  "$work/py-clean.jsonl" "$work/bench-a.jsonl" "$work/bench-b.jsonl"
py_wall=$last_wall py_cpu=$last_cpu
timed "r1, 1 thread" "$rows" "$r1" --threads 1 data decontaminate --input "$work/train.jsonl" \
  --output "$work/r1-clean-1.jsonl" --benchmark "$work/bench-a.jsonl" "$work/bench-b.jsonl" --overwrite --quiet
ratios "$py_wall" "$py_cpu" "$last_wall" "$last_cpu"
timed "r1, $threads threads" "$rows" "$r1" --threads "$threads" data decontaminate --input "$work/train.jsonl" \
  --output "$work/r1-clean.jsonl" --benchmark "$work/bench-a.jsonl" "$work/bench-b.jsonl" --overwrite --quiet
ratios "$py_wall" "$py_cpu" "$last_wall" "$last_cpu"
head -1 "$work/last.out" | sed 's/^/    /'
if cmp -s "$work/r1-clean.jsonl" "$work/py-clean.jsonl" && cmp -s "$work/r1-clean-1.jsonl" "$work/r1-clean.jsonl"; then
  echo "outputs identical (r1 1 thread, r1 $threads threads, Python)"
else
  echo "OUTPUTS DIFFER: $work/r1-clean.jsonl vs $work/py-clean.jsonl"
fi
