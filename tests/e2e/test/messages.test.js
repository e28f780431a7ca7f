// The Anthropic Messages API (POST /v1/messages, /v1/messages/count_tokens)
// through the official @anthropic-ai/sdk, against the mock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, startServer, newToken, rejection } from '../lib/harness.js';
import { PLAIN, THINK_REASONING, THINK_CONTENT } from '../lib/expected.js';

let mock;
let server;

before(async () => {
  mock = await startMock();
  server = await startServer(mock.url);
});

after(async () => {
  await server?.stop();
  await mock?.stop();
});

const client = (token = newToken('msg'), opts = {}) =>
  new Anthropic({ baseURL: server.url, apiKey: token, maxRetries: 0, timeout: 20000, ...opts });

async function rawEvents(body, headers = {}) {
  const res = await fetch(`${server.url}/v1/messages?beta=true`, {
    method: 'POST',
    headers: { 'x-api-key': newToken('msg'), 'anthropic-version': '2023-06-01', 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ ...body, stream: true }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const events = [];
  for (const block of (await res.text()).split('\n\n')) {
    if (!block.trim()) continue;
    const lines = block.split('\n');
    events.push({
      event: lines.find((l) => l.startsWith('event: '))?.slice(7),
      data: JSON.parse(lines.find((l) => l.startsWith('data: ')).slice(6)),
    });
  }
  return events;
}

test('messages.create answers with one text block, end_turn and usage', async () => {
  const m = await client().messages.create({
    model: 'glm-4', max_tokens: 1024, messages: [{ role: 'user', content: '[[fixture:chat-plain]] 你好' }],
  });
  assert.match(m.id, /^msg_/);
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.equal(m.model, 'glm-4');
  assert.deepEqual(m.content, [{ type: 'text', text: PLAIN }]);
  assert.equal(m.stop_reason, 'end_turn');
  assert.equal(m.stop_sequence, null);
  assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0);
});

test('thinking comes as a thinking block with a signature before the text', async () => {
  const m = await client().messages.create({
    model: 'glm-4', max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 2048 },
    system: [{ type: 'text', text: 'Be precise.' }],
    messages: [{ role: 'user', content: [{ type: 'text', text: '[[fixture:chat-think]] 9.11和9.9哪个大？' }] }],
  });
  assert.equal(m.content[0].type, 'thinking');
  assert.equal(m.content[0].thinking, THINK_REASONING);
  assert.equal(typeof m.content[0].signature, 'string');
  assert.deepEqual(m.content[1], { type: 'text', text: THINK_CONTENT });
});

test('the stream: message_start with input tokens, blocks, message_delta, message_stop', async () => {
  const events = await rawEvents({
    model: 'glm-4', max_tokens: 1024,
    messages: [{ role: 'user', content: '[[fixture:chat-think]] 9.11和9.9哪个大？' }],
  });
  events.forEach((e) => assert.equal(e.data.type, e.event));
  const names = events.map((e) => e.event).filter((n) => n !== 'ping');
  const collapsed = names.filter((n, i) => n !== names[i - 1]);
  assert.deepEqual(collapsed, [
    'message_start', 'content_block_start', 'content_block_delta', 'content_block_stop',
    'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop',
  ]);
  assert.ok(events[0].data.message.usage.input_tokens > 0, 'a zero breaks Claude Code');
  const deltas = events.filter((e) => e.event === 'content_block_delta').map((e) => e.data.delta);
  assert.equal(deltas.filter((d) => d.type === 'thinking_delta').map((d) => d.thinking).join(''), THINK_REASONING);
  assert.ok(deltas.some((d) => d.type === 'signature_delta'));
  assert.equal(deltas.filter((d) => d.type === 'text_delta').map((d) => d.text).join(''), THINK_CONTENT);
  const md = events.find((e) => e.event === 'message_delta').data;
  assert.equal(md.delta.stop_reason, 'end_turn');
  assert.ok(md.usage.output_tokens > 0);
});

