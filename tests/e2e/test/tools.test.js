// Tool calling, JSON output, stop strings and max_tokens on /v1/chat/completions
// (issue 13), against scripted model answers (the mock's POST /_mock/script:
// what the model "writes", cut into frames as finely as asked), through the
// official openai SDK, the Vercel AI SDK and LangChain.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { APIError } from 'openai';
import {
  startMock, startServer, newToken, collect, rejection, promptOf, PATH_STREAM,
} from '../lib/harness.js';

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

const fresh = () => server.client(newToken('tools'));
const CALL_ID = /^call_[A-Za-z0-9]{24}$/;

// Registers a script and returns its marker for a user message.
async function script(replies) {
  const name = `s${randomBytes(6).toString('hex')}`;
  await mock.call('POST', '/_mock/script', { name, replies });
  return `[[script:${name}]]`;
}

const WEATHER = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather of a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, days: { type: 'integer' } },
      required: ['city'],
    },
  },
};
const TIME = { type: 'function', function: { name: 'get_time', description: 'The time now', parameters: { type: 'object', properties: {} } } };

const OURS = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}</tool_call>';
const NATIVE = '<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n</tool_call>';
const ARGS = '{"city":"Paris","days":2}';

// The streamed answer's parts: content, reasoning, the calls as the deltas
// build them, the finish reason, and checks of the tool-call delta shape.
async function streamed(body, client = fresh()) {
  const s = await client.chat.completions.create({ ...body, stream: true });
  const r = await collect(s);
  if (r.error) throw r.error;
  const calls = [];
  let finish = null;
  let reasoning = '';
  for (const c of r.chunks) {
    const ch = c.choices[0];
    if (!ch) continue;
    if (ch.delta?.reasoning_content) reasoning += ch.delta.reasoning_content;
    for (const tc of ch.delta?.tool_calls || []) {
      assert.equal(typeof tc.index, 'number');
      if (!calls[tc.index]) {
        assert.match(tc.id, CALL_ID, 'the first delta of a call has its id');
        assert.equal(tc.type, 'function');
        assert.equal(typeof tc.function.name, 'string');
        assert.equal(typeof tc.function.arguments, 'string');
        calls[tc.index] = { id: tc.id, name: tc.function.name, arguments: tc.function.arguments };
      } else {
        assert.equal(tc.id, undefined, 'later deltas carry only the index and arguments');
        calls[tc.index].arguments += tc.function?.arguments || '';
      }
    }
    if (ch.finish_reason) finish = ch.finish_reason;
  }
  assert.equal(r.chunks[0].choices[0].delta.role, 'assistant', 'the first chunk is the role');
  return { content: r.content, reasoning, calls, finish, chunks: r.chunks };
}

