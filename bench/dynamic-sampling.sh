#!/usr/bin/env bash
# DAPO dynamic sampling on the R1-Zero demo's addition task (issue 21 item 4): GRPO from the demo's pretrained base
# model with the demo's settings (as bench/rl-compare.sh: lr 5e-4 decaying linearly to 0, temperature 1, 96
# completion / 128 prompt tokens, rewards accuracy (math-verify) + format, beta 0, 8 prompts x 8 generations per
# generation batch, num_iterations 2), for STEPS optimizer steps, once as is and once with `dynamic_sampling: true`
# (dynamic_sampling_metric reward, max_num_gen_batches 0: no cap). Both evaluate during training (eval_steps
# EVAL_STEPS) on the demo's held-out task/test.jsonl: eval/pass@1 over 4 samples per problem (MAX_EVAL problems),
# fixed sampling seeds, so the two curves differ only by the policy.
# Reported per run: the held-out pass@1 curve, the first step at which it reaches the plain run's final value (and
# the training time, sum of time/sampling + time/scoring + time/learning, up to that step), the final training
# reward, the mean generation rounds and dropped groups per generation batch.
#   bench/dynamic-sampling.sh   (env STEPS=30 EVAL_STEPS=2 MAX_EVAL=200 THREADS=2 SEED=0 R1=build/r1 WORK=/tmp/r1-bench-rl)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
r1=${R1:-$root/build/r1}
work=${WORK:-/tmp/r1-bench-rl}
steps=${STEPS:-30}
eval_steps=${EVAL_STEPS:-2}
max_eval=${MAX_EVAL:-200}
threads=${THREADS:-2}
seed=${SEED:-0}
. "$here/blas-env.sh"
mkdir -p "$work"
demo=$work/demo
system_prompt='Think in <think> </think>, then answer in <answer> </answer>.'  # DemoOptions::system_prompt
t_start=$(date +%s)

# 1. the demo's base model, task and tokenizer (cached; shared with bench/rl-compare.sh)
if [ ! -f "$demo/base/model.safetensors" ] || [ ! -f "$demo/task/test.jsonl" ]; then
  echo "preparing the demo's base model in $demo (r1 demo --grpo-steps 1; minutes, once)"
  "$r1" --threads "$threads" demo --out "$demo" --seed "$seed" --grpo-steps 1 >"$work/demo.log" 2>&1 ||
    { tail -30 "$work/demo.log"; exit 1; }
fi

# 2. the two recipes
recipe() {
  cat <<YAML
model_name_or_path: $demo/base
dataset_name: $demo/task
dataset_prompt_column: problem
output_dir: $work/$1
overwrite_output_dir: true
chat_template: auto
system_prompt: "$system_prompt"
reward_funcs: [accuracy, format]
reward_kwargs: {accuracy: {preset: math-verify}}
reward_weights: [1.0, 1.0]
max_prompt_length: 128
max_completion_length: 96
temperature: 1.0
num_generations: 8
num_iterations: 2
per_device_train_batch_size: 64
gradient_accumulation_steps: 1
learning_rate: 5.0e-4
lr_scheduler_type: linear
beta: 0
loss_type: grpo
scale_rewards: group
max_steps: $steps
logging_steps: 1
save_steps: 100000
seed: $seed
eval_steps: $eval_steps
num_generations_eval: 4
max_eval_samples: $max_eval
YAML
}
recipe ds-plain >"$work/ds-plain.yaml"
{ recipe ds-dynamic; printf 'dynamic_sampling: true\ndynamic_sampling_metric: reward\nmax_num_gen_batches: 0\n'; } \
  >"$work/ds-dynamic.yaml"
for m in ds-plain ds-dynamic; do
  t0=$(date +%s)
  "$r1" --threads "$threads" grpo --config "$work/$m.yaml" >"$work/$m.log" 2>&1 || { tail -30 "$work/$m.log"; exit 1; }
  echo "$m: $(($(date +%s) - t0)) s wall"
done

# 3. the numbers
/usr/bin/python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
def load(name):
    rows = [json.loads(l) for l in open(f"{work}/{name}/metrics.jsonl")]
    train = [r for r in rows if "loss" in r]
    evals = [r for r in rows if "eval_reward" in r]
    return train, evals
runs = {m: load(m) for m in ("ds-plain", "ds-dynamic")}
target = runs["ds-plain"][1][-1]["eval/pass@1"]
print(f"target: the plain run's final held-out pass@1 {target:.4f}")
print("| run | pass@1 at the first evaluation → final | first step reaching the target | training s to it | final training reward | "
      "rounds / batch | dropped groups / batch |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for m, (train, evals) in runs.items():
    step = next((e["step"] for e in evals if e["eval/pass@1"] >= target), None)
    t = sum(r.get("time/sampling", 0) + r.get("time/scoring", 0) + r.get("time/learning", 0)
            for r in train if step is not None and r["step"] <= step)
    gens = [r for r in train if "reward" in r]
    rounds = [r.get("dynamic_sampling/generation_rounds", 1) for r in gens]
    dropped = [r.get("dynamic_sampling/dropped_groups", 0) for r in gens]
    print(f"| {m} | {evals[0]['eval/pass@1']:.3f} → {evals[-1]['eval/pass@1']:.3f} | {step} | "
          f"{t:.1f} | {gens[-1]['reward']:.3f} | {sum(rounds) / len(rounds):.2f} | {sum(dropped) / len(dropped):.2f} |")
for m, (train, evals) in runs.items():
    print(m, "pass@1 curve:", " ".join(f"{e['step']}:{e['eval/pass@1']:.3f}" for e in evals))
    print(m, "zero-variance fraction per generation (plain) / dropped groups per generation batch (dynamic):",
          " ".join(f"{r.get('frac_reward_zero_std', 0):.2f}/{r.get('dynamic_sampling/dropped_groups', 0):.0f}"
                   for r in train if "reward" in r))
PY
echo "total $(($(date +%s) - t_start)) s; recipes, logs and results in $work"
uptime