test('messages.stream (SDK helper) gives the final message', async () => {
  const stream = client().messages.stream({
    model: 'glm-4', max_tokens: 1024, messages: [{ role: 'user', content: '[[fixture:chat-plain]] 你好' }],
  });
  let text = '';
  stream.on('text', (t) => { text += t; });
  const final = await stream.finalMessage();
  assert.equal(text, PLAIN);
  assert.equal(final.content[0].text, PLAIN);
  assert.equal(final.stop_reason, 'end_turn');
});

test('stop_sequences cut the answer and name the sequence', async () => {
  const m = await client().messages.create({
    model: 'glm-4', max_tokens: 1024, stop_sequences: ['智谱 AI'],
    messages: [{ role: 'user', content: '[[fixture:chat-plain]] 你好' }],
  });
  assert.equal(m.stop_reason, 'stop_sequence');
  assert.equal(m.stop_sequence, '智谱 AI');
  assert.equal(m.content[0].text, PLAIN.slice(0, PLAIN.indexOf('智谱 AI')));
});

test('countTokens is answered locally, without an upstream call', async () => {
  const mark = await mock.mark();
  const r = await client().messages.countTokens({
    model: 'glm-4', system: 'You are terse.', messages: [{ role: 'user', content: 'Hello there, how are you?' }],
  });
  assert.ok(Number.isInteger(r.input_tokens) && r.input_tokens > 0);
  // (a background delete of an earlier test's conversation may still arrive)
  const upstream = (await mock.requestsSince(mark)).filter((r) => !/delete/.test(r.path));
  assert.deepEqual(upstream.map((r) => r.path), []);
});

