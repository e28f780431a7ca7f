// Upstream faults, scripted in the mock (tests/mock/README.md): refreshes that
// answer HTML, nothing, broken JSON or 500; streams that answer JSON, garbage,
// a frame over the line cap, stall before or inside the answer, break off
// (FIN, RST, inside a chunk), trickle, never end; TLS that fails and a port
// that is closed. Each must give the client a clear error (a real HTTP error
// before the stream, one error event and [DONE] inside it), update the
// account's health, delete the conversation when the server learnt its id,
// and leak nothing: no upstream stream left open, no descriptor (counted in
// /proc), no memory (LeakSanitizer when the server stops).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import {
  startMock, startServer, newToken, user, sleep, waitFor, assertCleanExit, PATH_DELETE,
} from '../lib/harness.js';
import { PLAIN } from '../lib/expected.js';

const IDLE = 1; // --idle-timeout of the main server, in seconds

let mock;
let server;
const extra = []; // servers started by single tests, stopped at the end
let faultsInjected = 0;

before(async () => {
  mock = await startMock();
  server = await startServer(mock.url, ['--idle-timeout', String(IDLE), '--max-frame', '64K',
                                        '--keepalive-interval', '1']);
});

after(async () => {
  for (const s of extra) await s.stop();
  await server?.stop();
  await mock?.stop();
});

const fingerprint = (token) => createHash('sha256').update(token).digest('hex').slice(0, 6);
const uidOf = (token) => createHash('md5').update(token).digest('hex').slice(0, 24);

// The server's record of the account of token (GET /v1/accounts, loopback).
async function account(srv, token) {
  const res = await fetch(`${srv.url}/v1/accounts`);
  assert.equal(res.status, 200);
  return (await res.json()).data.find((a) => a.id === fingerprint(token));
}

// The mock's conversations of token's account.
async function conversations(token) {
  return (await mock.call('GET', '/_mock/conversations')).filter((c) => c.uid === uidOf(token));
}

function fdCount(srv) {
  return fs.readdirSync(`/proc/${srv.child.proc.pid}/fd`).length;
}

// One chat request by fetch, read to the end. For a stream: the parsed data
// events, the text they carry, the error event, and whether [DONE] ended it.
async function chat(srv, token, prompt, stream, opts = {}) {
  const res = await fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST',
    signal: opts.signal,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ model: 'glm-4', messages: user(prompt), stream }),
  });
  const text = await res.text();
  const r = { status: res.status, type: res.headers.get('content-type') ?? '', text, json: null };
  if (r.type.startsWith('text/event-stream')) {
    r.events = [];
    r.content = '';
    for (const block of text.split('\n\n')) {
      const line = block.split('\n').find((l) => l.startsWith('data: '));
      if (!line) continue;
      if (line === 'data: [DONE]') { r.done = true; continue; }
      const ev = JSON.parse(line.slice(6));
      r.events.push(ev);
      if (ev.error) r.error = ev.error;
      r.content += ev.choices?.[0]?.delta?.content ?? '';
    }
    r.last = text.trimEnd().split('\n').pop();
  } else {
    try { r.json = JSON.parse(text); } catch { /* checked by the caller */ }
    r.error = r.json?.error;
  }
  return r;
}

function assertOpenAIError(err, code, what) {
  assert.ok(err && typeof err === 'object', `${what}: an OpenAI error object`);
  assert.deepEqual(Object.keys(err).sort(), ['code', 'message', 'param', 'type'], `${what}: error fields`);
  assert.equal(err.code, code, `${what}: code (${err.message})`);
  assert.ok(err.message.length > 10, `${what}: a message that says something`);
}