describe('tool calls, openai SDK', () => {
  test('our format, not streamed: text before the call, the exact call', async () => {
    const m = await script([{ text: `Let me check.\n${OURS}\nI will wait.` }]);
    const c = await fresh().chat.completions.create({
      model: 'glm-4', messages: [{ role: 'user', content: `${m} weather in Paris?` }], tools: [WEATHER, TIME],
    });
    const msg = c.choices[0].message;
    assert.equal(c.choices[0].finish_reason, 'tool_calls');
    assert.equal(msg.content, 'Let me check.\n');
    assert.equal(msg.tool_calls.length, 1);
    assert.match(msg.tool_calls[0].id, CALL_ID);
    assert.equal(msg.tool_calls[0].type, 'function');
    assert.deepEqual(msg.tool_calls[0].function, { name: 'get_weather', arguments: ARGS });
    assert.ok(c.usage.completion_tokens > 10, 'usage counts the tool text');
  });

  for (const [name, call] of [['ours', OURS], ['native', NATIVE]]) {
    test(`${name} format streamed one character per frame, text before and after`, async () => {
      const m = await script([{ text: `Sure.${call}\nDone!`, chunk: 1 }]);
      const r = await streamed({ model: 'glm-4', messages: [{ role: 'user', content: `${m} go` }], tools: [WEATHER] });
      assert.equal(r.content, 'Sure.');
      assert.equal(r.calls.length, 1);
      assert.deepEqual({ name: r.calls[0].name, arguments: r.calls[0].arguments }, { name: 'get_weather', arguments: ARGS });
      assert.equal(r.finish, 'tool_calls');
      assert.ok(!r.content.includes('<'), 'no markup in the content');
    });
  }

  test('a call the model fenced: the fence is not content; a required bare-JSON call is a call', async () => {
    const m = await script([{ text: `Sure:\n\`\`\`json\n${OURS}\n\`\`\`\n`, chunk: 2 }]);
    const r = await streamed({ model: 'glm-4', messages: [{ role: 'user', content: `${m} go` }], tools: [WEATHER] });
    assert.equal(r.content, 'Sure:\n');
    assert.deepEqual(r.calls.map((c) => [c.name, c.arguments]), [['get_weather', ARGS]]);
    const m2 = await script([{ text: '```json\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}\n```' }]);
    const c = await fresh().chat.completions.create({
      model: 'glm-4', messages: [{ role: 'user', content: `${m2} go` }], tools: [WEATHER], tool_choice: 'required',
    });
    assert.equal(c.choices[0].message.content, null);
    assert.equal(c.choices[0].message.tool_calls[0].function.arguments, ARGS);
  });

  test('two calls at once, in both formats: indexes 0 and 1, distinct ids', async () => {
    const m = await script([{ text: `${NATIVE}\n<tool_call>{"name":"get_time"}</tool_call>`, chunk: 3 }]);
    const r = await streamed({ model: 'glm-4', messages: [{ role: 'user', content: `${m} both` }], tools: [WEATHER, TIME] });
    assert.equal(r.content, '');
    assert.deepEqual(r.calls.map((c) => [c.name, c.arguments]), [['get_weather', ARGS], ['get_time', '{}']]);
    assert.notEqual(r.calls[0].id, r.calls[1].id);
    assert.equal(r.finish, 'tool_calls');
    const n = await fresh().chat.completions.create({
      model: 'glm-4', messages: [{ role: 'user', content: `${await script([{ text: `${NATIVE}<tool_call>{"name":"get_time"}</tool_call>` }])} both` }], tools: [WEATHER, TIME],
    });
    assert.equal(n.choices[0].message.content, null);
    assert.deepEqual(n.choices[0].message.tool_calls.map((c) => c.function.name), ['get_weather', 'get_time']);
  });

  test('markup in reasoning and undeclared names are not calls', async () => {
    const m = await script([{ think: `maybe ${NATIVE}`, text: 'No call: <tool_call>rm_rf\n</tool_call> ok', chunk: 2 }]);
    const r = await streamed({ model: 'glm-4', messages: [{ role: 'user', content: `${m} x` }], tools: [WEATHER] });
    assert.equal(r.calls.length, 0);
    assert.equal(r.content, 'No call: <tool_call>rm_rf\n</tool_call> ok');
    assert.equal(r.reasoning, `maybe ${NATIVE}`);
    assert.equal(r.finish, 'stop');
  });

  test('invalid arguments get one repair turn on the same conversation', async () => {
    const bad = '<tool_call>{"name":"get_weather","arguments":{"days":"two"}}</tool_call>';
    const m = await script([{ text: `Checking. ${bad}`, chunk: 4 }, { text: OURS }]);
    const mark = await mock.mark();
    const r = await streamed({ model: 'glm-4', messages: [{ role: 'user', content: `${m} x` }], tools: [WEATHER] });
    assert.equal(r.content, 'Checking. ');
    assert.deepEqual(r.calls.map((c) => [c.name, c.arguments]), [['get_weather', ARGS]]);
    assert.equal(r.finish, 'tool_calls');
    const reqs = await mock.requestsSince(mark, PATH_STREAM);
    assert.equal(reqs.length, 2, 'one repair turn');
    assert.equal(reqs[0].json.conversation_id, '');
    assert.match(reqs[1].json.conversation_id, /^[0-9a-f]{24}$/, 'the repair continues the conversation');
    assert.match(promptOf(reqs[1]), /the call of get_weather is invalid: arguments: the required property "city" is missing/);
  });

  test('what the repair does not fix is text with finish_reason stop', async () => {
    const bad = '<tool_call>{"name":"get_weather","arguments":{}}</tool_call>';
    const m = await script([{ text: bad }, { text: bad }]);
    const c = await fresh().chat.completions.create({ model: 'glm-4', messages: [{ role: 'user', content: `${m} x` }], tools: [WEATHER] });
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.equal(c.choices[0].message.content, bad);
    assert.equal(c.choices[0].message.tool_calls, undefined);
  });

  test('tool_choice required: no call gets a repair turn; a named choice is told', async () => {
    const m = await script([{ text: 'I would rather chat.' }, { text: OURS }]);
    const mark = await mock.mark();
    const c = await fresh().chat.completions.create({
      model: 'glm-4', messages: [{ role: 'user', content: `${m} x` }], tools: [WEATHER, TIME], tool_choice: 'required',
    });
    assert.equal(c.choices[0].finish_reason, 'tool_calls');
    assert.equal(c.choices[0].message.content, null);
    const reqs = await mock.requestsSince(mark, PATH_STREAM);
    assert.match(promptOf(reqs[0]), /You must call at least one of the functions now/);
    assert.match(promptOf(reqs[1]), /no tool call, and one is required/);
  });

  test('tool_choice none sends no tool text; history is rendered with ids', async () => {
    const m = await script([{ text: 'It is sunny.' }]);
    const mark = await mock.mark();
    const c = await fresh().chat.completions.create({
      model: 'glm-4',
      tools: [WEATHER],
      tool_choice: 'none',
      messages: [
        { role: 'user', content: `${m} weather?` },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_abc', content: [{ type: 'text', text: 'sunny, 21 C' }] },
      ],
    });
    assert.equal(c.choices[0].message.content, 'It is sunny.');
    const p = promptOf((await mock.requestsSince(mark, PATH_STREAM))[0]);
    assert.doesNotMatch(p, /# Tools/);
    assert.match(p, /<tool_call>\{"name":"get_weather","arguments":\{"city":"Paris"\}\}<\/tool_call>/);
    assert.match(p, /<tool_response tool_call_id="call_abc" name="get_weather">\nsunny, 21 C\n<\/tool_response>/);
  });

  test('chat.completions.runTools runs a two-step tool loop to the end', async () => {
    const m = await script([{ text: OURS, chunk: 5 }, { text: 'In Paris it is sunny, 21 C.' }]);
    const seen = [];
    const runner = fresh().chat.completions.runTools({
      model: 'glm-4',
      messages: [{ role: 'user', content: `${m} weather in Paris?` }],
      tools: [{
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'The weather of a city',
          parameters: WEATHER.function.parameters,
          parse: JSON.parse,
          function: (args) => { seen.push(args); return 'sunny, 21 C'; },
        },
      }],
    });
    const final = await runner.finalContent();
    assert.equal(final, 'In Paris it is sunny, 21 C.');
    assert.deepEqual(seen, [{ city: 'Paris', days: 2 }]);
    const msgs = runner.messages;
    const call = msgs.find((x) => x.role === 'assistant' && x.tool_calls)?.tool_calls[0];
    assert.match(call.id, CALL_ID);
    assert.equal(msgs.find((x) => x.role === 'tool').tool_call_id, call.id);
  });
});

