#!/usr/bin/env bash
# GPU numbers for bench/README.md (scripts/gpu-check.sh runs it after the build; any CUDA machine will do):
#   1. the bf16 GEMM ceiling through PyTorch (8192^3, 10 timed products after 3 warm-ups),
#   2. pretraining MFU: bench-train-step --device cuda --bf16 (the training step of `r1 pretrain`: forward, fused
#      LM head + fp32 cross-entropy, backward, global grad-norm clipping, AdamW; random tokens) on two shapes of the
#      Llama architecture, sequence 1024: GPT-2-small's (d 768, 12 layers, 12 heads, vocab 50304, tied; batch 16)
#      and Qwen2.5-0.5B's (d 896, 24 layers, 14 heads / 2 kv heads, intermediate 4864, vocab 151936, q/k/v biases,
#      tied; batch 8). MFU = FLOPs/token x tokens/s / 989.4 TFLOP/s (H200 SXM dense bf16, NVIDIA's datasheet), and
#      beside it the same over the measured GEMM ceiling; FLOPs/token = 6 x matmul parameters (LM head included) +
#      12 x layers x seq x d, as bench/train-throughput.sh,
#   3. `r1 --device cuda generate` greedy decode tokens/s: the 0.5B shape in bf16 (random weights, `r1 model init`),
#      128 new tokens after a 12-token prompt, batch 1 and 64.
# The GPT-2 step and batch-64 decode run again with R1_ATTENTION=explicit (matmul + softmax attention).
#   scripts/gpu/bench.sh BUILD OUT_JSON [WORK]   (BUILD holds r1 and bench-train-step; env STEPS=10 WARMUP=3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(realpath "${1:?usage: bench.sh BUILD OUT_JSON [WORK]}")
out_json=$(realpath -m "${2:?usage: bench.sh BUILD OUT_JSON [WORK]}")
work=${3:-/tmp/r1-gpu-bench}
r1=$build/r1
steps=${STEPS:-10}
warmup=${WARMUP:-3}
peak=989.4e12
rm -rf "$work" && mkdir -p "$work"
rows="$work/rows.jsonl"
: > "$rows"

echo "== bf16 GEMM ceiling (PyTorch, 8192^3)"
gemm=$(python3 - <<'PY'
import json, torch
if not torch.cuda.is_available():
    print(json.dumps({"gemm_bf16_tflops": None})); raise SystemExit
n = 8192
a, b = (torch.randn(n, n, device="cuda", dtype=torch.bfloat16) for _ in range(2))
for _ in range(3): a @ b
torch.cuda.synchronize()
start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
start.record()
for _ in range(10): a @ b
end.record(); torch.cuda.synchronize()
print(json.dumps({"gemm_bf16_tflops": 2 * n**3 * 10 / (start.elapsed_time(end) / 1e3) / 1e12,
                  "device": torch.cuda.get_device_name(0)}))
PY
)
echo "$gemm"

cat > "$work/gpt2-small.json" <<'JSON'
{"model_type": "llama", "vocab_size": 50304, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
 "num_attention_heads": 12, "num_key_value_heads": 12, "max_position_embeddings": 1024, "tie_word_embeddings": true}
JSON
cat > "$work/qwen-0.5b.json" <<'JSON'
{"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
 "num_attention_heads": 14, "num_key_value_heads": 2, "max_position_embeddings": 2048, "tie_word_embeddings": true,
 "rope_theta": 1000000.0}
JSON

# FLOPs per token of a config at sequence length T (the formula above).
flops_per_token() {
  python3 - "$1" "$2" <<'PY'
import json, sys
c, T = json.load(open(sys.argv[1])), int(sys.argv[2])
d, L, V, I = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"], c["intermediate_size"]
H, Hkv = c["num_attention_heads"], c["num_key_value_heads"]
D = d // H
per_layer = d * H * D + 2 * d * Hkv * D + H * D * d + 3 * d * I
print(6 * (L * per_layer + V * d) + 12 * L * T * d)
PY
}

