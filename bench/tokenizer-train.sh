#!/usr/bin/env bash
# Tokenizer training speed: r1 vs Hugging Face tokenizers (its native Node binding, npm `tokenizers`) vs
# sentencepiece's spm_train, on the same corpus, same machine, same run. All three train a 30k BPE.
#   bench/tokenizer-train.sh [CORPUS]   (default: builds an 83 MB corpus with bench/make-corpus.sh)
# HF and r1 use HF's default trainer settings (vocab 30000, min_frequency 0) on a GPT-2 byte-level
# pre-tokenizer, so their vocabularies must come out identical (checked below); spm_train uses its BPE
# mode with its own pre-processing (not comparable token for token).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
r1=${R1:-$root/build/r1}
work=${WORK:-/tmp/r1-bench-tokenizer}
mkdir -p "$work"
corpus=${1:-$work/corpus.txt}
[ -f "$corpus" ] || "$here/make-corpus.sh" "$corpus" 83
threads=$(nproc)
if [ ! -d "$work/node_modules/tokenizers" ]; then
  npm install --prefix "$work" --no-save --no-audit --no-fund --loglevel=error tokenizers@0.23 >/dev/null
fi
cat > "$work/hf-train.mjs" <<'JS'
import { createRequire } from 'module';
const require = createRequire(process.argv[2] + '/');
const { Tokenizer, BPE, byteLevelPreTokenizer } = require('tokenizers');
const tok = new Tokenizer(BPE.empty());
tok.setPreTokenizer(byteLevelPreTokenizer(false, true));
const t0 = process.hrtime.bigint();
tok.train([process.argv[3]]);
const s = Number(process.hrtime.bigint() - t0) / 1e9;
tok.save(process.argv[4], false);
console.log(s.toFixed(2));
JS
echo "corpus: $corpus ($(wc -c < "$corpus") bytes), $threads threads"
hf=$(RAYON_NUM_THREADS=$threads node "$work/hf-train.mjs" "$work" "$corpus" "$work/hf.json")
start=$(date +%s.%N)
"$r1" --threads "$threads" tokenizer train --input "$corpus" --out "$work/r1" --overwrite --pre-tokenizer gpt2 \
  --vocab-size 30000 --no-byte-alphabet >/dev/null 2>&1
r1s=$(echo "$(date +%s.%N) - $start" | bc)
start=$(date +%s.%N)
spm_train --input="$corpus" --model_prefix="$work/spm" --vocab_size=30000 --model_type=bpe \
  --num_threads="$threads" --minloglevel=2 >/dev/null 2>&1
spm=$(echo "$(date +%s.%N) - $start" | bc)
same=$(node -e "const a=require('$work/hf.json').model, b=require('$work/r1/tokenizer.json').model;
  const m=x=>x.merges.map(p=>Array.isArray(p)?p.join(' '):p).join('\n');
  console.log(JSON.stringify(a.vocab)===JSON.stringify(Object.fromEntries(Object.entries(b.vocab).sort((x,y)=>x[1]-y[1]))) || m(a)===m(b) ? 'identical merges' : 'DIFFERENT')" 2>/dev/null || echo "?")
printf 'HF tokenizers %6.2f s\nr1 (incl. start-up and writing) %6.2f s   %.2fx HF\nspm_train     %6.2f s   r1 is %.2fx spm\nr1 vs HF output: %s\n' \
  "$hf" "$r1s" "$(echo "$hf / $r1s" | bc -l)" "$spm" "$(echo "$spm / $r1s" | bc -l)" "$same"
