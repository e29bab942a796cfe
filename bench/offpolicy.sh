#!/usr/bin/env bash
# Off-policy correction on the R1-Zero demo's addition task (issue 21 item 5): GRPO from the demo's pretrained base
# with the demo's settings (as bench/dynamic-sampling.sh) for STEPS steps, where the sampler (r1's engine) and the
# learner differ: (a) bf16 — the engine samples in bf16, the learner runs under bf16 autocast — with TRL's default
# sequence_mask and with token_mask (C_min 0.5, C_max 2); (b) fp32 with top_p 0.9, where the sampler's
# distribution is the truncated, renormalised one — token_truncate against no correction. Reported per run: the
# means over steps of sampling/importance_sampling_ratio/{min,mean,max}, sampling/sampling_logp_difference/max,
# sampling/is_masked_fraction, the final training reward and s/step.
#   bench/offpolicy.sh   (env STEPS=10 THREADS=2 SEED=0 R1=build/r1 WORK=/tmp/r1-bench-rl)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
r1=${R1:-$root/build/r1}
work=${WORK:-/tmp/r1-bench-rl}
steps=${STEPS:-10}
threads=${THREADS:-2}
seed=${SEED:-0}
. "$here/blas-env.sh"
mkdir -p "$work"
demo=$work/demo
system_prompt='Think in <think> </think>, then answer in <answer> </answer>.'  # DemoOptions::system_prompt
if [ ! -f "$demo/base/model.safetensors" ] || [ ! -f "$demo/task/test.jsonl" ]; then
  echo "preparing the demo's base model in $demo (r1 demo --grpo-steps 1; minutes, once)"
  "$r1" --threads "$threads" demo --out "$demo" --seed "$seed" --grpo-steps 1 >"$work/demo.log" 2>&1 ||
    { tail -30 "$work/demo.log"; exit 1; }
fi
recipe() {
  cat <<YAML
model_name_or_path: $demo/base
dataset_name: $demo/task
output_dir: $work/$1
overwrite_output_dir: true
system_prompt: "$system_prompt"
reward_funcs: [accuracy, format]
reward_kwargs: {accuracy: {preset: math-verify}}
max_prompt_length: 128
max_completion_length: 96
temperature: 1.0
num_generations: 8
num_iterations: 2
per_device_train_batch_size: 64
learning_rate: 5.0e-4
lr_scheduler_type: linear
beta: 0
max_steps: $steps
logging_steps: 1
save_steps: 100000
seed: $seed
YAML
}
runs=(op-bf16-seqmask op-bf16-tokmask op-topp-none op-topp-trunc)
{ recipe op-bf16-seqmask; printf 'bf16: true\nvllm_importance_sampling_correction: true\n'; } >"$work/op-bf16-seqmask.yaml"
{ recipe op-bf16-tokmask; printf 'bf16: true\nvllm_importance_sampling_correction: true\n'
  printf 'vllm_importance_sampling_mode: token_mask\nvllm_importance_sampling_clip_min: 0.5\nvllm_importance_sampling_clip_max: 2\n'; } \
  >"$work/op-bf16-tokmask.yaml"
{ recipe op-topp-none; printf 'top_p: 0.9\n'; } >"$work/op-topp-none.yaml"
{ recipe op-topp-trunc; printf 'top_p: 0.9\nvllm_importance_sampling_correction: true\nvllm_importance_sampling_mode: token_truncate\n'; } \
  >"$work/op-topp-trunc.yaml"
for m in "${runs[@]}"; do
  "$r1" --threads "$threads" grpo --config "$work/$m.yaml" >"$work/$m.log" 2>&1 || { tail -30 "$work/$m.log"; exit 1; }
done
/usr/bin/python3 - "$work" "${runs[@]}" <<'PY'
import json, sys
work, runs = sys.argv[1], sys.argv[2:]
keys = ["sampling/importance_sampling_ratio/min", "sampling/importance_sampling_ratio/mean",
        "sampling/importance_sampling_ratio/max", "sampling/sampling_logp_difference/max", "sampling/is_masked_fraction"]
print("| run | ratio min | ratio mean | ratio max | max abs logp diff | masked fraction | reward (last step) | s/step |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for m in runs:
    rows = [json.loads(l) for l in open(f"{work}/{m}/metrics.jsonl")]
    rows = [r for r in rows if "loss" in r]
    def mean(k):
        v = [r[k] for r in rows if r.get(k) is not None]
        return f"{sum(v) / len(v):.4f}" if v else "-"
    gens = [r for r in rows if "reward" in r]
    sps = sum(r.get("time/sampling", 0) + r.get("time/scoring", 0) + r["time/learning"] for r in rows) / len(rows)
    print(f"| {m} | " + " | ".join(mean(k) for k in keys) + f" | {gens[-1]['reward']:.3f} | {sps:.2f} |")
PY
uptime
