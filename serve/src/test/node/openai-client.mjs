// The official OpenAI Node client against a running `panamax serve --api-key sesame` over the
// embedded model: node openai-client.mjs PORT. Exits 1 on the first expectation that fails.
import OpenAI from "openai";
import assert from "node:assert/strict";

const baseURL = `http://127.0.0.1:${process.argv[2]}/v1`;
const client = new OpenAI({ baseURL, apiKey: "sesame" });
const ask = { model: "kjv-llama", messages: [{ role: "user", content: "In the beginning" }], max_tokens: 16, temperature: 0 };

const models = await client.models.list();
assert.deepEqual(models.data.map(m => m.id), ["kjv-llama"]);

const chat = await client.chat.completions.create(ask);
const answer = chat.choices[0].message.content;
assert.ok(answer.startsWith(", and the third day of the month"), answer);
assert.equal(chat.choices[0].finish_reason, "length");
assert.deepEqual(chat.usage, { prompt_tokens: 5, completion_tokens: 16, total_tokens: 21 });

const stream = await client.chat.completions.create({ ...ask, stream: true, stream_options: { include_usage: true } });
let text = "", finish = null, usage = null;
for await (const chunk of stream) {
  if (chunk.choices.length) {
    text += chunk.choices[0].delta.content ?? "";
    finish = chunk.choices[0].finish_reason ?? finish;
  }
  if (chunk.usage) usage = chunk.usage;
}
assert.equal(text, answer, "the stream carries the same text");
assert.equal(finish, "length");
assert.equal(usage.completion_tokens, 16);

const sampled = { model: "kjv-llama", prompt: "And God said", max_tokens: 10, seed: 5, temperature: 1 };
const a = await client.completions.create(sampled), b = await client.completions.create(sampled);
assert.equal(a.choices[0].text, b.choices[0].text, "a seed reproduces a sampled completion");

// The client asks for base64 by default and decodes it to numbers.
const e = await client.embeddings.create({ model: "kjv-llama", input: ["Let there be light", "and there was light"] });
assert.equal(e.data.length, 2);
assert.equal(e.data[0].embedding.length, 256);
const norm = Math.hypot(...e.data[0].embedding);
assert.ok(Math.abs(norm - 1) < 1e-5, `unit length, got ${norm}`);

await assert.rejects(new OpenAI({ baseURL, apiKey: "wrong" }).models.list(), err => err.status === 401 && err.code === "invalid_api_key");
await assert.rejects(client.chat.completions.create({ ...ask, messages: [] }), err => err.status === 400 && err.param === "messages");
console.log("openai-client: ok: models, chat, stream, seeded completions, embeddings, 401, 400");