describe('tool calls, other SDKs', () => {
  test('Vercel AI SDK generateText and streamText through @ai-sdk/openai-compatible', async () => {
    const { generateText, streamText, tool, stepCountIs } = await import('ai');
    const { createOpenAICompatible } = await import('@ai-sdk/openai-compatible');
    const { z } = await import('zod');
    for (const mode of ['generate', 'stream']) {
      const provider = createOpenAICompatible({ name: 'glm', baseURL: `${server.url}/v1`, apiKey: newToken('ai') });
      const m = await script([{ text: OURS, chunk: 7 }, { text: 'Sunny in Paris.' }]);
      const calls = [];
      const opts = {
        model: provider.chatModel('glm-4'),
        prompt: `${m} weather in Paris?`,
        tools: {
          get_weather: tool({
            description: 'The weather of a city',
            inputSchema: z.object({ city: z.string(), days: z.number().int().optional() }),
            execute: async (args) => { calls.push(args); return 'sunny'; },
          }),
        },
        stopWhen: stepCountIs(3),
        maxRetries: 0,
      };
      let text;
      let steps;
      if (mode === 'generate') {
        const r = await generateText(opts);
        text = r.text;
        steps = r.steps;
      } else {
        const r = streamText(opts);
        text = await r.text;
        steps = await r.steps;
      }
      assert.equal(text, 'Sunny in Paris.', mode);
      assert.deepEqual(calls, [{ city: 'Paris', days: 2 }], mode);
      assert.match(steps[0].toolCalls[0].toolCallId, CALL_ID, mode);
      assert.equal(steps[0].finishReason, 'tool-calls', mode);
    }
  });

  test('LangChain bindTools, then the tool message fed back', async () => {
    const { ChatOpenAI } = await import('@langchain/openai');
    const { tool } = await import('@langchain/core/tools');
    const { HumanMessage, ToolMessage } = await import('@langchain/core/messages');
    const { z } = await import('zod');
    const weather = tool(async () => 'sunny', {
      name: 'get_weather', description: 'The weather of a city', schema: z.object({ city: z.string(), days: z.number().optional() }),
    });
    const llm = new ChatOpenAI({ model: 'glm-4', apiKey: newToken('lc'), configuration: { baseURL: `${server.url}/v1` }, maxRetries: 0 });
    const m = await script([{ text: NATIVE }, { text: 'It is sunny in Paris.' }]);
    const bound = llm.bindTools([weather]);
    const human = new HumanMessage(`${m} weather in Paris?`);
    const ai = await bound.invoke([human]);
    assert.equal(ai.tool_calls.length, 1);
    assert.equal(ai.tool_calls[0].name, 'get_weather');
    assert.deepEqual(ai.tool_calls[0].args, { city: 'Paris', days: 2 });
    assert.match(ai.tool_calls[0].id, CALL_ID);
    const mark = await mock.mark();
    const fin = await bound.invoke([human, ai, new ToolMessage({ tool_call_id: ai.tool_calls[0].id, content: 'sunny' })]);
    assert.equal(fin.content, 'It is sunny in Paris.');
    const p = promptOf((await mock.requestsSince(mark, PATH_STREAM))[0]);
    assert.ok(p.includes(`<tool_response tool_call_id="${ai.tool_calls[0].id}" name="get_weather">\nsunny\n</tool_response>`));
  });
});

