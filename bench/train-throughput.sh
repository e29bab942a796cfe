#!/usr/bin/env bash
# Training throughput: r1 vs the same model in PyTorch-Python (Debian's python3-torch 1.13, same BLAS, same
# threads, OMP_WAIT_POLICY=PASSIVE for both), in the same run, on two shapes — the tiny config (vocab 8192,
# d 256, 4 layers, 4 heads, 2 kv heads, seq 256, batch 8) and GPT-2-small's (12 layers, d 768, 12 heads,
# vocab 8192, seq 256, batch 4) — in fp32 and bf16 autocast. One step = forward, fp32 cross-entropy,
# backward, global grad-norm clipping, AdamW (bench/train-step.cpp and bench/train-reference.py).
# MFU = model FLOPs/token x tokens/s / the CPU's physical peak (bench/cpu-peak.py: cores x FMA units x SIMD
# lanes x 2 x the measured clock, per dtype; its derivation is printed), and beside it the same against the GEMM
# ceiling measured in the same run (2048^3 fp32 / bf16 through PyTorch), with FLOPs/token = 6 x (matmul
# parameters, LM head included) + 12 x layers x seq x d (attention scores and values).
#   bench/train-throughput.sh [STEPS] [ROUNDS]   (default 4 timed steps after 1 warm-up; 2 alternating rounds,
#   the best of each side kept, so a machine shared with other work disturbs both sides alike)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BUILD:-$root/build}
steps=${1:-4}
rounds=${2:-2}
threads=${THREADS:-$(nproc)}
r1=$build/r1
. "$here/blas-env.sh"
cmake --build "$build" --target bench-train-step >/dev/null
work=$(mktemp -d /tmp/r1-bench-train.XXXXXX)
trap 'rm -rf "$work"' EXIT
cat > "$work/tiny.json" <<'JSON'
{"model_type": "llama", "vocab_size": 8192, "hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 4,
 "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": true}
JSON
cat > "$work/gpt2-small.json" <<'JSON'
{"model_type": "llama", "vocab_size": 8192, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
 "num_attention_heads": 12, "num_key_value_heads": 12, "tie_word_embeddings": true}
JSON
ceilings=$(/usr/bin/python3 "$here/train-reference.py" --config "$work/tiny.json" --gemm --steps 1 --warmup 0 --threads "$threads")
fp32_ceiling=$(echo "$ceilings" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["gemm_fp32_gflops"])')
bf16_ceiling=$(echo "$ceilings" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["gemm_bf16_gflops"])')
peaks=$(/usr/bin/python3 "$here/cpu-peak.py" --threads "$threads")
fp32_peak=$(echo "$peaks" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["fp32_gflops"])')
bf16_peak=$(echo "$peaks" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["bf16_gflops"])')
echo "$peaks" | /usr/bin/python3 -c 'import json,sys; print("\n".join("Peak: " + l for l in json.load(sys.stdin)["derivation"]))'
printf 'GEMM ceilings (2048^3, %s threads): fp32 %.0f GFLOP/s, bf16 %.0f GFLOP/s\n\n' "$threads" "$fp32_ceiling" "$bf16_ceiling"
best() {  # the JSON line with more tokens/s
  /usr/bin/python3 -c 'import json,sys; a,b=(json.loads(x) for x in sys.argv[1:]); print(json.dumps(a if a["tokens_per_second"]>=b["tokens_per_second"] else b))' "$1" "$2"
}
echo "| config | precision | PyTorch-Python tok/s | r1 tok/s | r1 / PyTorch | r1 MFU (peak) | PyTorch MFU (peak) | r1 / GEMM ceiling | PyTorch / GEMM ceiling |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for shape in "tiny 8" "gpt2-small 4"; do
  set -- $shape
  name=$1 batch=$2
  for precision in fp32 bf16; do
    flag=""; ceiling=$fp32_ceiling; peak=$fp32_peak
    if [ "$precision" = bf16 ]; then flag="--bf16"; ceiling=$bf16_ceiling; peak=$bf16_peak; fi
    py='{"tokens_per_second": 0}' r1='{"tokens_per_second": 0}'
    for _ in $(seq "$rounds"); do
      p=$(/usr/bin/python3 "$here/train-reference.py" --config "$work/$name.json" --batch "$batch" --seq 256 \
          --steps "$steps" --warmup 1 --threads "$threads" $flag)
      r=$("$build/bench-train-step" --config "$work/$name.json" --batch "$batch" --seq 256 --steps "$steps" \
          --warmup 1 $flag)
      py=$(best "$py" "$p")
      r1=$(best "$r1" "$r")
    done
    /usr/bin/python3 - "$work/$name.json" "$py" "$r1" "$ceiling" "$name" "$precision" "$peak" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); py = json.loads(sys.argv[2])["tokens_per_second"]
r1 = json.loads(sys.argv[3])["tokens_per_second"]; ceiling = float(sys.argv[4]); peak = float(sys.argv[7])
d, L, I, V, T = c["hidden_size"], c["num_hidden_layers"], c["intermediate_size"], c["vocab_size"], 256
hd = d // c["num_attention_heads"]; kv = c["num_key_value_heads"] * hd
matmul = L * (d * d * 2 + 2 * d * kv + 3 * d * I) + V * d
flops = 6 * matmul + 12 * L * T * d
mfu = lambda tps, of: 100 * flops * tps / (of * 1e9)
print(f"| {sys.argv[5]} | {sys.argv[6]} | {py:,.0f} | {r1:,.0f} | {r1 / py:.2f}x | {mfu(r1, peak):.0f} % | "
      f"{mfu(py, peak):.0f} % | {mfu(r1, ceiling):.0f} % | {mfu(py, ceiling):.0f} % |")
PY
  done
done