train_step() {  # shape batch attention [extra flags]
  local name=$1 batch=$2 attention=$3 extra=${4:-}
  echo "== train step $name, batch $batch x 1024, bf16 autocast, $attention attention ${extra}"
  local env_attention=""
  [ "$attention" = explicit ] && env_attention=explicit
  local line
  line=$(R1_ATTENTION=$env_attention timeout 120 "$build/bench-train-step" --device cuda --bf16 \
    --config "$work/$name.json" --batch "$batch" --seq 1024 --steps "$steps" --warmup "$warmup" $extra 2>&1 |
    grep -v "autocast_mode.h" | tail -5) || { echo "$line"; return 1; }
  echo "  $line"
  local fpt
  fpt=$(flops_per_token "$work/$name.json" 1024)
  python3 - "$(echo "$line" | tail -1)" "$name" "$batch" "$attention" "$fpt" "$peak" "$gemm" "$extra" >> "$rows" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
tps, fpt, peak = r["tokens_per_second"], float(sys.argv[5]), float(sys.argv[6])
gemm = json.loads(sys.argv[7]).get("gemm_bf16_tflops")
row = {"bench": "train-step", "shape": sys.argv[2], "batch": int(sys.argv[3]), "seq": 1024, "precision": "bf16 autocast",
       "attention": sys.argv[4], "loss": "logits materialised" if "--logits-loss" in sys.argv[8] else "fused LM head",
       "tokens_per_second": tps, "parameters": r["parameters"], "flops_per_token": fpt,
       "model_tflops": tps * fpt / 1e12, "mfu_vs_peak": tps * fpt / peak,
       "mfu_vs_gemm": tps * fpt / (gemm * 1e12) if gemm else None}
print(json.dumps(row))
print(f"  {tps:,.0f} tok/s, {row['model_tflops']:.0f} TFLOP/s, MFU {100 * row['mfu_vs_peak']:.1f} %", file=sys.stderr)
PY
}

decode() {  # batch attention
  local batch=$1 attention=$2 model="$work/decode-model"
  if [ ! -f "$model/config.json" ]; then
    "$r1" --seed 1 model init --config "$work/qwen-0.5b.json" --out "$model" --dtype bfloat16 > /dev/null
    cp "$root"/tests/golden/tokenizer/r1-bpe/tokenizer*.json "$model/"
  fi
  local prompts="$work/prompts-$batch.jsonl"
  : > "$prompts"
  for _ in $(seq "$batch"); do echo '{"prompt": "The quick brown fox jumps over the lazy dog, and then"}' >> "$prompts"; done
  echo "== decode 0.5B shape, bf16, batch $batch, 128 new tokens, $attention attention"
  local env_attention=""
  [ "$attention" = explicit ] && env_attention=explicit
  local line
  line=$(R1_ATTENTION=$env_attention timeout 120 "$r1" --device cuda generate --model "$model" --input "$prompts" \
    --output "$work/decode-$batch.jsonl" --overwrite --chat-template none --temperature 0 --ignore-eos \
    --max-new-tokens 128 --batch-size "$batch" --max-seq-len 256 --dtype bfloat16 --quiet 2>&1 |
    grep -v "autocast_mode.h" | tail -3) || { echo "$line"; return 1; }
  echo "  $line"
  local tps
  tps=$(echo "$line" | sed -n 's/.* \([0-9.]*\) tokens\/s.*/\1/p' | tail -1)
  echo "{\"bench\": \"decode\", \"shape\": \"qwen-0.5b\", \"batch\": $batch, \"new_tokens\": 128, \"precision\": \"bf16\", \"attention\": \"$attention\", \"tokens_per_second\": ${tps:-null}}" >> "$rows"
}

status=0
train_step gpt2-small 16 fused || status=1
train_step qwen-0.5b 8 fused || status=1
decode 1 fused || status=1
decode 64 fused || status=1
train_step gpt2-small 16 explicit || status=1
decode 64 explicit || status=1
train_step gpt2-small 16 fused --logits-loss || status=1
python3 - "$rows" "$gemm" "$out_json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
json.dump({"gemm": json.loads(sys.argv[2]), "peak_bf16_tflops": 989.4, "rows": rows}, open(sys.argv[3], "w"), indent=1)
print("\n| bench | shape | batch | attention | tokens/s | model TFLOP/s | MFU (989 peak) | MFU (GEMM ceiling) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    if r["bench"] == "train-step":
        g = f"{100 * r['mfu_vs_gemm']:.1f} %" if r.get("mfu_vs_gemm") else "-"
        print(f"| train step bf16 ({r['loss']}) | {r['shape']} | {r['batch']} x 1024 | {r['attention']} | "
              f"{r['tokens_per_second']:,.0f} | {r['model_tflops']:.0f} | {100 * r['mfu_vs_peak']:.1f} % | {g} |")
    else:
        tps = r["tokens_per_second"]
        print(f"| decode bf16 | {r['shape']} | {r['batch']} | {r['attention']} | "
              f"{f'{tps:,.0f}' if tps else 'failed'} | | | |")
PY
exit $status
