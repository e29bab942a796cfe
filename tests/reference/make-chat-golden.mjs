// Golden renders of r1's built-in chat templates by an independent implementation, @huggingface/jinja
// (the Jinja interpreter transformers.js uses, which mimics jinja2 with trim_blocks and lstrip_blocks).
// The template strings are read from src/tokenizer/builtin-templates.cpp, so the goldens check the
// interpreter, not the copies. Writes tests/golden/chat/<template>--<case>.json = {template, case,
// context, expected}; test-chat-template.cpp renders each context and compares bytes.
//
//   npm install --prefix /tmp/jinja-ref @huggingface/jinja@0.5.11
//   node tests/reference/make-chat-golden.mjs /tmp/jinja-ref tests/golden/chat
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const [prefix, outDir] = process.argv.slice(2);
if (!prefix || !outDir) {
  console.error("usage: node make-chat-golden.mjs <npm prefix holding @huggingface/jinja> <output dir>");
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(prefix), "package.json"));
const { Template } = require("@huggingface/jinja");
const jinjaVersion = JSON.parse(
  fs.readFileSync(path.join(path.resolve(prefix), "node_modules/@huggingface/jinja/package.json"), "utf8"),
).version;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const cpp = fs.readFileSync(path.join(repoRoot, "src/tokenizer/builtin-templates.cpp"), "utf8");
const templates = {};
for (const m of cpp.matchAll(/\{"([^"]+)",\s*R"jinja\(([\s\S]*?)\)jinja"\}/g)) templates[m[1]] = m[2];
const expectedNames = ["chatml", "qwen2.5", "llama3", "deepseek-r1-distill", "r1-zero", "open-r1"];
for (const name of expectedNames) {
  if (!(name in templates)) throw new Error(`template ${name} not found in builtin-templates.cpp`);
}

const tokens = {
  chatml: { eos_token: "<|im_end|>" },
  "qwen2.5": { eos_token: "<|im_end|>" },
  llama3: { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" },
  "deepseek-r1-distill": { bos_token: "<｜begin▁of▁sentence｜>", eos_token: "<｜end▁of▁sentence｜>" },
  "r1-zero": { eos_token: "<|endoftext|>" },
  "open-r1": { eos_token: "<|im_end|>" },
};

const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Get the current weather in a city",
    parameters: {
      type: "object",
      properties: {
        city: { type: "string", description: "City name, e.g. Paris" },
        unit: { type: "string", enum: ["celsius", "fahrenheit"] },
      },
      required: ["city"],
    },
  },
};
const timeTool = {
  type: "function",
  function: {
    name: "get_time",
    description: "Current local time in a time zone",
    parameters: { type: "object", properties: { tz: { type: "string" } }, required: ["tz"] },
  },
};

const common = {
  "single-user": { messages: [{ role: "user", content: "What is 2 + 2?" }], add_generation_prompt: true },
  "multi-turn": {
    messages: [
      { role: "system", content: "You are a careful math tutor." },
      { role: "user", content: "What is 7 * 6?" },
      { role: "assistant", content: "7 * 6 = 42." },
      { role: "user", content: "And 42 / 7?" },
      { role: "assistant", content: "42 / 7 = 6." },
    ],
    add_generation_prompt: false,
  },
  "think-history": {
    messages: [
      { role: "user", content: "Is 91 prime?" },
      {
        role: "assistant",
        content: "<think>\n91 = 7 * 13, so it has divisors other than 1 and itself.\n</think>\n\nNo: 91 = 7 × 13.",
      },
      { role: "user", content: "What about 97?" },
    ],
    add_generation_prompt: true,
  },
  unicode: {
    messages: [
      { role: "system", content: "Réponds en français, s'il te plaît. 🙂" },
      { role: "user", content: "你好，世界！🌍 Как дела? 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 «quotes» \"double\" 'single' \\ back\\slash" },
      { role: "assistant", content: "こんにちは 👋🏽 — ça va très bien, merci ! ∑ x² ≤ ∞" },
    ],
    add_generation_prompt: true,
  },
  whitespace: {
    messages: [
      { role: "system", content: "  \tSystem with edges\t  \n" },
      { role: "user", content: "\n\n  Indented line\n\tTabbed line\r\nCRLF line\u3000\n\n  " },
      { role: "assistant", content: "   " },
      { role: "user", content: "a  b   c\n\n\nd" },
    ],
    add_generation_prompt: false,
  },
};

