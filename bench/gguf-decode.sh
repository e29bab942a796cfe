#!/usr/bin/env bash
# Batch-1 greedy decode throughput of the same model in r1 (`r1 generate`, its generation phase: prefill + decode)
# and in llama.cpp (node-llama-cpp's prebuilt CPU build, bench/gguf-decode.mjs) on r1's GGUF export
# (`r1 model export-gguf`), the same threads for both. Model: recipes/models/tiny.json (vocab 8192, d256, 4 layers,
# 4 heads, 2 kv heads) with a BPE tokenizer trained on bench/make-corpus.sh text, as bench/decode.sh. Rows: r1 fp32
# vs llama.cpp f32 (same numbers: the texts must agree), r1 bf16 vs llama.cpp bf16 and q8_0. Best of REPS runs,
# alternating the sides. Needs node-llama-cpp: scripts/fetch-test-assets.sh build/test-assets.
#   bench/gguf-decode.sh   (env NEW_TOKENS=128 REPS=3 THREADS=2 ASSETS=build/test-assets)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
r1=${R1:-$root/build/r1}
work=${WORK:-/tmp/r1-bench-gguf}
new=${NEW_TOKENS:-128}
reps=${REPS:-3}
threads=${THREADS:-2}
assets=${ASSETS:-$root/build/test-assets}
[ -d "$assets/llama-cpp/node_modules/node-llama-cpp" ] || { echo "node-llama-cpp missing: scripts/fetch-test-assets.sh $assets" >&2; exit 1; }
. "$here/blas-env.sh"
mkdir -p "$work"
"$r1" --seed 42 model init --config "$root/recipes/models/tiny.json" --out "$work/model" --overwrite >/dev/null
[ -f "$work/corpus.txt" ] || "$here/make-corpus.sh" "$work/corpus.txt" 5 >/dev/null
[ -f "$work/tokenizer/tokenizer.json" ] || "$r1" tokenizer train --input "$work/corpus.txt" --out "$work/tokenizer" \
  --vocab-size 8192 --special-tokens '<unk>,<s>,</s>' --bos-token '<s>' --eos-token '</s>' --pad-token '<unk>' >/dev/null
cp "$work"/tokenizer/tokenizer*.json "$work/model/"
for t in f32 bf16 q8_0; do
  "$r1" model export-gguf "$work/model" --out "$work/model-$t.gguf" --outtype "$t" --overwrite >/dev/null
done
text="The quick brown fox jumps over the lazy dog, and then"
ids=$("$r1" tokenizer encode --tokenizer "$work/model" --text "$text" | tr ' ' ',')
printf '{"prompt": "%s"}\n' "$text" > "$work/prompts.jsonl"
max() { printf '%s\n' "$@" | sort -g | tail -1; }
printf '%-9s %-6s %14s %14s %12s  %s\n' "r1 dtype" gguf "r1 tok/s" "llama.cpp" "r1 vs cpp" "same text"
for pair in float32:f32 bfloat16:bf16 bfloat16:q8_0; do
  dtype=${pair%%:*} t=${pair##*:}
  r1r=() cpp=()
  for _ in $(seq "$reps"); do
    out=$("$r1" --threads "$threads" generate --model "$work/model" --input "$work/prompts.jsonl" \
      --output "$work/out.jsonl" --overwrite --chat-template none --temperature 0 --ignore-eos \
      --max-new-tokens "$new" --batch-size 1 --max-seq-len 512 --dtype "$dtype" --quiet)
    r1r+=("$(echo "$out" | sed -n 's/.* \([0-9.]*\) tokens\/s.*/\1/p')")
    read -r n s cpp_text < <(node "$here/gguf-decode.mjs" "$assets" "$work/model-$t.gguf" "$threads" "$new" "$ids")
    cpp+=("$(echo "$n / $s" | bc -l)")
  done
  got=$(/usr/bin/python3 -c 'import json,sys; print(json.dumps(json.loads(open(sys.argv[1]).readline())["generation"]))' "$work/out.jsonl")
  same=no; [ "$got" = "$cpp_text" ] && same=yes
  r1_best=$(max "${r1r[@]}") cpp_best=$(max "${cpp[@]}")
  printf '%-9s %-6s %14.0f %14.0f %11.2fx  %s\n' "$dtype" "$t" "$r1_best" "$cpp_best" "$(echo "$r1_best / $cpp_best" | bc -l)" "$same"
done
