#!/usr/bin/env bash
# Quality filtering: `r1 data filter` vs plain Python (bench/filter-reference.py: datatrove's GopherRepetition,
# GopherQuality, C4Quality and FineWebQuality rules with their defaults, words and sentences split as r1 splits
# them) on the same generated corpus, same machine, same run. The language filter is off on both sides (r1's is
# CLD2, datatrove's fastText; neither is in the Python here). r1 runs with 1 thread and with every thread; Python is
# one process (datatrove runs one process per task). Both write the kept documents and one reason per dropped
# document (r1: --explain FILE.jsonl). Wall and CPU seconds of each whole command (start-up, reading, writing
# included), documents per second and the ratios; then the verdicts are compared document by document (same
# keep/drop, same rule, same kept text after C4's line removal).
# Exits non-zero when the two sides disagree on a document.
#   bench/filter.sh [MB]   (default 30 MB of JSONL, ~20,000 documents; needs `make build`, GNU time as
#                           /usr/bin/time (Debian's time) and python3: Debian's /usr/bin/python3, standard library)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
r1=${R1:-$root/build/r1}
python=${PYTHON:-/usr/bin/python3}
mb=${1:-30}
work=${WORK:-/tmp/r1-bench-filter}/$mb
mkdir -p "$work"
corpus=$work/corpus.jsonl
[ -f "$corpus" ] || "$python" "$here/filter-reference.py" corpus "$corpus" --mb "$mb"
docs=$(wc -l < "$corpus")
threads=$(nproc)
filters=gopher-repetition,gopher-quality,c4,fineweb
# timed LABEL COMMAND...: runs the command (stdout kept in $work/last.out), then prints a table row: wall seconds,
# CPU seconds (user + system: what a loaded machine does not inflate), documents / wall second.
timed() {
  local label=$1
  shift
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" > "$work/last.out"
  read -r wall user sys < "$work/time"
  cpu=$("$python" -c "print($user + $sys)")
  printf '%-34s %8.2f %8.2f %12s\n' "$label" "$wall" "$cpu" "$("$python" -c "print(f'{$docs / $wall:,.0f}')")"
  last_wall=$wall last_cpu=$cpu
}
ratios() {  # PEER_WALL PEER_CPU R1_WALL R1_CPU
  "$python" -c "print(f'    r1 vs Python: {$1 / $3:.1f}x wall, {$2 / $4:.1f}x CPU')"
}
echo "== filter: $docs documents ($(du -h "$corpus" | cut -f1)), filters $filters (datatrove's defaults)"
printf '%-34s %8s %8s %12s\n' tool "wall s" "CPU s" "docs/s"
timed "Python (datatrove's rules)" "$python" "$here/filter-reference.py" filter "$corpus" "$work/py-kept.jsonl" \
  "$work/py-why.jsonl"
py_wall=$last_wall py_cpu=$last_cpu
timed "r1, 1 thread" "$r1" --threads 1 data filter --input "$corpus" --output "$work/r1-kept-1.jsonl" \
  --explain "$work/r1-why-1.jsonl" --filters "$filters" --overwrite --quiet
ratios "$py_wall" "$py_cpu" "$last_wall" "$last_cpu"
timed "r1, $threads threads" "$r1" --threads "$threads" data filter --input "$corpus" --output "$work/r1-kept.jsonl" \
  --explain "$work/r1-why.jsonl" --filters "$filters" --overwrite --quiet
ratios "$py_wall" "$py_cpu" "$last_wall" "$last_cpu"
grep -E '^(read|c4 lines removed)' "$work/last.out" | sed 's/^/    /'
cmp -s "$work/r1-kept-1.jsonl" "$work/r1-kept.jsonl" && cmp -s "$work/r1-why-1.jsonl" "$work/r1-why.jsonl" ||
  echo "r1's outputs DIFFER between 1 and $threads threads"
"$python" "$here/filter-reference.py" compare "$corpus" "$work/r1-kept.jsonl" "$work/r1-why.jsonl" \
  "$work/py-kept.jsonl" "$work/py-why.jsonl"