const tools = {
  "qwen2.5": {
    messages: [
      { role: "user", content: "What's the weather in Paris and the time in Tokyo?" },
      {
        role: "assistant",
        content: "",
        tool_calls: [
          { type: "function", function: { name: "get_weather", arguments: { city: "Paris", unit: "celsius" } } },
          { type: "function", function: { name: "get_time", arguments: { tz: "Asia/Tokyo" } } },
        ],
      },
      { role: "tool", name: "get_weather", content: "{\"temperature\": 18, \"sky\": \"clear\"}" },
      { role: "tool", name: "get_time", content: "21:04" },
      { role: "assistant", content: "Paris: 18 °C and clear. Tokyo: 21:04." },
      { role: "user", content: "Thanks!" },
    ],
    tools: [weatherTool, timeTool],
    add_generation_prompt: true,
  },
  llama3: {
    messages: [
      { role: "system", content: "You are a helpful assistant." },
      { role: "user", content: "What's the weather in Paris?" },
      {
        role: "assistant",
        tool_calls: [{ type: "function", function: { name: "get_weather", arguments: { city: "Paris", unit: "celsius" } } }],
      },
      { role: "tool", content: "{\"temperature\": 18, \"sky\": \"clear\"}" },
      { role: "assistant", content: "It is 18 °C and clear in Paris." },
    ],
    tools: [weatherTool],
    add_generation_prompt: false,
  },
  "deepseek-r1-distill": {
    messages: [
      { role: "system", content: "You can call tools." },
      { role: "user", content: "Weather in Paris and Rome?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { type: "function", function: { name: "get_weather", arguments: "{\"city\": \"Paris\"}" } },
          { type: "function", function: { name: "get_weather", arguments: "{\"city\": \"Rome\"}" } },
        ],
      },
      { role: "tool", content: "18 C, clear" },
      { role: "tool", content: "24 C, sunny" },
      { role: "assistant", content: "Paris 18 °C, Rome 24 °C." },
    ],
    add_generation_prompt: false,
  },
  chatml: {
    messages: [
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: "Let me check." },
      { role: "tool", content: "18 C, clear" },
    ],
    tools: [weatherTool],
    add_generation_prompt: true,
  },
  "open-r1": {
    messages: [
      { role: "system", content: "Solve the problem." },
      { role: "user", content: "1 + 1?" },
    ],
    add_generation_prompt: true,
  },
  "r1-zero": {
    messages: [
      { role: "system", content: "Answer tersely." },
      { role: "user", content: "2 * 21?" },
      { role: "assistant", content: "<think> 2 * 21 = 42 </think> <answer> 42 </answer>" },
    ],
    add_generation_prompt: false,
  },
};

fs.mkdirSync(outDir, { recursive: true });
let written = 0;
for (const name of expectedNames) {
  const template = new Template(templates[name]);
  const cases = { ...common, [name === "open-r1" || name === "r1-zero" ? "system" : "tools"]: tools[name] };
  for (const [caseName, base] of Object.entries(cases)) {
    const context = { ...base, ...tokens[name] };
    const expected = template.render(structuredClone(context));
    const record = { template: name, case: caseName, generator: `@huggingface/jinja ${jinjaVersion}`, context, expected };
    fs.writeFileSync(path.join(outDir, `${name}--${caseName}.json`), JSON.stringify(record, null, 2) + "\n");
    ++written;
  }
}
console.log(`wrote ${written} golden renders to ${outDir} with @huggingface/jinja ${jinjaVersion}`);
