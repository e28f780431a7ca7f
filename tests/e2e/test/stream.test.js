// Streaming behaviour: headers, client aborts, broken upstreams, keep-alive
// comments, and a plain curl -N client.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { APIError } from 'openai';
import {
  startMock, startServer, newToken, user, collect, waitFor, sleep, assertCleanExit, PATH_DELETE, PATH_STOP, OBJECT_ID,
} from '../lib/harness.js';
import { PLAIN } from '../lib/expected.js';

let mock;
let server;

before(async () => {
  mock = await startMock();
  server = await startServer(mock.url, ['--keepalive-interval', '1']);
});

after(async () => {
  await server?.stop();
  await mock?.stop();
});

// Each test uses a fresh account, so that one test's upstream stream (whose
// end may come a moment after the client's answer) never makes the next one
// "busy"; that case has its own test below.
const fresh = () => server.client(newToken('stream'));
const streamOf = (prompt, opts) =>
  fresh().chat.completions.create({ model: 'glm-4', messages: user(prompt), stream: true }, opts);

describe('headers', () => {
  test('a stream answers with SSE headers and a request id', async () => {
    const { data, response } = await streamOf('[[fixture:chat-plain]] hi').withResponse();
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    assert.equal(response.headers.get('x-accel-buffering'), 'no');
    assert.match(response.headers.get('x-request-id') ?? '', /\S/);
    assert.equal(response.headers.get('access-control-allow-origin'), '*');
    const r = await collect(data);
    assert.equal(r.error, null);
    assert.equal(r.content, PLAIN);
  });

  test('a valid X-Request-Id from the client is echoed', async () => {
    const { data, response } = await streamOf('[[fixture:chat-plain]] hi',
      { headers: { 'X-Request-Id': 'e2e-request-42' } }).withResponse();
    assert.equal(response.headers.get('x-request-id'), 'e2e-request-42');
    await collect(data);
  });

  test('a non-stream answer has a JSON content type and a request id', async () => {
    const { data, response } = await fresh().chat.completions.create(
      { model: 'glm-4', messages: user('[[fixture:chat-plain]] hi') }).withResponse();
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(response.headers.get('x-request-id') ?? '', /\S/);
    assert.equal(data.choices[0].message.content, PLAIN);
  });
});

describe('client aborts', () => {
  for (const scenario of ['stall', 'trickle']) {
    test(`aborting mid-stream (${scenario}) closes the upstream stream, stops the answer and deletes the conversation`, async () => {
      const mark = await mock.mark();
      const ac = new AbortController();
      const stream = await streamOf(`[[scenario:${scenario}]] hi`, { signal: ac.signal });
      let id = null;
      const r = await collect(stream, (chunk) => {
        id = chunk.id;
        ac.abort();
        return false;
      });
      assert.equal(r.error, null, `aborting is not an error for the SDK (${r.error})`);
      assert.match(id ?? '', OBJECT_ID, 'the first chunk came');
      const t0 = Date.now();
      const closed = await waitFor(async () => (await mock.stats()).streams_open === 0, 1000);
      assert.ok(closed, `streams_open back to 0 within a second (${(await mock.stats()).streams_open})`);
      assert.ok(Date.now() - t0 <= 1500);
      const del = await waitFor(async () => (await mock.requestsSince(mark, PATH_DELETE))
        .find((q) => q.json?.conversation_ids?.includes(id)), 2000);
      assert.ok(del, 'a delete call for the abandoned conversation');
      // stop_stream for the answer's message id first (spec 12.6), then the delete
      const reqs = await mock.requestsSince(mark);
      const stopAt = reqs.findIndex((q) => q.path === PATH_STOP);
      const delAt = reqs.findIndex((q) => q.path === PATH_DELETE && q.json?.conversation_ids?.includes(id));
      assert.ok(stopAt >= 0, 'a stop_stream call');
      assert.ok(stopAt < delAt, 'stop_stream before the delete');
      assert.match(reqs[stopAt].json.history_id, OBJECT_ID);
      assert.notEqual(reqs[stopAt].json.history_id, id, 'the message id, not the conversation id');
    });
  }

  test('the server keeps serving after aborted streams', async () => {
    const c = await fresh().chat.completions.create({ model: 'glm-4', messages: user('[[fixture:chat-plain]] hi') });
    assert.equal(c.choices[0].message.content, PLAIN);
  });
});