// health: 'cooling' (a failure was counted) or 'unchanged' (the account is
// not blamed). conv: 'deleted' (the server learnt the id: every conversation
// of the account deleted), 'none' (none was created), 'unknown' (created by
// the site, but its id never reached the server: nothing to delete).
// inStream: with stream:true, the error comes inside a started stream.
const CASES = [
  { name: 'refresh answers an HTML page', state: 'refresh-html', status: 502, code: 'upstream_error', msg: /not JSON/, health: 'cooling', conv: 'none' },
  { name: 'refresh answers an empty body', state: 'refresh-empty', status: 502, code: 'upstream_error', msg: /not JSON/, health: 'cooling', conv: 'none' },
  { name: 'refresh answers invalid JSON', state: 'refresh-badjson', status: 502, code: 'upstream_error', msg: /not JSON/, health: 'cooling', conv: 'none' },
  { name: 'refresh answers HTTP 500', state: 'refresh-500', status: 502, code: 'upstream_error', msg: /500/, health: 'cooling', conv: 'none' },
  { name: 'the stream answers JSON instead of SSE', scenario: 'non-sse', status: 502, code: 'upstream_not_sse', health: 'unchanged', conv: 'none' },
  { name: 'the stream answers HTTP 500', scenario: 'http500', status: 502, code: 'upstream_error', health: 'cooling', conv: 'none' },
  { name: 'the stream answers garbage bytes', scenario: 'garbage', status: 502, code: 'upstream_garbage', msg: /1024 bytes/, health: 'cooling', conv: 'unknown' },
  { name: 'a frame over the line cap (--max-frame 64K)', scenario: 'huge-frame:200000', status: 502, code: 'upstream_frame_too_long', msg: /65536/, health: 'cooling', conv: 'deleted', inStream: true },
  { name: 'a stall before the first frame', scenario: 'stall-before', status: 504, code: 'upstream_timeout', health: 'cooling', conv: 'unknown', slow: true },
  { name: 'a stall after the first frame', scenario: 'stall', status: 504, code: 'upstream_timeout', msg: /silent/, health: 'cooling', conv: 'deleted', inStream: true, slow: true },
  { name: 'a stall in the middle of the text', scenario: 'stall-mid', status: 504, code: 'upstream_timeout', msg: /silent/, health: 'cooling', conv: 'deleted', inStream: true, partial: true, slow: true },
  { name: 'the connection closes mid-answer', scenario: 'close-mid', status: 502, code: 'upstream_truncated', health: 'cooling', conv: 'deleted', inStream: true, partial: true },
  { name: 'a reset (RST) mid-answer', scenario: 'reset-mid', status: 502, code: 'upstream_truncated', msg: /reset/i, health: 'cooling', conv: 'deleted', inStream: true, partial: true },
  { name: 'a chunked body cut inside a chunk', scenario: 'truncated-chunk', status: 502, code: 'upstream_truncated', health: 'cooling', conv: 'deleted', inStream: true, partial: true },
];

async function runCase(c, stream) {
  const token = newToken('fault');
  if (c.state) await mock.tokens(token, c.state);
  const prompt = c.scenario ? `[[scenario:${c.scenario}]] hi` : '[[fixture:chat-plain]] hi';
  const t0 = Date.now();
  const r = await chat(server, token, prompt, stream);
  faultsInjected++;
  const took = Date.now() - t0;
  const what = `${c.name} (${stream ? 'stream' : 'non-stream'})`;
  if (stream && c.inStream) {
    assert.equal(r.status, 200, `${what}: the stream had started: ${r.text.slice(0, 300)}`);
    assert.ok(r.events.length >= 2, `${what}: the role chunk, then the error`);
    assertOpenAIError(r.error, c.code, what);
    assert.equal(r.last, 'data: [DONE]', `${what}: [DONE] ends the stream`);
    assert.ok(r.events.at(-1).error, `${what}: the error is the last event`);
    assert.equal(r.events.filter((e) => e.error).length, 1, `${what}: exactly one error event`);
    assert.ok(r.events.every((e) => e.error || e.choices[0].finish_reason == null), `${what}: no finish_reason`);
    if (c.partial) {
      assert.ok(r.content.length > 0 && PLAIN.startsWith(r.content) && r.content !== PLAIN,
                `${what}: the partial text is a strict prefix of the answer: ${r.content}`);
    }
  } else {
    assert.equal(r.status, c.status, `${what}: ${r.text.slice(0, 300)}`);
    assert.match(r.type, /^application\/json/, what);
    assertOpenAIError(r.error, c.code, what);
  }
  if (c.msg) assert.match(r.error.message, c.msg, what);
  assert.ok(!/e2e-fault/.test(r.text), `${what}: the token is not echoed`);
  if (c.slow) assert.ok(took >= IDLE * 1000 - 100 && took < IDLE * 1000 + 4000, `${what}: after the idle timeout, not ${took} ms`);
  else assert.ok(took < 5000, `${what}: at once, not after ${took} ms`);

  const acct = await account(server, token);
  assert.ok(acct, `${what}: the account is known`);
  if (c.health === 'cooling') {
    assert.equal(acct.failures, 1, `${what}: one failure counted: ${JSON.stringify(acct)}`);
    assert.equal(acct.state, 'cooling', `${what}: the account cools down`);
  } else {
    assert.equal(acct.failures, 0, `${what}: the account is not blamed: ${JSON.stringify(acct)}`);
    assert.equal(acct.state, 'ok', what);
  }
  assert.equal(acct.in_flight, 0, `${what}: the lease is released`);

  if (c.conv === 'none') {
    assert.deepEqual(await conversations(token), [], `${what}: no conversation was created`);
  } else if (c.conv === 'deleted') {
    const all = await waitFor(async () => {
      const v = await conversations(token);
      return v.length > 0 && v.every((x) => x.deleted) ? v : null;
    }, 3000);
    assert.ok(all, `${what}: the conversation is deleted: ${JSON.stringify(await conversations(token))}`);
    assert.equal(all.length, 1, `${what}: one conversation, no retry after the first frame`);
  }
  // The upstream stream is closed, whatever the fault.
  assert.ok(await waitFor(async () => (await mock.stats()).streams_open === 0, 3000),
            `${what}: no upstream stream left open`);
}