describe('JSON output, stop and length', () => {
  test('json_object: fenced and chatty text give exactly the document', async () => {
    for (const text of ['```json\n{"a": [1, 2], "b": "x}"}\n```', 'Sure! Here you go: {"a": [1, 2], "b": "x}"} Anything else?']) {
      const m = await script([{ text, chunk: 3 }]);
      const body = { model: 'glm-4', messages: [{ role: 'user', content: `${m} json` }], response_format: { type: 'json_object' } };
      const c = await fresh().chat.completions.create(body);
      assert.equal(c.choices[0].message.content, '{"a": [1, 2], "b": "x}"}');
      const r = await streamed(body);
      assert.equal(r.content, '{"a": [1, 2], "b": "x}"}');
      assert.equal(r.finish, 'stop');
    }
  });

  test('json_schema: a failing document gets a repair turn; what stays wrong is a 502', async () => {
    const schema = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] };
    const rf = { type: 'json_schema', json_schema: { name: 'n', schema, strict: true } };
    let m = await script([{ text: '{"n": "three"}' }, { text: 'Fixed: {"n": 3}' }]);
    const c = await fresh().chat.completions.create({ model: 'glm-4', messages: [{ role: 'user', content: `${m} n?` }], response_format: rf });
    assert.equal(c.choices[0].message.content, '{"n": 3}');
    m = await script([{ text: 'no' }, { text: 'still no' }]);
    const err = await rejection(fresh().chat.completions.create({ model: 'glm-4', messages: [{ role: 'user', content: `${m} n?` }], response_format: rf, stream: true }).then(collect).then((r) => { if (r.error) throw r.error; }));
    assert.ok(err instanceof APIError);
    assert.equal(err.status, 502);
    assert.match(err.message, /no JSON object/);
  });

  test('stop strings split across frames cut the answer, streamed and not', async () => {
    for (const stream of [false, true]) {
      const m = await script([{ text: 'one two THE END three', chunk: 1 }]);
      const body = { model: 'glm-4', messages: [{ role: 'user', content: `${m} x` }], stop: ['THE END', 'zzz'] };
      if (stream) {
        const r = await streamed(body);
        assert.equal(r.content, 'one two ');
        assert.equal(r.finish, 'stop');
      } else {
        const c = await fresh().chat.completions.create(body);
        assert.equal(c.choices[0].message.content, 'one two ');
        assert.equal(c.choices[0].finish_reason, 'stop');
      }
    }
  });

  test('max_tokens cuts the answer by the estimate with finish_reason length', async () => {
    const m = await script([{ text: '你好世界，今天天气很好。', chunk: 2 }]);
    const r = await streamed({ model: 'glm-4', messages: [{ role: 'user', content: `${m} x` }], max_tokens: 3, stream_options: { include_usage: true } });
    assert.equal(r.content, '你好世');
    assert.equal(r.finish, 'length');
    const usage = r.chunks[r.chunks.length - 1].usage;
    assert.equal(usage.completion_tokens, 3);
    const c = await fresh().chat.completions.create({ model: 'glm-4', messages: [{ role: 'user', content: `${await script([{ text: 'abcd efgh ijkl' }])} x` }], max_completion_tokens: 2 });
    assert.equal(c.choices[0].message.content, 'abcd efgh '); // whitespace is free
    assert.equal(c.choices[0].finish_reason, 'length');
  });
});

