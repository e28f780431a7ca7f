// Error answers: OpenAI's envelope with the real HTTP status, as the official
// client sees them.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  APIError, AuthenticationError, BadRequestError, InternalServerError, NotFoundError, RateLimitError,
} from 'openai';
import { startMock, startServer, newToken, user, rejection, assertCleanExit } from '../lib/harness.js';

let mock;
let server;
let client;

before(async () => {
  mock = await startMock();
  server = await startServer(mock.url, ['--idle-timeout', '2', '--max-body', '4096']);
  client = server.client(newToken('err'));
});

after(async () => {
  await server?.stop();
  await mock?.stop();
});

function assertEnvelope(body, what) {
  assert.ok(body && typeof body.error === 'object' && body.error, `${what}: {"error":{...}}`);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type'], `${what}: error fields`);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  assert.equal(typeof body.error.type, 'string');
}

async function post(path, body, headers = {}) {
  const res = await fetch(server.url + path, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body,
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* checked by the caller */ }
  return { res, text, json };
}

// A fresh account per upstream call, so tests do not share account state.
const chat = (prompt, extra = {}) =>
  server.client(newToken('err')).chat.completions.create({ model: 'glm-4', messages: user(prompt), ...extra });

describe('authorization', () => {
  test('no Authorization header: 401 (fetch)', async () => {
    const { res, json, text } = await post('/v1/chat/completions',
      JSON.stringify({ model: 'glm-4', messages: user('[[fixture:chat-plain]] hi') }));
    assert.equal(res.status, 401, text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assertEnvelope(json, '401');
    assert.equal(json.error.code, 'missing_api_key');
    assert.match(json.error.message, /Authorization/);
  });

  test('no Authorization header: AuthenticationError (SDK)', async () => {
    const err = await rejection(client.chat.completions.create(
      { model: 'glm-4', messages: user('[[fixture:chat-plain]] hi') }, { headers: { Authorization: null } }));
    assert.ok(err instanceof AuthenticationError, `got ${err}`);
    assert.equal(err.status, 401);
  });

  test('a dead refresh token: 401 naming the refresh token', async () => {
    const err = await rejection(server.client(`dead-${newToken('dead')}`).chat.completions.create(
      { model: 'glm-4', messages: user('[[fixture:chat-plain]] hi') }));
    assert.ok(err instanceof AuthenticationError, `got ${err}`);
    assert.equal(err.status, 401);
    assert.match(err.message, /refresh[ _]token/i);
  });

  test('a dead refresh token, streaming: 401 before the stream', async () => {
    const err = await rejection(server.client(`dead-${newToken('dead')}`).chat.completions.create(
      { model: 'glm-4', messages: user('[[fixture:chat-plain]] hi'), stream: true }));
    assert.ok(err instanceof AuthenticationError, `got ${err}`);
    assert.equal(err.status, 401);
  });

  test('an account marked dead in the mock: 401', async () => {
    const token = newToken('marked');
    await mock.tokens(token, 'dead');
    const err = await rejection(server.client(token).chat.completions.create(
      { model: 'glm-4', messages: user('[[fixture:chat-plain]] hi') }));
    assert.ok(err instanceof AuthenticationError, `got ${err}`);
  });
});

describe('upstream failures', () => {
  test('account busy: RateLimitError 429 with retry-after', async () => {
    const err = await rejection(chat('[[scenario:busy]] hi'));
    assert.ok(err instanceof RateLimitError, `got ${err}`);
    assert.equal(err.status, 429);
    assert.match(err.headers?.get('retry-after') ?? '', /^\d+$/, 'a retry-after header');
    assert.equal(err.code, 'account_busy');
  });

  test('account busy while streaming: RateLimitError before the stream', async () => {
    const err = await rejection(chat('[[scenario:busy]] hi', { stream: true }));
    assert.ok(err instanceof RateLimitError, `got ${err}`);
    assert.ok(err.headers?.get('retry-after'));
  });

  test('an account marked busy in the mock: 429', async () => {
    const token = newToken('busy');
    await mock.tokens(token, 'busy');
    const err = await rejection(server.client(token).chat.completions.create(
      { model: 'glm-4', messages: user('[[fixture:chat-plain]] hi') }));
    assert.ok(err instanceof RateLimitError, `got ${err}`);
  });

  test('upstream answers JSON instead of SSE: 502', async () => {
    const err = await rejection(chat('[[scenario:non-sse]] hi'));
    assert.ok(err instanceof InternalServerError, `got ${err}`);
    assert.equal(err.status, 502);
  });

  test('upstream HTTP 500: 502', async () => {
    const err = await rejection(chat('[[scenario:http500]] hi'));
    assert.ok(err instanceof InternalServerError, `got ${err}`);
    assert.equal(err.status, 502);
  });

  test('upstream HTTP 500 while streaming: 502 before the stream', async () => {
    const err = await rejection(chat('[[scenario:http500]] hi', { stream: true }));
    assert.ok(err instanceof InternalServerError, `got ${err}`);
    assert.equal(err.status, 502);
  });

  test('upstream signature rejection (40001): 502', async () => {
    const err = await rejection(chat('[[scenario:error:missing-signature-40001]] hi'));
    assert.ok(err instanceof InternalServerError, `got ${err}`);
    assert.equal(err.status, 502);
  });

  test('upstream never answers (idle-timeout 2): 504', async () => {
    const t0 = Date.now();
    const err = await rejection(chat('[[scenario:stall-before]] hi'));
    assert.ok(err instanceof InternalServerError, `got ${err}`);
    assert.equal(err.status, 504);
    const took = Date.now() - t0;
    assert.ok(took >= 1500 && took < 5000, `after about 2 s, not ${took} ms`);
  });

  test('the stalled upstream connection is released after the timeout', async () => {
    const open = async () => (await mock.stats()).streams_open;
    const deadline = Date.now() + 2000;
    while ((await open()) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await open(), 0);
  });
});

describe('bad requests', () => {
  test('malformed JSON: 400 with the OpenAI error envelope', async () => {
    const { res, json, text } = await post('/v1/chat/completions', '{"model": "glm-4", "messages": [',
      { authorization: `Bearer ${newToken('bad')}` });
    assert.equal(res.status, 400, text);
    assertEnvelope(json, 'malformed JSON');
    assert.equal(json.error.type, 'invalid_request_error');
    assert.equal(json.error.code, 'invalid_json');
  });

  const cases = [
    ['messages missing', { model: 'glm-4' }, 'messages', 'missing_required_parameter'],
    ['messages empty', { model: 'glm-4', messages: [] }, 'messages', 'empty_array'],
    ['messages not an array', { model: 'glm-4', messages: 'hello' }, 'messages', 'invalid_type'],
    ['a message without role', { model: 'glm-4', messages: [{ content: 'hi' }] }, 'messages[0].role', 'invalid_type'],
    ['a message that is not an object', { model: 'glm-4', messages: ['hi'] }, 'messages[0]', 'invalid_type'],
  ];
  for (const [name, body, param, code] of cases) {
    test(`${name}: BadRequestError 400`, async () => {
      const err = await rejection(client.chat.completions.create(body));
      assert.ok(err instanceof BadRequestError, `got ${err}`);
      assert.equal(err.status, 400);
      assert.equal(err.param, param);
      assert.equal(err.code, code);
      assert.equal(err.type, 'invalid_request_error');
    });
  }

  test('a body over --max-body 4096: 413', async () => {
    const err = await rejection(chat('x'.repeat(5000)));
    assert.ok(err instanceof APIError, `got ${err}`);
    assert.equal(err.status, 413, `got ${err}`);
    assert.ok(err.error?.message, 'an OpenAI error body');
  });

  test('a body just under --max-body is accepted', async () => {
    const c = await chat('[[fixture:chat-plain]] ' + 'x'.repeat(3500));
    assert.equal(c.object, 'chat.completion');
  });
});

describe('routes', () => {
  test('unknown route: NotFoundError 404 naming the known routes', async () => {
    const err = await rejection(client.get('/no/such/route'));
    assert.ok(err instanceof NotFoundError, `got ${err}`);
    assert.equal(err.status, 404);
    assert.match(err.message, /POST \/v1\/chat\/completions/);
    assert.match(err.message, /GET \/v1\/models/);
  });

  test('wrong method: 405 with Allow', async () => {
    const err = await rejection(client.get('/chat/completions'));
    assert.ok(err instanceof APIError, `got ${err}`);
    assert.equal(err.status, 405);
    assert.match(err.headers?.get('allow') ?? '', /POST/);
    assert.ok(err.error?.message);
  });
});

test('glm-free-api exits cleanly on SIGTERM (exit 0, no sanitizer report)', async () => {
  assertCleanExit(await server.stop(), 'glm-free-api');
});

test('mock-chatglm exits cleanly on SIGTERM', async () => {
  assertCleanExit(await mock.stop(), 'mock-chatglm');
});