test('Authorization: Bearer works as well as x-api-key', async () => {
  const res = await fetch(`${server.url}/v1/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${newToken('msg')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'glm-4', max_tokens: 100, messages: [{ role: 'user', content: '[[fixture:chat-plain]] hi' }] }),
  });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).content[0].text, PLAIN);
});

test('errors come in the Anthropic envelope with the matching status', async () => {
  const post = async (body, headers = { 'x-api-key': newToken('msg') }) => {
    const res = await fetch(`${server.url}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body,
    });
    return { status: res.status, json: await res.json() };
  };
  const hostile = [
    '{',
    '[]',
    JSON.stringify({ model: 'glm-4', max_tokens: 10 }),
    JSON.stringify({ model: 'glm-4', max_tokens: 'ten', messages: [{ role: 'user', content: 'hi' }] }),
    JSON.stringify({ model: 'glm-4', max_tokens: 10, messages: 'hi' }),
    JSON.stringify({ model: 'glm-4', max_tokens: 10, messages: [{ role: 'robot', content: 'hi' }] }),
    JSON.stringify({ model: 'glm-4', max_tokens: 10, messages: [{ role: 'user', content: 5 }] }),
    JSON.stringify({ model: 'glm-4', max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'text' }] }] }),
    JSON.stringify({ model: 'glm-4', max_tokens: 10, system: 7, messages: [{ role: 'user', content: 'hi' }] }),
    JSON.stringify({ model: 'glm-4', max_tokens: 10, tools: {}, messages: [{ role: 'user', content: 'hi' }] }),
    JSON.stringify({ model: 'glm-4', max_tokens: 10, stop_sequences: 'x', messages: [{ role: 'user', content: 'hi' }] }),
    JSON.stringify({ model: 7, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
  ];
  for (const body of hostile) {
    const r = await post(body);
    assert.equal(r.status, 400, body);
    assert.equal(r.json.type, 'error', body);
    assert.equal(r.json.error.type, 'invalid_request_error', body);
    assert.equal(typeof r.json.error.message, 'string');
  }
  const noAuth = await post(JSON.stringify({ model: 'glm-4', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }), {});
  assert.equal(noAuth.status, 401);
  assert.equal(noAuth.json.error.type, 'authentication_error');
  const dead = await post(JSON.stringify({ model: 'glm-4', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    { 'x-api-key': 'dead-token-for-messages' });
  assert.equal(dead.status, 401);
  assert.equal(dead.json.error.type, 'authentication_error');
  const missing = await fetch(`${server.url}/v1/messages/nope`, { method: 'POST', headers: { 'x-api-key': 'x' } });
  assert.equal(missing.status, 404);
});

test('the SDK sees a busy account as a rate_limit_error (429)', async () => {
  const err = await rejection(client().messages.create({
    model: 'glm-4', max_tokens: 10, messages: [{ role: 'user', content: '[[scenario:busy]] hi' }],
  }));
  assert.equal(err.status, 429);
  assert.equal(err.error?.error?.type, 'rate_limit_error');
});

test('an upstream error after the stream started is an error event', async () => {
  const events = await rawEvents({
    model: 'glm-4', max_tokens: 1024, messages: [{ role: 'user', content: '[[fixture:chat-stream-error]] 介绍量子计算' }],
  });
  const last = events.at(-1);
  assert.equal(last.event, 'error');
  assert.equal(last.data.type, 'error');
  assert.match(last.data.error.message, /10024|generator exit/);
});

// ---- tools ----

async function script(replies) {
  const name = `m${Math.random().toString(16).slice(2, 12)}`;
  await mock.call('POST', '/_mock/script', { name, replies });
  return `[[script:${name}]]`;
}
const CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>';
const TOOLS = [
  { name: 'get_weather', description: 'The weather of a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  { type: 'web_search_20250305', name: 'web_search' },
];

test('a tool_use / tool_result round trip', async () => {
  const c = client();
  const m = await script([{ text: `I will check. ${CALL}`, chunk: 6 }, { text: 'Sunny in Paris.' }]);
  const first = await c.messages.create({
    model: 'glm-4', max_tokens: 1024, tools: TOOLS, messages: [{ role: 'user', content: `${m} weather in Paris?` }],
  });
  assert.equal(first.stop_reason, 'tool_use');
  const tu = first.content.find((b) => b.type === 'tool_use');
  assert.match(tu.id, /^toolu_[A-Za-z0-9]{24}$/);
  assert.equal(tu.name, 'get_weather');
  assert.deepEqual(tu.input, { city: 'Paris' });
  assert.equal(first.content[0].type, 'text');
  const second = await c.messages.create({
    model: 'glm-4', max_tokens: 1024, tools: TOOLS,
    messages: [
      { role: 'user', content: `${m} weather in Paris?` },
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: tu.id, content: 'sunny, 21 C' }] },
    ],
  });
  assert.equal(second.stop_reason, 'end_turn');
  assert.deepEqual(second.content, [{ type: 'text', text: 'Sunny in Paris.' }]);
});

test('a streamed tool_use block: input_json_delta pieces and stop_reason tool_use', async () => {
  const m = await script([{ text: CALL, chunk: 5 }]);
  const stream = client().messages.stream({
    model: 'glm-4', max_tokens: 1024, tools: TOOLS, messages: [{ role: 'user', content: `${m} weather?` }],
  });
  const final = await stream.finalMessage();
  assert.equal(final.stop_reason, 'tool_use');
  const tu = final.content.find((b) => b.type === 'tool_use');
  assert.deepEqual(tu.input, { city: 'Paris' });
  const events = await rawEvents({
    model: 'glm-4', max_tokens: 1024, tools: TOOLS, messages: [{ role: 'user', content: `${await script([{ text: CALL, chunk: 5 }])} weather?` }],
  });
  const start = events.find((e) => e.event === 'content_block_start' && e.data.content_block.type === 'tool_use');
  assert.deepEqual(start.data.content_block.input, {});
  const parts = events.filter((e) => e.event === 'content_block_delta' && e.data.delta.type === 'input_json_delta');
  assert.deepEqual(JSON.parse(parts.map((e) => e.data.delta.partial_json).join('')), { city: 'Paris' });
});
