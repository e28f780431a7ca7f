// The small endpoints, CORS and --url-prefix.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { NotFoundError } from 'openai';
import { startMock, startServer, newToken, user, rejection, assertCleanExit } from '../lib/harness.js';
import { PLAIN } from '../lib/expected.js';

let mock;
let server;
let prefixed;

before(async () => {
  mock = await startMock();
  server = await startServer(mock.url);
  prefixed = await startServer(mock.url, ['--url-prefix', '/glm']);
});

after(async () => {
  await server?.stop();
  await prefixed?.stop();
  await mock?.stop();
});

describe('small endpoints', () => {
  test('GET /ping answers pong', async () => {
    const res = await fetch(`${server.url}/ping`);
    assert.equal(res.status, 200);
    assert.equal((await res.text()).trim(), 'pong');
  });

  test('GET / is an HTML page that mentions /v1/chat/completions', async () => {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    assert.match(html, /<html/i);
    assert.match(html, /\/v1\/chat\/completions/);
  });

  test('GET /v1/models lists the model names (SDK)', async () => {
    const ids = [];
    for await (const m of server.client(newToken('models')).models.list()) {
      assert.equal(m.object, 'model');
      assert.equal(typeof m.owned_by, 'string');
      assert.ok(Number.isInteger(m.created));
      ids.push(m.id);
    }
    for (const want of ['glm-4', 'glm-4-think', 'glm-4-zero', 'glm-4-deepresearch', 'glm-4-silent'])
      assert.ok(ids.includes(want), `${want} listed (got ${ids.join(', ')})`);
    assert.equal(new Set(ids).size, ids.length, 'no duplicates');
  });

  test('HEAD /ping answers without a body', async () => {
    const res = await fetch(`${server.url}/ping`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), '');
  });
});

describe('CORS', () => {
  test('OPTIONS preflight: 204 with access-control headers', async () => {
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://chat.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /authorization/i);
    assert.equal(await res.text(), '');
  });

  test('ordinary answers carry access-control-allow-origin', async () => {
    const res = await fetch(`${server.url}/v1/models`, { headers: { origin: 'https://chat.example.com' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
  });
});

describe('--url-prefix /glm', () => {
  test('the listening line names the prefix', () => {
    assert.equal(prefixed.prefix, '/glm');
  });

  test('/glm/v1/models is served (SDK with base URL .../glm/v1)', async () => {
    const page = await prefixed.client(newToken('prefix')).models.list();
    assert.ok(page.data.some((m) => m.id === 'glm-4'));
  });

  test('/v1/models without the prefix is 404', async () => {
    const res = await fetch(`${prefixed.base}/v1/models`);
    assert.equal(res.status, 404);
    const body = await res.json();
    assert.match(body.error.message, /\/glm/);
  });

  test('chat works under the prefix', async () => {
    const c = await prefixed.client(newToken('prefix')).chat.completions.create({
      model: 'glm-4', messages: user('[[fixture:chat-plain]] hi'),
    });
    assert.equal(c.choices[0].message.content, PLAIN);
  });

  test('/glm/ping answers pong', async () => {
    const res = await fetch(`${prefixed.base}/glm/ping`);
    assert.equal((await res.text()).trim(), 'pong');
  });

  test('an SDK without the prefix gets NotFoundError', async () => {
    const c = new OpenAI({ baseURL: `${prefixed.base}/v1`, apiKey: 'x', maxRetries: 0, timeout: 20000 });
    const err = await rejection(c.models.list());
    assert.ok(err instanceof NotFoundError, `got ${err}`);
  });
});

test('glm-free-api exits cleanly on SIGTERM (exit 0, no sanitizer report)', async () => {
  assertCleanExit(await server.stop(), 'glm-free-api');
});

test('glm-free-api --url-prefix exits cleanly on SIGTERM', async () => {
  assertCleanExit(await prefixed.stop(), 'glm-free-api --url-prefix');
});

test('mock-chatglm exits cleanly on SIGTERM', async () => {
  assertCleanExit(await mock.stop(), 'mock-chatglm');
});
