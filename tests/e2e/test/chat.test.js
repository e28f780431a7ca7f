// Every upstream fixture through the official openai client, in the mock's
// v1, v2 and whole stream profiles, streamed and not.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { APIError, InternalServerError } from 'openai';
import {
  startMock, startServer, newToken, user, collect, rejection, assertCleanExit,
} from '../lib/harness.js';
import { assertChunks, assertCompletion } from '../lib/checks.js';
import {
  FIXTURES, V2_DELTA, THINK_RAW, THINK_CONTENT, SEARCH_TEXT, STREAM_ERROR_PARTIAL,
} from '../lib/expected.js';

let mock;
let server;

before(async () => {
  mock = await startMock();
  server = await startServer(mock.url);
});

// A fresh account per request: tests stay independent of each other's
// upstream tails (sequential use of one account is tested in stream.test.js).
const fresh = () => server.client(newToken('chat'));

after(async () => {
  await server?.stop();
  await mock?.stop();
});

async function nonStream(fx) {
  const what = `${fx.name} non-stream`;
  if (fx.nonStream.error) {
    const err = await rejection(fresh().chat.completions.create({ model: fx.model, messages: user(fx.prompt) }));
    assert.ok(err instanceof InternalServerError, `${what}: InternalServerError, got ${err}`);
    assert.equal(err.status, 502, `${what}: status`);
    assert.match(err.message, /10024|generator exit/, `${what}: the message names the upstream error`);
    return;
  }
  const c = await fresh().chat.completions.create({ model: fx.model, messages: user(fx.prompt) });
  assertCompletion(c, fx.model, fx.nonStream, what);
}

async function streamed(fx) {
  const what = `${fx.name} stream`;
  const stream = await fresh().chat.completions.create({
    model: fx.model, messages: user(fx.prompt), stream: true, stream_options: { include_usage: true },
  });
  const r = await collect(stream);
  if (fx.stream.error) {
    assert.ok(r.error instanceof APIError, `${what}: the SDK throws an APIError, got ${r.error}`);
    assert.match(r.error.message, /10024|generator exit/, `${what}: the error names the upstream error`);
    assert.equal(r.content, fx.stream.content, `${what}: the text before the error`);
    assert.equal(r.chunks[0]?.choices[0]?.delta?.role, 'assistant', `${what}: role chunk first`);
    return;
  }
  assertChunks(r, fx.model, fx.stream, true, what);
}

for (const profile of ['v1', 'v2']) {
  describe(`upstream profile ${profile}`, () => {
    before(async () => { await mock.config({ profile }); });
    after(async () => { await mock.config({ profile: 'v1' }); });
    for (const fx of [...FIXTURES, V2_DELTA]) {
      test(`${fx.name} (${profile}) non-stream`, () => nonStream(fx));
      test(`${fx.name} (${profile}) stream`, () => streamed(fx));
    }
  });
}

// The browser's 2026 captures: each part arrives once, already finished (spec
// 12.7). The same answers as v1 and v2, for every fixture that finishes (the
// cut and filtered ones have their text only in init frames).
describe('upstream profile whole', () => {
  before(async () => { await mock.config({ profile: 'whole' }); });
  after(async () => { await mock.config({ profile: 'v1' }); });
  for (const fx of [...FIXTURES, V2_DELTA].filter((f) => !f.stream.error && f.name !== 'chat-intervene')) {
    test(`${fx.name} (whole) non-stream`, () => nonStream(fx));
    test(`${fx.name} (whole) stream`, () => streamed(fx));
  }
});

describe('think rendering', () => {
  const prompt = '[[fixture:chat-think]] 9.11和9.9哪个大？';

  test('reasoning_format raw puts <think> inline (non-stream)', async () => {
    const c = await fresh().chat.completions.create({
      model: 'glm-4-think', messages: user(prompt), reasoning_format: 'raw',
    });
    assertCompletion(c, 'glm-4-think', { content: THINK_RAW, reasoning: '', finish: 'stop' }, 'raw non-stream');
  });

  test('reasoning_format raw puts <think> inline (stream)', async () => {
    const stream = await fresh().chat.completions.create({
      model: 'glm-4-think', messages: user(prompt), reasoning_format: 'raw', stream: true,
    });
    const r = await collect(stream);
    assertChunks(r, 'glm-4-think', { content: THINK_RAW, reasoning: '', finish: 'stop' }, false, 'raw stream');
  });

  test('a silent model drops the reasoning', async () => {
    const c = await fresh().chat.completions.create({ model: 'glm-4-silent', messages: user(prompt) });
    assertCompletion(c, 'glm-4-silent', { content: THINK_CONTENT, reasoning: '', finish: 'stop' }, 'silent think');
  });

  test('a silent model drops the search results (stream)', async () => {
    const stream = await fresh().chat.completions.create({
      model: 'glm-4-silent', messages: user('[[fixture:chat-multipart-search]] 今天北京天气怎么样？'), stream: true,
    });
    const r = await collect(stream);
    assertChunks(r, 'glm-4-silent', { content: SEARCH_TEXT, reasoning: '', finish: 'stop' }, false, 'silent search');
  });
});

describe('envelopes', () => {
  test('stream and non-stream of the same fixture agree on the text', async () => {
    const prompt = '[[fixture:chat-code-interpreter]] 用Python计算1到100的和';
    const c = await fresh().chat.completions.create({ model: 'glm-4', messages: user(prompt) });
    const r = await collect(await fresh().chat.completions.create({ model: 'glm-4', messages: user(prompt), stream: true }));
    assert.equal(r.error, null);
    assert.equal(r.content, c.choices[0].message.content);
    assert.notEqual(r.chunks[0].id, c.id, 'each answer is a new upstream conversation');
  });

  test('the model name is echoed as given', async () => {
    const model = 'glm-4-plus';
    const r = await collect(await fresh().chat.completions.create({
      model, messages: user('[[fixture:chat-plain]] hi'), stream: true, stream_options: { include_usage: true },
    }));
    assert.ok(r.chunks.length > 2);
    assert.ok(r.chunks.every((c) => c.model === model));
  });

  test('a stream error keeps the text sent before it', async () => {
    const r = await collect(await fresh().chat.completions.create({
      model: 'glm-4', messages: user('触发错误'), stream: true,
    }));
    assert.ok(r.error instanceof APIError, `the SDK throws, got ${r.error}`);
    assert.equal(r.content, STREAM_ERROR_PARTIAL, 'the trigger word selects chat-stream-error');
  });
});

test('glm-free-api exits cleanly on SIGTERM (exit 0, no sanitizer report)', async () => {
  assertCleanExit(await server.stop(), 'glm-free-api');
});

test('mock-chatglm exits cleanly on SIGTERM', async () => {
  assertCleanExit(await mock.stop(), 'mock-chatglm');
});