describe('refusals', () => {
  const cases = [
    [{ n: 2 }, /'n' must be 1/],
    [{ logprobs: true }, /'logprobs' and 'top_logprobs' are not supported/],
    [{ modalities: ['text', 'audio'], audio: { voice: 'alloy', format: 'mp3' } }, /may only hold "text"/],
    [{ tools: [WEATHER], tool_choice: { type: 'function', function: { name: 'nope' } } }, /names the function "nope", which is not in 'tools'/],
    [{ tools: Array.from({ length: 129 }, (_, i) => ({ type: 'function', function: { name: `f${i}` } })) }, /has 129 tools; the limit is 128/],
    [{ tools: [{ type: 'function', function: { name: 'f', description: 'x'.repeat(300 * 1024) } }] }, /pass the limit of 256 KiB/],
    [{ stop: ['a', 'b', 'c', 'd', 'e'] }, /up to 4 strings/],
    [{ max_tokens: 0 }, /positive integer/],
    [{ response_format: { type: 'xml' } }, /must be "text", "json_object" or "json_schema"/],
  ];
  for (const [extra, want] of cases) {
    test(`400 for ${JSON.stringify(extra).slice(0, 60)}`, async () => {
      const mark = await mock.mark();
      const err = await rejection(fresh().chat.completions.create({ model: 'glm-4', messages: [{ role: 'user', content: 'hi' }], ...extra }));
      assert.ok(err instanceof APIError, String(err));
      assert.equal(err.status, 400);
      assert.match(err.message, want);
      assert.equal((await mock.requestsSince(mark, PATH_STREAM)).length, 0, 'nothing went upstream');
    });
  }
});

describe("OpenAI's published schema", () => {
  test('GET /v1/models/{model} (models.retrieve); an unknown model is a 404', async () => {
    const client = fresh();
    const list = await client.models.list();
    const id = list.data[0].id;
    const m = await client.models.retrieve(id);
    assert.deepEqual(m, list.data[0]);
    const err = await rejection(client.models.retrieve('no-such-model'));
    assert.equal(err.status, 404);
    assert.match(err.message, /'no-such-model' does not exist/);
  });

  test('"refusal": null in messages; "usage": null on chunks before the usage chunk', async () => {
    const m = await script([{ text: 'plain answer', chunk: 4 }]);
    const c = await fresh().chat.completions.create({ model: 'glm-4', messages: [{ role: 'user', content: `${m} x` }] });
    assert.equal(c.choices[0].message.refusal, null);
    assert.ok('refusal' in c.choices[0].message);
    const m2 = await script([{ text: `a ${OURS}`, chunk: 4 }]);
    const r = await streamed({ model: 'glm-4', messages: [{ role: 'user', content: `${m2} x` }], tools: [WEATHER], stream_options: { include_usage: true } });
    const last = r.chunks[r.chunks.length - 1];
    assert.deepEqual(last.choices, []);
    assert.ok(last.usage.completion_tokens > 5);
    for (const ch of r.chunks.slice(0, -1)) assert.equal(ch.usage, null, 'usage is null before the usage chunk');
  });
});

describe('a long tool call keeps the stream alive', () => {
  test('the role chunk comes first and keep-alives flow while the call is held back', async () => {
    const slow = await startServer(mock.url, ['--keepalive-interval', '1']);
    try {
      const m = await script([{ text: `Writing.${OURS}`, chunk: 12 }]);
      await mock.config({ delay_ms: 400 });
      const res = await fetch(`${slow.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${newToken('ka')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'glm-4', stream: true, messages: [{ role: 'user', content: `${m} go` }], tools: [WEATHER] }),
      });
      const text = await res.text();
      const role = text.indexOf('"role":"assistant"');
      const ka = text.indexOf(': keep-alive');
      const call = text.indexOf('"tool_calls"');
      assert.ok(role >= 0 && ka > role && call > ka, `role, then a keep-alive, then the call:\n${text.slice(0, 2000)}`);
      assert.match(text, /"finish_reason":"tool_calls"/);
    } finally {
      await mock.config({ delay_ms: 0 });
      await slow.stop();
    }
  });
});
