// The OpenAI Responses API (POST /v1/responses) through the official openai
// SDK and the Vercel AI SDK's default OpenAI provider, against the mock.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';
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

const fresh = () => server.client(newToken('resp'));

// Raw SSE of a streamed request: [{event, data}] in order.
async function rawEvents(token, body) {
  const res = await fetch(`${server.url}/v1/responses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const text = await res.text();
  assert.ok(!text.includes('[DONE]'), 'no [DONE] in a Responses stream');
  const events = [];
  for (const block of text.split('\n\n')) {
    if (!block.trim()) continue;
    const lines = block.split('\n');
    const ev = lines.find((l) => l.startsWith('event: '))?.slice(7);
    const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
    events.push({ event: ev, data: JSON.parse(data) });
  }
  return events;
}

test('responses.create answers a string input with one message item and output_text', async () => {
  const r = await fresh().responses.create({ model: 'glm-4', input: '[[fixture:chat-plain]] 你好' });
  assert.match(r.id, /^resp_/);
  assert.equal(r.object, 'response');
  assert.equal(r.status, 'completed');
  assert.equal(r.model, 'glm-4');
  assert.equal(r.output.length, 1);
  assert.equal(r.output[0].type, 'message');
  assert.equal(r.output[0].role, 'assistant');
  assert.equal(r.output[0].content[0].type, 'output_text');
  assert.deepEqual(r.output[0].content[0].annotations, []);
  assert.equal(r.output_text, PLAIN);
  assert.ok(Number.isInteger(r.usage.input_tokens) && r.usage.input_tokens > 0);
  assert.ok(Number.isInteger(r.usage.output_tokens) && r.usage.output_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  assert.equal(r.usage.output_tokens_details.reasoning_tokens, 0);
});

test('reasoning comes first as a reasoning item with summary text', async () => {
  const r = await fresh().responses.create({
    model: 'glm-4', input: '[[fixture:chat-think]] 9.11和9.9哪个大？', reasoning: { effort: 'high' },
  });
  assert.equal(r.output[0].type, 'reasoning');
  assert.equal(r.output[0].summary[0].type, 'summary_text');
  assert.equal(r.output[0].summary[0].text, THINK_REASONING);
  assert.equal(r.output[1].type, 'message');
  assert.equal(r.output_text, THINK_CONTENT);
  assert.ok(r.usage.output_tokens_details.reasoning_tokens > 0);
});

test('the stream sends every event in order with sequence numbers from 0 and no [DONE]', async () => {
  const events = await rawEvents(newToken('resp'), { model: 'glm-4', input: '[[fixture:chat-think]] 9.11和9.9哪个大？' });
  const names = events.map((e) => e.event);
  events.forEach((e, i) => {
    assert.equal(e.data.type, e.event);
    assert.equal(e.data.sequence_number, i);
  });
  const collapsed = names.filter((n, i) => n !== names[i - 1]);
  assert.deepEqual(collapsed, [
    'response.created', 'response.in_progress',
    'response.output_item.added', 'response.reasoning_summary_part.added',
    'response.reasoning_summary_text.delta', 'response.reasoning_summary_text.done',
    'response.reasoning_summary_part.done', 'response.output_item.done',
    'response.output_item.added', 'response.content_part.added',
    'response.output_text.delta', 'response.output_text.done',
    'response.content_part.done', 'response.output_item.done',
    'response.completed',
  ]);
  const text = events.filter((e) => e.event === 'response.output_text.delta').map((e) => e.data.delta).join('');
  assert.equal(text, THINK_CONTENT);
  const done = events.at(-1).data.response;
  assert.equal(done.status, 'completed');
  assert.equal(done.output.length, 2);
});

test('responses.stream (openai SDK helper) yields the text and the final response', async () => {
  const stream = fresh().responses.stream({ model: 'glm-4', input: '[[fixture:chat-plain]] 你好' });
  let deltas = '';
  stream.on('response.output_text.delta', (e) => { deltas += e.delta; });
  const final = await stream.finalResponse();
  assert.equal(deltas, PLAIN);
  assert.equal(final.output_text, PLAIN);
  assert.equal(final.status, 'completed');
});

test('previous_response_id continues the stored conversation with only the new input', async () => {
  const client = fresh();
  const first = await client.responses.create({ model: 'glm-4', input: '[[fixture:chat-plain]] 第一句' });
  const mark = await mock.mark();
  const second = await client.responses.create({
    model: 'glm-4', input: '[[fixture:chat-plain]] 第二句', previous_response_id: first.id,
  });
  assert.equal(second.previous_response_id, first.id);
  const streams = await mock.requestsSince(mark, '/chatglm/backend-api/assistant/stream');
  assert.equal(streams.length, 1);
  assert.notEqual(streams[0].json.conversation_id, '', 'continued upstream, not a new conversation');
  const prompt = JSON.stringify(streams[0].json.messages);
  assert.ok(prompt.includes('第二句') && !prompt.includes('第一句'), 'only the new input is sent');
  // retrieve and delete
  const got = await client.responses.retrieve(second.id);
  assert.equal(got.id, second.id);
  assert.equal(got.output_text, PLAIN);
  await client.responses.delete(second.id);
  const err = await rejection(client.responses.retrieve(second.id));
  assert.equal(err.status, 404);
});

test('an unknown previous_response_id is a 400 that says so', async () => {
  const err = await rejection(fresh().responses.create({
    model: 'glm-4', input: 'hi', previous_response_id: 'resp_doesnotexist',
  }));
  assert.equal(err.status, 400);
  assert.match(err.message, /previous_response_id|resp_doesnotexist/);
  assert.equal(err.error?.type ?? err.type, 'invalid_request_error');
});

test('hostile inputs are 400s in the OpenAI envelope', async () => {
  const bodies = [
    { model: 'glm-4' },
    { model: 'glm-4', input: 42 },
    { model: 'glm-4', input: [{ type: 'message', role: 'user', content: 7 }] },
    { model: 'glm-4', input: [{ type: 'nonsense' }] },
    { model: 'glm-4', input: 'hi', tools: 'x' },
    { model: 'glm-4', input: 'hi', max_output_tokens: 'ten' },
    { model: 'glm-4', input: 'hi', reasoning: { effort: 'extreme' } },
    { model: 42, input: 'hi' },
    { input: 'hi' },
  ];
  for (const body of bodies) {
    const res = await fetch(`${server.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${newToken('resp')}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const j = await res.json();
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(j.error.type, 'invalid_request_error', JSON.stringify(body));
    assert.equal(typeof j.error.message, 'string');
  }
  const res = await fetch(`${server.url}/v1/responses`, { method: 'POST', body: '{"model":"glm-4","input":"hi"}' });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error.type, 'authentication_error');
});