let fdBaseline;

describe('faults, one by one', () => {
  test('a normal answer first (warms the upstream connection pool for the descriptor count)', async () => {
    const r = await chat(server, newToken('fault'), '[[fixture:chat-plain]] hi', false);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, PLAIN);
    await sleep(200);
    fdBaseline = fdCount(server);
  });

  for (const c of CASES) {
    for (const stream of [false, true]) {
      test(`${c.name}, ${stream ? 'streaming' : 'not streaming'}`, () => runCase(c, stream));
    }
  }
});

describe('slow upstreams', () => {
  test('one byte per 100 ms: not mistaken for silence (idle-timeout 1 s), the client may leave', async () => {
    const token = newToken('trickle');
    const ac = new AbortController();
    const p = chat(server, token, '[[scenario:trickle:100]] hi', true, { signal: ac.signal }).catch((e) => e);
    await sleep(2500);
    faultsInjected++;
    assert.equal((await mock.stats()).streams_open, 1, 'after 2.5 s of trickle the upstream is still read');
    const acct = await account(server, token);
    assert.equal(acct.in_flight, 1, 'and the account still leased');
    ac.abort();
    const r = await p;
    assert.equal(r.name, 'AbortError', `the client aborted (${r})`);
    assert.ok(await waitFor(async () => (await mock.stats()).streams_open === 0, 2000), 'then the upstream is closed');
    const after = await account(server, token);
    assert.equal(after.in_flight, 0, 'and the lease released');
    assert.equal(after.failures, 0, 'a client that leaves does not blame the account');
  });

  test('one byte per 100 ms: the first-frame timeout (3 s) bounds the wait', async () => {
    const srv = await startServer(mock.url, ['--idle-timeout', '1', '--first-frame-timeout', '3']);
    extra.push(srv);
    const token = newToken('trickle');
    const t0 = Date.now();
    const r = await chat(srv, token, '[[scenario:trickle:100]] hi', false);
    faultsInjected++;
    const took = Date.now() - t0;
    assert.equal(r.status, 504, r.text);
    assertOpenAIError(r.error, 'upstream_timeout', 'trickle');
    assert.match(r.error.message, /within 3 s/);
    assert.ok(took >= 2800 && took < 7000, `after about 3 s, not ${took} ms`);
    assert.ok(await waitFor(async () => (await mock.stats()).streams_open === 0, 2000), 'upstream closed');
    assert.equal((await account(srv, token)).state, 'cooling');
  });

  test('an endless stream stops at --max-answer (stream: error event; the upstream is cut)', async () => {
    const srv = await startServer(mock.url, ['--max-answer', '4K']);
    extra.push(srv);
    for (const stream of [true, false]) {
      const token = newToken('endless');
      const r = await chat(srv, token, '[[scenario:endless]] hi', stream);
      faultsInjected++;
      if (stream) {
        assert.equal(r.status, 200);
        assertOpenAIError(r.error, 'answer_too_long', 'endless');
        assert.equal(r.last, 'data: [DONE]');
        assert.ok(r.content.length > 0 && Buffer.byteLength(r.content) <= 4096, `text up to the cap (${Buffer.byteLength(r.content)} bytes)`);
      } else {
        assert.equal(r.status, 502, r.text);
        assertOpenAIError(r.error, 'answer_too_long', 'endless');
      }
      assert.ok(await waitFor(async () => (await mock.stats()).streams_open === 0, 6000), 'the endless upstream is cut');
      const v = await waitFor(async () => {
        const c = await conversations(token);
        return c.length && c.every((x) => x.deleted) ? c : null;
      }, 3000);
      assert.ok(v, 'the conversation is deleted');
    }
  });
});

