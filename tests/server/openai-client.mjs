// The official `openai` JS client (v4) against `r1 serve`: used by test-server's OpenAiJsClient test.
// Usage: node openai-client.mjs NODE_MODULES_DIR BASE_URL API_KEY MODEL. Prints one JSON object with what the
// client parsed (non-streaming and streaming chat, completions, the models list, and the errors it raised),
// which the C++ test compares with the server's own answers.
import { createRequire } from "module";
const [modules, baseURL, apiKey, model] = process.argv.slice(2);
const require = createRequire(modules + "/");
const OpenAI = require("openai");

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });
const out = {};
const messages = [{ role: "user", content: "What is 2+2?" }];

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

const chat = await client.chat.completions.create({ model, messages, temperature: 0, max_tokens: 10 });
out.chat = { content: chat.choices[0].message.content, finish_reason: chat.choices[0].finish_reason, usage: chat.usage };

const stream = await client.chat.completions.create({
  model, messages, temperature: 0, max_tokens: 10, stream: true, stream_options: { include_usage: true },
});
let content = "", finish = null, usage = null, chunks = 0;
for await (const chunk of stream) {
  chunks += 1;
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    if (c.delta?.content) content += c.delta.content;
    if (c.finish_reason) finish = c.finish_reason;
  }
}
out.stream = { content, finish_reason: finish, usage, chunks };

const completion = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 5, temperature: 0 });
out.completion = { text: completion.choices[0].text, usage: completion.usage };

async function error_of(call) {
  try {
    await call();
    return null;
  } catch (e) {
    return { name: e.constructor.name, status: e.status ?? null, code: e.code ?? null, param: e.param ?? null };
  }
}
out.unknown_model = await error_of(() => client.chat.completions.create({ model: "nope", messages }));
out.bad_request = await error_of(() => client.chat.completions.create({ model, messages, temperature: -1 }));
const anonymous = new OpenAI({ baseURL, apiKey: "wrong", maxRetries: 0 });
out.bad_key = await error_of(() => anonymous.models.list());
console.log(JSON.stringify(out));
