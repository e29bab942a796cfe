#!/usr/bin/env bash
# Encoding throughput: r1 vs Hugging Face tokenizers (native Node binding, encodeBatch) on the Hub's GPT-2,
# Llama-3 and Qwen2.5 tokenizer.json, same text (the first 5 MB of the training-benchmark corpus, one
# sequence per line), same number of threads. The token totals must be equal (checked).
#   bench/tokenizer-encode.sh   (needs `make build` and scripts/fetch-test-assets.sh; npm for HF)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
r1=${R1:-$root/build/r1}
assets=${ASSETS:-$root/build/test-assets}
work=${WORK:-/tmp/r1-bench-tokenizer}
mkdir -p "$work"
[ -f "$work/corpus.txt" ] || "$here/make-corpus.sh" "$work/corpus.txt" 83
head -c 5000000 "$work/corpus.txt" > "$work/encode-5mb.txt"
"$root/scripts/fetch-test-assets.sh" "$assets"
[ -d "$work/node_modules/tokenizers" ] ||
  npm install --prefix "$work" --no-save --no-audit --no-fund --loglevel=error tokenizers@0.23 >/dev/null
cat > "$work/hf-encode.mjs" <<'JS'
import { createRequire } from 'module';
import fs from 'fs';
const require = createRequire(process.argv[2] + '/');
const { Tokenizer } = require('tokenizers');
const tok = Tokenizer.fromFile(process.argv[3]);
const lines = fs.readFileSync(process.argv[4], 'utf8').split('\n');
if (lines[lines.length - 1] === '') lines.pop();
const t0 = process.hrtime.bigint();
const encs = await tok.encodeBatch(lines, { addSpecialTokens: false });
let n = 0;
for (const e of encs) n += e.getLength();
console.log(n, (Number(process.hrtime.bigint() - t0) / 1e9).toFixed(3));
JS
threads=$(nproc)
printf '%-8s %12s %10s %10s %8s\n' tokenizer tokens "HF s" "r1 s" "r1 vs HF"
for name in gpt2 llama3 qwen2_5; do
  file="$assets/node_modules/@lenml/tokenizer-$name/models/tokenizer.json"
  read -r hf_tokens hf_s < <(RAYON_NUM_THREADS=$threads node "$work/hf-encode.mjs" "$work" "$file" "$work/encode-5mb.txt")
  out=$("$r1" --threads "$threads" tokenizer encode --tokenizer "$file" --no-special-tokens --stats --input "$work/encode-5mb.txt")
  r1_tokens=$(echo "$out" | sed -n 's/.*tokens \([0-9]*\)  tokens\/char.*/\1/p')
  r1_s=$(echo "$out" | sed -n 's/^encoded in \([0-9.]*\) s.*/\1/p')
  [ "$hf_tokens" = "$r1_tokens" ] || echo "TOKEN COUNTS DIFFER for $name: HF $hf_tokens, r1 $r1_tokens"
  printf '%-8s %12s %10s %10s %7.2fx\n' "$name" "$r1_tokens" "$hf_s" "$r1_s" "$(echo "$hf_s / $r1_s" | bc -l)"
done
