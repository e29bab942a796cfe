#!/usr/bin/env bash
# GRPO's learning phase, padded vs packing: true (issue 21 item 3): one micro-batch of 8 completions with lengths
# drawn uniformly from [16, 512] after 64-token prompts, forward + log-probs/entropies + backward, on the demo-sized
# model (tiny: hidden 256, 4 layers) and a GPT-2-small-sized one, both layouts on the same draws in the same run.
#   bench/grpo-packing.sh [build-dir]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
r1=$build/r1
. "$here/blas-env.sh"
cmake --build "$build" --target bench-grpo-learning >/dev/null
work=$(mktemp -d /tmp/r1-bench-grpo-learning.XXXXXX)
trap 'rm -rf "$work"' EXIT
cat > "$work/tiny.json" <<'JSON'
{"model_type": "llama", "vocab_size": 8192, "hidden_size": 256, "intermediate_size": 768, "num_hidden_layers": 4,
 "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": true, "max_position_embeddings": 1024}
JSON
cat > "$work/gpt2-small.json" <<'JSON'
{"model_type": "llama", "vocab_size": 8192, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
 "num_attention_heads": 12, "num_key_value_heads": 12, "tie_word_embeddings": true, "max_position_embeddings": 1024}
JSON
for name in tiny gpt2-small; do
  rounds=8
  [[ $name == gpt2-small ]] && rounds=4
  echo "== $name"
  "$build/bench-grpo-learning" --config "$work/$name.json" --batch 8 --prompt-len 64 --min-len 16 --max-len 512 \
    --rounds "$rounds"
done
