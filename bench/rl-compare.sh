#!/usr/bin/env bash
# GRPO vs PPO on the R1-Zero demo's addition task (issue 20 item 5): both from the demo's pretrained base model, on
# its task/train.jsonl, for the same number of optimizer steps (STEPS) over the same number of completions per
# step, with the demo's GRPO settings (src/pipeline/demo.cpp demo_grpo_options; recipes/grpo-demo.yaml): lr 5e-4
# decaying linearly to 0, temperature 1, 96 completion tokens, 128 prompt tokens, rewards accuracy (math-verify) +
# format, KL coefficient BETA (the demo's 0), the demo's system prompt and the tokenizer's chat template (chatml).
#   GRPO: 8 prompts x num_generations 8 = 64 completions per rollout, num_iterations 2 (per_device 64, accumulation 1)
#   PPO:  64 prompts x 1 completion per rollout, num_ppo_epochs 2, num_mini_batches 1 (per_device 64, accumulation 1)
# so each makes one rollout every 2 optimizer steps and each optimizer step learns from 64 completions. PPO's own
# keys (cliprange_value, vf_coef, gamma, kl_estimator, whiten_rewards, the value model: the policy's trunk with
# a fresh value head) keep TRL's defaults; kl_coef = BETA like GRPO's beta. PPO runs twice: with TRL's lam 0.95
# (`ppo`) and with verl's lam 1 (`ppo-lam1`: GAE then is the Monte-Carlo return minus V(s_t), which a fresh critic
# cannot bias).
# Reported per method: peak RSS of the whole training command (/usr/bin/time -v "Maximum resident set size"); time
# per optimizer step = mean of time/sampling + time/scoring + time/learning from output_dir/metrics.jsonl over the
# steps after the first rollout (steps 3..STEPS: whole rollout cycles, warm-up excluded), and the command's wall
# time / STEPS next to it (start-up and saving included); held-out pass@1 on the demo's task/test.jsonl (200
# problems) as the demo's evaluate_pass_at_1 computes it: `r1 eval gen`, 4 samples per problem at temperature 1,
# top-p 1, 96 new tokens, the same system prompt and chat template, Math-Verify answer checking. The base model is
# evaluated the same way.
# The base model comes from `r1 demo --out $WORK/demo --grpo-steps 1` (the demo's default sizes and seed: task,
# tokenizer, 3000 pretraining steps, ~5 min on 2 cores; its 1-step GRPO stage is not used), made once and reused.
# The PPO leg runs when `r1 ppo` is in the binary, and is skipped with a message otherwise.
#   bench/rl-compare.sh   (env STEPS=30 THREADS=2 BETA=0 SEED=0 R1=build/r1 WORK=/tmp/r1-bench-rl)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
r1=${R1:-$root/build/r1}
work=${WORK:-/tmp/r1-bench-rl}
steps=${STEPS:-30}
threads=${THREADS:-2}
beta=${BETA:-0}
seed=${SEED:-0}
. "$here/blas-env.sh"
mkdir -p "$work"
demo=$work/demo
system_prompt='Think in <think> </think>, then answer in <answer> </answer>.'  # DemoOptions::system_prompt
t_start=$(date +%s)

# 1. the demo's base model, task and tokenizer (cached)
if [ ! -f "$demo/base/model.safetensors" ] || [ ! -f "$demo/task/test.jsonl" ]; then
  echo "preparing the demo's base model in $demo (r1 demo --grpo-steps 1; minutes, once)"
  "$r1" --threads "$threads" demo --out "$demo" --seed "$seed" --grpo-steps 1 >"$work/demo.log" 2>&1 ||
    { tail -30 "$work/demo.log"; exit 1; }
fi

# 2. the two recipes: the keys both trainers share, then each one's own
common() {
  cat <<YAML
model_name_or_path: $demo/base
dataset_name: $demo/task/train.jsonl
dataset_prompt_column: problem
output_dir: $work/$1
overwrite_output_dir: true
chat_template: auto
system_prompt: "$system_prompt"
reward_funcs: [accuracy, format]
reward_kwargs: {accuracy: {preset: math-verify}}
reward_weights: [1.0, 1.0]
max_prompt_length: 128
temperature: 1.0
per_device_train_batch_size: 64
gradient_accumulation_steps: 1
learning_rate: 5.0e-4
lr_scheduler_type: linear
max_steps: $steps
logging_steps: 1
save_steps: 100000
seed: $seed
YAML
}
{ common grpo; cat <<YAML; } >"$work/grpo.yaml"
num_generations: 8
num_iterations: 2
max_completion_length: 96
beta: $beta
epsilon: 0.2
loss_type: grpo
scale_rewards: group
YAML
ppo_keys() {
  { common "${1:-ppo}"; cat <<YAML; }
num_mini_batches: 1
num_ppo_epochs: 2
response_length: 96
kl_coef: $beta
cliprange: 0.2
gamma: 1.0
YAML
}
{ ppo_keys; echo "lam: 0.95"; } >"$work/ppo.yaml"
{ ppo_keys ppo-lam1; echo "lam: 1.0"; } >"$work/ppo-lam1.yaml"

