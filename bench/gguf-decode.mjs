// llama.cpp's side of bench/gguf-decode.sh: greedy decode of one prompt (batch 1) with node-llama-cpp's prebuilt
// llama.cpp on CPU. Prints "TOKENS SECONDS TEXT_JSON": tokens generated, seconds for prefill + decode (what
// `r1 generate` reports as its generation phase), and the generated text.
// Usage: node gguf-decode.mjs ASSETS MODEL.gguf THREADS NEW_TOKENS PROMPT_IDS(comma-separated)
import path from "node:path";
import {pathToFileURL} from "node:url";

const [assets, modelPath, threads, newTokens, ids] = process.argv.slice(2);
const modules = path.join(assets, "llama-cpp", "node_modules");
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(path.join(modules, "node-llama-cpp", "dist", "index.js")));
const llama = await getLlama({gpu: false, build: "never", skipDownload: true, progressLogs: false,
                              logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({contextSize: 512, threads: Number(threads), batchSize: 512});
const sequence = context.getSequence();
const prompt = ids.split(",").map(Number);
const out = [];
const start = process.hrtime.bigint();
for await (const token of sequence.evaluate(prompt, {temperature: 0, yieldEogToken: true})) {
  out.push(token);
  if (out.length >= Number(newTokens)) break;
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
process.stdout.write(`${out.length} ${seconds} ${JSON.stringify(model.detokenize(out))}\n`);
await context.dispose();
await model.dispose();
await llama.dispose();
