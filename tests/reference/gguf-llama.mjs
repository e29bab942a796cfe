// The llama.cpp side of test-gguf: loads GGUF files with node-llama-cpp (its prebuilt llama.cpp, CPU) and reads
// their metadata with @huggingface/gguf, both installed by scripts/fetch-test-assets.sh into ASSETS/llama-cpp.
// Usage: node gguf-llama.mjs ASSETS REQUEST.json > RESPONSE.json
//   REQUEST: {"threads": 2, "models": [{"path": "m.gguf", "texts": ["..."], "prompts": [[ids]], "n": 16}]}
//   RESPONSE: {"models": [{"tokens": [[ids] per text], "continuations": [[ids] per prompt], "metadata": {...}}]}
// Greedy: node-llama-cpp's evaluate() with temperature 0 (llama.cpp's greedy sampler: argmax), EOS/EOG tokens
// yielded and fed back (no stop), as r1's ignore_eos.
import fs from "node:fs";
import path from "node:path";
import {pathToFileURL} from "node:url";

const [assets, requestPath] = process.argv.slice(2);
const modules = path.join(assets, "llama-cpp", "node_modules");
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(path.join(modules, "node-llama-cpp", "dist", "index.js")));
const {gguf} = await import(pathToFileURL(path.join(modules, "@huggingface", "gguf", "dist", "index.js")));

const request = JSON.parse(fs.readFileSync(requestPath, "utf8"));
const llama = await getLlama({gpu: false, build: "never", skipDownload: true, progressLogs: false,
                              logLevel: LlamaLogLevel.error});
const response = {models: []};
for (const m of request.models) {
  const model = await llama.loadModel({modelPath: m.path, gpuLayers: 0});
  const tokens = m.texts.map((t) => Array.from(model.tokenize(t, true)));
  const continuations = [];
  if (m.prompts.length === 0) {  // tokenization only (large vocabularies): no context, no metadata dump
    response.models.push({tokens, continuations});
    await model.dispose();
    continue;
  }
  const context = await model.createContext({contextSize: 256, threads: request.threads ?? 2, batchSize: 256});
  const sequence = context.getSequence();
  for (const prompt of m.prompts) {
    await sequence.clearHistory();
    const out = [];
    for await (const token of sequence.evaluate(prompt, {temperature: 0, yieldEogToken: true})) {
      out.push(token);
      if (out.length >= m.n) break;
    }
    continuations.push(out);
  }
  await context.dispose();
  const {metadata, tensorInfos} = await gguf(m.path, {allowLocalFile: true});
  const meta = {};
  for (const [k, v] of Object.entries(metadata))
    meta[k] = Array.isArray(v) ? {length: v.length, first: v.slice(0, 3)} : typeof v === "bigint" ? Number(v) : v;
  response.models.push({
    tokens,
    continuations,
    metadata: meta,
    tensors: tensorInfos.map((t) => ({name: t.name, shape: t.shape.map(Number), dtype: t.dtype})),
  });
  await model.dispose();
}
process.stdout.write(JSON.stringify(response));
await llama.dispose();