describe('broken upstreams', () => {
  test('the upstream closes mid-answer: the SDK throws after the partial text', async () => {
    const r = await collect(await streamOf('[[scenario:close-mid]] hi'));
    assert.ok(r.error instanceof APIError, `an error event ends the stream, got ${r.error}`);
    assert.ok(r.content.length > 0, 'some text came first');
    assert.ok(PLAIN.startsWith(r.content), `the partial text is a prefix of the answer: ${r.content}`);
    assert.ok(r.content.length < PLAIN.length, 'but not all of it');
    assert.ok(r.chunks.every((c) => c.choices?.[0]?.finish_reason == null), 'no finish_reason');
  });

  test('the upstream closes mid-answer (non-stream): 502', async () => {
    let err = null;
    try {
      await fresh().chat.completions.create({ model: 'glm-4', messages: user('[[scenario:close-mid]] hi') });
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof APIError, `got ${err}`);
    assert.equal(err.status, 502);
  });

  test('heartbeats and comments from the upstream are ignored', async () => {
    const r = await collect(await streamOf('[[scenario:heartbeat]] hi'));
    assert.equal(r.error, null);
    assert.equal(r.content, PLAIN);
  });

  test('a trickling upstream (one byte at a time) gives the whole answer', async () => {
    const r = await collect(await streamOf('[[scenario:trickle]] hi'));
    assert.equal(r.error, null);
    assert.equal(r.content, PLAIN);
  });

  test('the next request on the same account right after a finished answer is not refused as busy', async () => {
    // The client has its whole answer as soon as the finish frame arrives, but
    // chatglm.cn counts the generation as running until its stream ends (the
    // mock's trickle ends it a little later). One account used sequentially
    // must still work: the server has to wait for the upstream end, not
    // hand the site's 429 to the client.
    const c = server.client(newToken('seq'));
    const r = await collect(await c.chat.completions.create(
      { model: 'glm-4', messages: user('[[scenario:trickle]] hi'), stream: true }));
    assert.equal(r.error, null);
    assert.equal(r.content, PLAIN);
    const next = await c.chat.completions.create({ model: 'glm-4', messages: user('[[fixture:chat-plain]] hi') });
    assert.equal(next.choices[0].message.content, PLAIN);
  });
});

describe('framing variants', () => {
  for (const settings of [{ space: true }, { crlf: true }, { ascii: true }, { delay_ms: 5 }]) {
    test(`mock framing ${JSON.stringify(settings)}`, async () => {
      await mock.config(settings);
      try {
        const r = await collect(await streamOf('[[fixture:chat-plain]] hi'));
        assert.equal(r.error, null);
        assert.equal(r.content, PLAIN);
      } finally {
        await mock.config({ space: false, crlf: false, ascii: false, delay_ms: 0 });
      }
    });
  }
});

describe('raw SSE', () => {
  test('keep-alive comments while the upstream is silent (--keepalive-interval 1)', async () => {
    const ac = new AbortController();
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      signal: ac.signal,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${newToken('ka')}` },
      body: JSON.stringify({ model: 'glm-4', messages: user('[[scenario:stall]] hi'), stream: true }),
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let text = '';
    const deadline = Date.now() + 4000;
    try {
      while (!/^: keep-alive$/m.test(text) && Date.now() < deadline) {
        const timer = sleep(deadline - Date.now()).then(() => ({ done: true, timeout: true }));
        const { value, done } = await Promise.race([reader.read(), timer]);
        if (done) break;
        text += dec.decode(value, { stream: true });
      }
    } finally {
      ac.abort();
    }
    assert.match(text, /^data: \{/m, 'the role chunk came first');
    assert.match(text, /^: keep-alive$/m, `a keep-alive comment line within 4 s; got ${JSON.stringify(text)}`);
    assert.ok(await waitFor(async () => (await mock.stats()).streams_open === 0, 1500), 'upstream released');
  });

  test('curl -N streams the answer and ends with data: [DONE]', async () => {
    const body = JSON.stringify({ model: 'glm-4', messages: user('[[fixture:chat-plain]] hi'), stream: true });
    const out = await new Promise((resolve, reject) => {
      execFile('curl', ['-sS', '-N', '--max-time', '15', '-H', `Authorization: Bearer ${newToken('curl')}`,
                        '-H', 'Content-Type: application/json', '--data-binary', body,
                        `${server.url}/v1/chat/completions`],
               { timeout: 20000, maxBuffer: 1 << 20 },
               (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
    });
    const lines = out.split('\n').filter((l) => l.trim() !== '');
    assert.equal(lines[lines.length - 1], 'data: [DONE]', `last line: ${lines[lines.length - 1]}`);
    let text = '';
    for (const l of lines.slice(0, -1)) {
      if (l.startsWith(':')) continue;
      assert.ok(l.startsWith('data: '), `an SSE data line: ${l}`);
      const chunk = JSON.parse(l.slice(6));
      text += chunk.choices?.[0]?.delta?.content ?? '';
    }
    assert.equal(text, PLAIN);
    assert.equal(out.split('data: [DONE]').length, 2, 'exactly one [DONE]');
  });
});

test('glm-free-api exits cleanly on SIGTERM (exit 0, no sanitizer report)', async () => {
  assertCleanExit(await server.stop(), 'glm-free-api');
});

test('mock-chatglm exits cleanly on SIGTERM', async () => {
  assertCleanExit(await mock.stop(), 'mock-chatglm');
});