# train NAME: r1 grpo|ppo --config $work/NAME.yaml under /usr/bin/time -v; writes $work/NAME.time and NAME.wall
train() {
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -v -o "$work/$1.time" "$r1" --threads "$threads" "${1%%-*}" --config "$work/$1.yaml" >"$work/$1.log" 2>&1 ||
    { tail -30 "$work/$1.log"; exit 1; }
  t1=$(date +%s.%N)
  echo "$t0 $t1" | awk '{printf "%.2f\n", $2 - $1}' >"$work/$1.wall"
  echo "$1: $(cat "$work/$1.wall") s wall"
}
# evaluate NAME MODEL_DIR: held-out pass@1 into $work/eval-NAME/results.json
evaluate() {
  "$r1" --threads "$threads" --seed "$seed" eval gen --task "$demo/task/test.jsonl" --task-type math \
    --model "$2" --template '{{problem}}' --chat-template auto --system-prompt "$system_prompt" -n 4 --temperature 1.0 \
    --top-p 1.0 --max-new-tokens 96 --batch-size 256 --verify-preset math-verify --quiet \
    --output-dir "$work/eval-$1" --overwrite >"$work/eval-$1.log" 2>&1 || { tail -30 "$work/eval-$1.log"; exit 1; }
}

methods="grpo"
# grep without -q: with pipefail, -q's early exit would fail r1's write of the rest of the help
if "$r1" ppo --help 2>&1 | grep num_ppo_epochs >/dev/null; then methods="grpo ppo ppo-lam1"
else echo "r1 ppo is not in this binary ($r1): the PPO leg is skipped"; fi
evaluate base "$demo/base"
for m in $methods; do
  train "$m"
  evaluate "$m" "$work/$m"
done

# 3. the table and the raw numbers
/usr/bin/python3 - "$work" "$steps" "$methods" <<'PY'
import json, re, sys
work, steps, methods = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
def pass1(name):
    m = json.load(open(f"{work}/eval-{name}/results.json"))["metrics"]["pass@1"]
    return m["value"], m["stderr"]
rows, raw = [], []
b, bse = pass1("base")
rows.append(("base (demo pretraining)", "—", "—", f"{b:.3f} ± {bse:.3f}"))
for m in methods:
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{work}/{m}.time").read()).group(1))
    wall = float(open(f"{work}/{m}.wall").read())
    metrics = [json.loads(l) for l in open(f"{work}/{m}/metrics.jsonl") if "time/learning" in l]
    # a step without a rollout logs time/learning only: its sampling and scoring are 0
    timed = [r for r in metrics if r["step"] > 2] or metrics  # after the first rollout (2 steps)
    mean = lambda k: sum(r.get(k, 0.0) for r in timed) / len(timed)
    samp, score, learn = mean("time/sampling"), mean("time/scoring"), mean("time/learning")
    step = samp + score + learn
    el = [r for r in metrics if "elapsed" in r]  # cumulative training time, where the trainer logs it
    el_note = (f"; elapsed {(el[-1]['elapsed'] - el[1]['elapsed']) / (el[-1]['step'] - el[1]['step']):.4f} s/step "
               f"over the same steps" if len(el) > 2 and el[1]["step"] == 2 else "")
    p, pse = pass1(m)
    last = ([r for r in metrics if "reward" in r] or [{}])[-1]
    label = {"grpo": "GRPO", "ppo": "PPO (TRL's lam 0.95)", "ppo-lam1": "PPO (verl's lam 1)"}.get(m, m)
    rows.append((label, f"{rss_kb / 1024:.0f} MiB", f"{step:.3f} s", f"{p:.3f} ± {pse:.3f}"))
    raw.append(f"{m}: peak RSS {rss_kb} kB; {len(metrics)} steps logged, time/step {step:.4f} s over steps "
               f"{timed[0]['step']}..{timed[-1]['step']} (sampling {samp:.4f} + scoring {score:.4f} + learning "
               f"{learn:.4f}){el_note}; wall {wall:.2f} s = {wall / steps:.3f} s/step incl. start-up and saving; "
               f"last step: reward {last.get('reward', float('nan')):.3f}, accuracy "
               f"{last.get('rewards/accuracy/mean', float('nan')):.3f}, mean length "
               f"{last.get('completions/mean_length', float('nan')):.1f}; held-out pass@1 {p:.4f} (stderr {pse:.4f})")
print(f"\n{steps} optimizer steps each, 64 completions per step, one rollout per 2 steps\n")
print("| method | peak RSS | time/step | held-out pass@1 |")
print("| --- | --- | --- | --- |")
for r in rows: print("| " + " | ".join(r) + " |")
print(f"\nbase: held-out pass@1 {b:.4f} (stderr {bse:.4f})")
for line in raw: print(line)
try:
    d = json.load(open(f"{work}/demo/eval-base.json"))
    print(f"(the demo's own evaluate_pass_at_1 of the base model: {d['pass_at_1']:.4f})")
except OSError:
    pass
PY
echo "total $(($(date +%s) - t_start)) s; recipes, logs and results in $work"
uptime
