#!/usr/bin/env bash
# Greedy decode throughput of the tiny model (recipes/models/tiny.json: vocab 8192, d256, 4 layers, 4 heads,
# 2 kv heads), r1's engine (`r1 generate`, its generation phase: prefill + decode of one wave of B prompts)
# vs a KV-cache greedy decode loop in PyTorch-Python (bench/decode-reference.py) on the same r1-written
# weights and prompt ids, 2 threads, the same BLAS settings for both (bench/blas-env.sh), in
# fp32 and in bf16 (both sides convert the fp32 weights). Best of REPS runs each, alternating the two sides
# (the reference machine is shared). The last column checks that row 0's greedy text is the same.
#   bench/decode.sh [BATCHES...]   (default 1 16 64; env NEW_TOKENS=128 REPS=3 DTYPES="float32 bfloat16")
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
r1=${R1:-$root/build/r1}
work=${WORK:-/tmp/r1-bench-decode}
new=${NEW_TOKENS:-128}
reps=${REPS:-3}
dtypes=${DTYPES:-float32 bfloat16}
batches=${*:-1 16 64}
. "$here/blas-env.sh"
mkdir -p "$work"
"$r1" --seed 42 model init --config "$root/recipes/models/tiny.json" --out "$work/model" --overwrite >/dev/null
[ -f "$work/corpus.txt" ] || "$here/make-corpus.sh" "$work/corpus.txt" 5 >/dev/null
[ -f "$work/tokenizer/tokenizer.json" ] || "$r1" tokenizer train --input "$work/corpus.txt" --out "$work/tokenizer" \
  --vocab-size 8192 --special-tokens '<unk>,<s>,</s>' --bos-token '<s>' --eos-token '</s>' --pad-token '<unk>' >/dev/null
cp "$work"/tokenizer/tokenizer*.json "$work/model/"
text="The quick brown fox jumps over the lazy dog, and then"
ids=$("$r1" tokenizer encode --tokenizer "$work/model" --text "$text" | tr ' ' ',')
max() { printf '%s\n' "$@" | sort -g | tail -1; }
printf '%-9s %-6s %14s %14s %8s  %s\n' dtype batch "PyTorch tok/s" "r1 tok/s" "r1 vs PT" "same text"
for dtype in $dtypes; do
  for b in $batches; do
    rows="$work/prompts-$b.jsonl"
    : > "$rows"
    for _ in $(seq "$b"); do printf '{"prompt": "%s"}\n' "$text" >> "$rows"; done
    pt=() r1r=()
    for _ in $(seq "$reps"); do
      read -r pt_tokens pt_s pt_ids < <(/usr/bin/python3 "$here/decode-reference.py" "$work/model" "$b" "$new" "$ids" "$dtype")
      pt+=("$(echo "$pt_tokens / $pt_s" | bc -l)")
      out=$("$r1" --threads 2 generate --model "$work/model" --input "$rows" --output "$work/out-$b.jsonl" --overwrite \
        --chat-template none --temperature 0 --ignore-eos --max-new-tokens "$new" --batch-size "$b" --max-seq-len 512 \
        --dtype "$dtype" --quiet)
      r1r+=("$(echo "$out" | sed -n 's/.* \([0-9.]*\) tokens\/s.*/\1/p')")
    done
    pt_best=$(max "${pt[@]}") r1_best=$(max "${r1r[@]}")
    want=$("$r1" tokenizer decode --tokenizer "$work/model" --skip-special-tokens --ids "$(echo "$pt_ids" | tr ',' ' ')")
    got=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["generation"])' "$work/out-$b.jsonl")
    same=no; [ "$want" = "$got" ] && same=yes
    printf '%-9s %-6s %14.0f %14.0f %7.2fx  %s\n' "$dtype" "$b" "$pt_best" "$r1_best" "$(echo "$r1_best / $pt_best" | bc -l)" "$same"
  done
done
