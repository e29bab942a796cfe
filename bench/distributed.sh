#!/usr/bin/env bash
# Data parallel on one machine: `r1 pretrain` as 1 process x N threads against N processes x 1 thread (`r1 launch`,
# Gloo on loopback), the same global batch (8 x N sequences of 256 tokens per optimizer step) and the same steps, in the
# same run, alternating rounds. Prints global tokens/s of each (the mean of metrics.jsonl's tokens_per_second after
# the first logged step), their ratio, and the all-reduce's share of a step on N ranks: time/allreduce_wait (seconds
# waiting after the backward for the gradient buckets, logged per step) over the step's wall time. Model: the tiny
# config of train-throughput.sh (d 256, 4 layers, vocab 8192) and GPT-2-small's shape (d 768, 12 layers).
#   bench/distributed.sh [STEPS] [ROUNDS]   (default 12 steps, 2 rounds; needs `make build`)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
r1=${R1:-$root/build/r1}
steps=${1:-12}
rounds=${2:-2}
ranks=$(nproc)
work=${WORK:-/tmp/r1-bench-distributed}
mkdir -p "$work"
[ -f "$work/corpus.txt" ] || "$here/make-corpus.sh" "$work/corpus.txt" 20 >/dev/null
[ -d "$work/tok" ] || "$r1" tokenizer train --input "$work/corpus.txt" --out "$work/tok" --vocab-size 8192 \
  --special-tokens '<|endoftext|>' --eos-token '<|endoftext|>' >/dev/null
[ -d "$work/data" ] || "$r1" data prepare --tokenizer "$work/tok" --input "$work/corpus.txt" --out "$work/data" >/dev/null

tiny='{model_type: llama, vocab_size: 8192, hidden_size: 256, intermediate_size: 768, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true}'
gpt2='{model_type: llama, vocab_size: 8192, hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 12, tie_word_embeddings: true}'

# run OUT CONFIG ACCUMULATION COMMAND...: one pretrain run of 4-sequence micro-batches (the global batch: 8 x ranks
# sequences, as 1 x (2 x ranks) micro-batches or ranks x 2)
run() {
  local out=$1 config=$2 accumulation=$3
  shift 3
  rm -rf "$out"
  "$@" pretrain --model_config "$config" --tokenizer_name_or_path "$work/tok" --dataset_name "$work/data" \
    --output_dir "$out" --max_length 256 --per_device_train_batch_size 4 --gradient_accumulation_steps "$accumulation" \
    --max_steps "$steps" --logging_steps 1 --save_strategy no --save_final_model false --learning_rate 1e-4 >/dev/null
}
# summary OUT: mean tokens/s and all-reduce share over the logged steps after the first
summary() {
  /usr/bin/python3 - "$1/metrics.jsonl" "$ranks" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][1:]
tps = sum(r["tokens_per_second"] for r in rows) / len(rows)
step = 8 * int(sys.argv[2]) * 256 / tps
wait = sum(r.get("time/allreduce_wait", 0.0) for r in rows) / len(rows)
print(f"{tps:.0f} {wait / step:.3f} {wait * 1000:.1f}")
PY
}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $ranks cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-12s %-28s %12s %14s %12s\n' model layout "tokens/s" "all-reduce %" "wait ms"
for model in tiny gpt2; do
  config=${!model}
  best1=0 bestn=0
  for round in $(seq "$rounds"); do
    run "$work/one" "$config" $((2 * ranks)) "$r1" --threads "$ranks"
    read -r tps1 _ _ <<< "$(summary "$work/one")"
    run "$work/many" "$config" 2 "$r1" launch --nproc-per-node "$ranks" --master-port $((29500 + RANDOM % 1000)) --
    read -r tpsn share wait <<< "$(summary "$work/many")"
    printf '%-12s %-28s %12s %14s %12s\n' "$model" "1 process x $ranks threads" "$tps1" - - "$model" \
      "$ranks processes x 1 thread" "$tpsn" "$(/usr/bin/python3 -c "print(f'{100 * $share:.1f}')")" "$wait"
    best1=$(/usr/bin/python3 -c "print(max($best1, $tps1))")
    bestn=$(/usr/bin/python3 -c "print(max($bestn, $tpsn))")
  done
  /usr/bin/python3 -c "print(f'  {\"$model\"}: best of $rounds rounds, $ranks x 1 / 1 x $ranks = {$bestn / $best1:.2f}x')"
done
