#!/usr/bin/env bash
# One GRPO step, r1 vs PyTorch-Python in the same run (issue 8 item 6): G=8 completions for each of 8 prompts,
# exactly 128 completion tokens (the Python side ignores EOS; r1 stops at EOS, which a random-init 8192-token
# model samples with probability ~1/8192 per token: both mean lengths are printed), temperature 1, format-regex
# reward, beta 0.04 (the frozen reference forward counts), num_iterations 1, loss_type grpo, fp32, 2 threads,
# the same BLAS settings for both (bench/blas-env.sh), on the tiny config (recipes/models/tiny.json: vocab 8192, d 256, 4 layers, 4 heads /
# 2 kv heads, FFN 768, tied) with the same r1-written random weights. r1: `r1 grpo` (metrics.jsonl);
# Python: bench/grpo-reference.py. STEPS steps per run (the first warms up and is not counted), ROUNDS alternating
# rounds, the best step of each side.
#   bench/grpo-step.sh   (env STEPS=3 ROUNDS=2 R1=build/r1 WORK=/tmp/r1-bench-grpo)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
r1=${R1:-$root/build/r1}
work=${WORK:-/tmp/r1-bench-grpo}
steps=${STEPS:-3}
rounds=${ROUNDS:-2}
. "$here/blas-env.sh"
mkdir -p "$work"
[ -f "$work/model/model.safetensors" ] ||
  "$r1" --seed 42 model init --config "$root/recipes/models/tiny.json" --out "$work/model" --overwrite >/dev/null
[ -f "$work/corpus.txt" ] || "$here/make-corpus.sh" "$work/corpus.txt" 5 >/dev/null
[ -f "$work/tokenizer/tokenizer.json" ] || "$r1" tokenizer train --input "$work/corpus.txt" --out "$work/tokenizer" \
  --vocab-size 8192 --special-tokens '<unk>,<s>,</s>' --bos-token '<s>' --eos-token '</s>' --pad-token '<unk>' >/dev/null
cp "$work"/tokenizer/tokenizer*.json "$work/model/"
: > "$work/prompts.jsonl"; : > "$work/prompt-ids.txt"
for i in 1 2 3 4 5 6 7 8; do
  text="Question $i: what is the sum of $((10 + i)) and $((40 + i))? Think first, then give the answer."
  printf '{"prompt": "%s"}\n' "$text" >> "$work/prompts.jsonl"
  "$r1" tokenizer encode --tokenizer "$work/model" --text "$text" | tr ' ' ',' >> "$work/prompt-ids.txt"
done
cat > "$work/grpo.yaml" <<YAML
model_name_or_path: $work/model
dataset_name: $work/prompts.jsonl
dataset_prompt_column: prompt
output_dir: $work/r1-out
overwrite_output_dir: true
chat_template: none
reward_funcs: [format]
num_generations: 8
per_device_train_batch_size: 64
gradient_accumulation_steps: 1
max_prompt_length: 128
max_completion_length: 128
temperature: 1.0
beta: 0.04
epsilon: 0.2
num_iterations: 1
loss_type: grpo
learning_rate: 1.0e-5
lr_scheduler_type: constant
max_steps: $steps
logging_steps: 1
save_steps: 100000
seed: 0
YAML
# the best step of a run after the first (warm-up): "total sampling scoring learning mean_length". r1's step is
# the difference of its cumulative `elapsed` and learning = step - sampling - scoring (its own time/learning covers
# the reference forward, forwards, backward, clipping and AdamW, and agrees within a few ms); Python's timers cover
# the whole step.
best() { /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if "time/sampling" in l]
for prev, r in zip(rows, rows[1:]):
    if "elapsed" in r: r["time/learning"] = r["elapsed"] - prev["elapsed"] - r["time/sampling"] - r["time/scoring"]
total = lambda r: r["time/sampling"] + r["time/scoring"] + r["time/learning"]
r = min(rows[1:], key=total)
print(total(r), r["time/sampling"], r["time/scoring"], r["time/learning"], r["completions/mean_length"])'; }
py_best="" r1_best=""
keep() { if [ -z "$1" ] || [ "$(echo "$2" | cut -d' ' -f1 | awk -v b="$(echo "$1" | cut -d' ' -f1)" '{print ($1 < b)}')" = 1 ]; then echo "$2"; else echo "$1"; fi; }
for round in $(seq "$rounds"); do
  p=$(/usr/bin/python3 "$here/grpo-reference.py" "$work/model" "$work/prompt-ids.txt" --steps "$steps" --threads 2 | best)
  "$r1" --threads 2 grpo --config "$work/grpo.yaml" >"$work/r1.log" 2>&1 || { cat "$work/r1.log"; exit 1; }
  r=$(best < "$work/r1-out/metrics.jsonl")
  echo "round $round: PyTorch $p | r1 $r (total sampling scoring learning mean_length, s)"
  py_best=$(keep "$py_best" "$p"); r1_best=$(keep "$r1_best" "$r")
done
prompt_len=$(awk -F, '{print NF}' "$work/prompt-ids.txt" | sort -n | head -1)
echo "prompt tokens: $(awk -F, '{print NF}' "$work/prompt-ids.txt" | sort -n | uniq | tr '\n' ' ')(Python keeps the last $prompt_len)"
/usr/bin/python3 - "$py_best" "$r1_best" <<'PY'
import sys
py, r1 = ([float(x) for x in s.split()] for s in sys.argv[1:])
print("| side | step s | sampling s | scoring s | learning s | mean completion length |")
print("| --- | --- | --- | --- | --- | --- |")
for name, v in (("PyTorch-Python", py), ("r1", r1)):
    print(f"| {name} | {v[0]:.2f} | {v[1]:.2f} | {v[2]:.3f} | {v[3]:.2f} | {v[4]:.1f} |")
print(f"| r1 / PyTorch speed-up | {py[0] / r1[0]:.2f}x | {py[1] / r1[1]:.2f}x | | {py[3] / r1[3]:.2f}x | |")
PY
uptime