describe('no upstream at all', () => {
  test('TLS failure (https:// to a plain-HTTP port): 502 naming the connection problem', async () => {
    const port = new URL(mock.url).port;
    const srv = await startServer(`https://127.0.0.1:${port}`);
    extra.push(srv);
    const mark = await mock.mark();
    for (const stream of [false, true]) {
      const token = newToken('tls');
      const r = await chat(srv, token, '[[fixture:chat-plain]] hi', stream);
      faultsInjected++;
      assert.equal(r.status, 502, r.text);
      assertOpenAIError(r.error, 'upstream_error', 'tls');
      assert.match(r.error.message, /SSL|TLS|wrong version|handshake/i);
      const acct = await account(srv, token);
      assert.equal(acct.state, 'cooling');
      assert.equal(acct.failures, 1);
    }
    assert.deepEqual((await mock.requestsSince(mark)).filter((q) => q.path !== '/_mock/requests'), [],
                     'the mock saw no HTTP request (the TLS hello is not one)');
  });

  test('a closed port: 502 at once', async () => {
    const probe = net.createServer();
    await new Promise((r) => probe.listen(0, '127.0.0.1', r));
    const port = probe.address().port;
    await new Promise((r) => probe.close(r));
    const srv = await startServer(`http://127.0.0.1:${port}`);
    extra.push(srv);
    const t0 = Date.now();
    const token = newToken('closed');
    const r = await chat(srv, token, '[[fixture:chat-plain]] hi', false);
    faultsInjected++;
    assert.equal(r.status, 502, r.text);
    assertOpenAIError(r.error, 'upstream_error', 'closed port');
    assert.ok(Date.now() - t0 < 3000);
    assert.equal((await account(srv, token)).state, 'cooling');
  });
});

describe('after the faults', () => {
  test('the server still answers, and the same faults again leak no descriptor', async () => {
    const r = await chat(server, newToken('fault'), '[[fixture:chat-plain]] hi', true);
    assert.equal(r.status, 200);
    assert.equal(r.content, PLAIN);
    for (const c of CASES.filter((x) => !x.slow)) {
      for (const stream of [false, true]) await runCase(c, stream);
    }
    await sleep(300);
    const now = fdCount(server);
    // The upstream connection pool may hold a few more or fewer sockets.
    assert.ok(now <= fdBaseline + 4, `descriptors: ${fdBaseline} before, ${now} after ${faultsInjected} faults`);
    const del = await mock.requests();
    assert.ok(del.some((q) => q.path === PATH_DELETE), 'deletes were sent');
  });

  test(`figures: faults injected`, () => {
    console.log(`# faults injected: ${faultsInjected}`);
    assert.ok(faultsInjected >= 40);
  });
});

test('glm-free-api exits cleanly on SIGTERM (exit 0, no sanitizer report)', async () => {
  assertCleanExit(await server.stop(), 'glm-free-api');
  for (const s of extra.splice(0)) assertCleanExit(await s.stop(), 'glm-free-api (extra)');
});

test('mock-chatglm exits cleanly on SIGTERM', async () => {
  assertCleanExit(await mock.stop(), 'mock-chatglm');
});