test('an upstream error after the stream started is a response.failed event', async () => {
  const events = await rawEvents(newToken('resp'), { model: 'glm-4', input: '[[fixture:chat-stream-error]] 介绍量子计算' });
  const last = events.at(-1);
  assert.equal(last.event, 'response.failed');
  assert.equal(last.data.response.status, 'failed');
  assert.match(last.data.response.error.message, /10024|generator exit/);
});

test('the Vercel AI SDK openai provider (Responses mode): generateText and streamText', async () => {
  const provider = createOpenAI({ baseURL: `${server.url}/v1`, apiKey: newToken('aisdk') });
  const g = await generateText({ model: provider('glm-4'), prompt: '[[fixture:chat-plain]] 你好', maxRetries: 0 });
  assert.equal(g.text, PLAIN);
  assert.equal(g.finishReason, 'stop');
  const s = streamText({ model: provider('glm-4'), prompt: '[[fixture:chat-plain]] 你好', maxRetries: 0 });
  let text = '';
  for await (const t of s.textStream) text += t;
  assert.equal(text, PLAIN);
});

// ---- tools (the same recogniser and prompt as chat, through this dialect) ----

async function script(replies) {
  const name = `r${Math.random().toString(16).slice(2, 12)}`;
  await mock.call('POST', '/_mock/script', { name, replies });
  return `[[script:${name}]]`;
}
const CALL = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>';
const WEATHER = {
  type: 'function', name: 'get_weather', description: 'The weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

test('a function_call round trip: the call, then function_call_output, then the answer', async () => {
  const client = fresh();
  const m = await script([{ text: CALL, chunk: 6 }, { text: 'Sunny in Paris.' }]);
  const first = await client.responses.create({
    model: 'glm-4', input: `${m} weather in Paris?`, tools: [WEATHER, { type: 'web_search' }],
  });
  const fc = first.output.find((o) => o.type === 'function_call');
  assert.ok(fc, JSON.stringify(first.output));
  assert.equal(fc.name, 'get_weather');
  assert.deepEqual(JSON.parse(fc.arguments), { city: 'Paris' });
  assert.match(fc.call_id, /^call_[A-Za-z0-9]{24}$/);
  assert.equal(fc.status, 'completed');
  const second = await client.responses.create({
    model: 'glm-4', tools: [WEATHER],
    input: [
      { role: 'user', content: `${m} weather in Paris?` },
      { type: 'function_call', call_id: fc.call_id, name: fc.name, arguments: fc.arguments },
      { type: 'function_call_output', call_id: fc.call_id, output: 'sunny, 21 C' },
    ],
  });
  assert.equal(second.output_text, 'Sunny in Paris.');
});

test('streamed function call: arguments deltas, then output_item.done with the whole call', async () => {
  const m = await script([{ text: `Let me look. ${CALL}`, chunk: 5 }]);
  const events = await rawEvents(newToken('resp'), { model: 'glm-4', input: `${m} weather?`, tools: [WEATHER] });
  const names = events.map((e) => e.event);
  assert.ok(names.includes('response.function_call_arguments.delta'));
  const args = events.filter((e) => e.event === 'response.function_call_arguments.delta').map((e) => e.data.delta).join('');
  assert.deepEqual(JSON.parse(args), { city: 'Paris' });
  const done = events.filter((e) => e.event === 'response.output_item.done').map((e) => e.data.item);
  const call = done.find((i) => i.type === 'function_call');
  assert.equal(call.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' });
  assert.equal(events.at(-1).event, 'response.completed');
  const text = events.filter((e) => e.event === 'response.output_text.delta').map((e) => e.data.delta).join('');
  assert.equal(text.trim(), 'Let me look.');
});

test('the Vercel AI SDK openai provider runs a tool loop over the Responses API', async () => {
  const { tool, stepCountIs } = await import('ai');
  const { z } = await import('zod');
  const provider = createOpenAI({ baseURL: `${server.url}/v1`, apiKey: newToken('aisdk') });
  const m = await script([{ text: CALL, chunk: 4 }, { text: 'Sunny in Paris.' }]);
  const seen = [];
  const r = await generateText({
    model: provider('glm-4'), prompt: `${m} weather in Paris?`, maxRetries: 0, stopWhen: stepCountIs(3),
    providerOptions: { openai: { store: false } },
    tools: {
      get_weather: tool({
        description: 'The weather of a city', inputSchema: z.object({ city: z.string() }),
        execute: async (args) => { seen.push(args); return 'sunny, 21 C'; },
      }),
    },
  });
  assert.deepEqual(seen, [{ city: 'Paris' }]);
  assert.equal(r.text, 'Sunny in Paris.');
});
