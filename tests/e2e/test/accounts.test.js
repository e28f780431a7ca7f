// Accounts as a managed resource (issue 3): the mock's account rules, leases
// (one generation per account, FIFO queue), health and failover before the
// first byte, rotated refresh tokens that survive a restart, API-key mode,
// POST /token/check and GET /v1/accounts.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { APIError, AuthenticationError, RateLimitError } from 'openai';
import {
  startMock, startServer, newToken, user, collect, waitFor, rejection, assertCleanExit, jwtPayload,
  DEFAULT_ASSISTANT, PATH_REFRESH, PATH_STREAM, SIGN_SECRET,
} from '../lib/harness.js';
import { assertChunks } from '../lib/checks.js';
import { PLAIN } from '../lib/expected.js';
import { startProxy, FAULTS, uidOf } from '../lib/faults.js';

const PLAIN_PROMPT = '[[fixture:chat-plain]] 你好';
const WANT_PLAIN = { content: PLAIN, reasoning: '', finish: 'stop' };
const API_KEYS = ['sk-accounts-alpha', 'sk-accounts-beta'];

let mock;
let server;    // client tokens, straight to the mock
let proxy;     // fault injection in front of the mock
let pserver;   // client tokens, through the proxy
let akserver;  // API keys and server-side tokens
let configured; // akserver's refresh tokens

before(async () => {
  mock = await startMock();
  proxy = await startProxy(mock.url);
  configured = [newToken('conf'), newToken('conf')];
  [server, pserver, akserver] = await Promise.all([
    startServer(mock.url),
    startServer(proxy.url),
    startServer(mock.url, ['--api-keys', API_KEYS.join(','), '--refresh-tokens', configured.join(',')]),
  ]);
});

after(async () => {
  await Promise.all([server?.stop(), pserver?.stop(), akserver?.stop()]);
  await proxy?.close();
  await mock?.stop();
});

// ---- helpers -------------------------------------------------------------

// The fingerprint the server shows for a token: sha256 hex, 6 digits.
const fp = (token) => createHash('sha256').update(token).digest('hex').slice(0, 6);

// The uid of the account whose access token a recorded stream call carried.
const streamUid = (req) => jwtPayload((req.headers.authorization ?? '').replace(/^Bearer /, ''))?.uid;

const plain = (client, extra = {}) =>
  client.chat.completions.create({ model: 'glm-4', messages: user(PLAIN_PROMPT), ...extra });

async function plainStream(client, prompt = PLAIN_PROMPT) {
  return collect(await client.chat.completions.create({ model: 'glm-4', messages: user(prompt), stream: true }));
}

async function accountsOf(srv, headers = {}) {
  const res = await fetch(`${srv.url}/v1/accounts`, { headers });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return { list: JSON.parse(text), text };
}

async function accountOf(srv, token, headers) {
  const { list } = await accountsOf(srv, headers);
  return list.data.find((a) => a.id === fp(token));
}

// Raw POST (no SDK), for status, headers and the exact bytes the client gets.
async function post(srv, p, body, headers = {}) {
  const res = await fetch(srv.url + p, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { res, text, json };
}

// ---- direct calls to the mock (signed like the server signs them) -------

function signedHeaders(bearer) {
  const a = String(Date.now());
  const digits = [...a].map(Number);
  const check = (digits.reduce((x, y) => x + y, 0) - digits[a.length - 2]) % 10;
  const ts = a.slice(0, -2) + check + a.slice(-1);
  const nonce = randomBytes(16).toString('hex');
  const sign = createHash('md5').update(`${ts}-${nonce}-${SIGN_SECRET}`).digest('hex');
  return {
    'content-type': 'application/json', authorization: `Bearer ${bearer}`,
    'x-timestamp': ts, 'x-nonce': nonce, 'x-sign': sign,
  };
}

async function mockRefresh(token) {
  const res = await fetch(mock.url + PATH_REFRESH, { method: 'POST', headers: signedHeaders(token), body: '{}' });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* an HTML error page */ }
  return { status: res.status, json, text };
}

function mockStream(access, prompt, signal) {
  return fetch(mock.url + PATH_STREAM, {
    method: 'POST', headers: signedHeaders(access), signal,
    body: JSON.stringify({
      assistant_id: DEFAULT_ASSISTANT, conversation_id: '',
      messages: [{ role: 'user', content: [{ type: 'text', text: prompt }] }],
    }),
  });
}

// ---- the mock ------------------------------------------------------------

describe('the mock enforces the site\'s account rules', () => {
  test('one stream per account: an overlapping stream gets 429 / 10061 and counts as an overlap', async () => {
    const { json } = await mockRefresh(newToken('mock'));
    const access = json.result.access_token;
    const before = await mock.stats();
    const ac = new AbortController();
    const first = await mockStream(access, '[[scenario:stall]] hold', ac.signal);
    assert.equal(first.status, 200);
    try {
      const second = await mockStream(access, '[[fixture:chat-plain]] overlap');
      assert.equal(second.status, 429);
      assert.equal((await second.json()).status, 10061);
      const after = await mock.stats();
      assert.equal(after.overlaps, before.overlaps + 1);
      assert.equal(after.max_concurrent_per_uid, 2);
    } finally {
      ac.abort();
    }
    // The slot is free once the first stream's client is gone.
    assert.ok(await waitFor(async () => (await mock.stats()).streams_open === before.streams_open));
    const third = await mockStream(access, '[[fixture:chat-plain]] again');
    assert.equal(third.status, 200);
    await third.text();
  });

  test('refreshes rotate the refresh token; strict rotation refuses the rotated-out one', async () => {
    const t0 = newToken('mockrot');
    const r1 = await mockRefresh(t0);
    assert.equal(r1.status, 200);
    const rot1 = r1.json.result.refresh_token;
    assert.ok(rot1 && rot1 !== t0, 'a new refresh token');
    assert.equal(jwtPayload(rot1)?.uid, uidOf(t0), 'of the same account');
    assert.equal((await mockRefresh(t0)).status, 200, 'lenient: the old token still works');
    await mock.config({ strict_rotation: true });
    try {
      const old = await mockRefresh(t0);
      assert.equal(old.status, 401);
      assert.equal(old.json.status, 40102);
      const r2 = await mockRefresh(rot1);
      assert.equal(r2.status, 200, 'the current token works');
      assert.equal((await mockRefresh(rot1)).status, 401, 'and is refused once rotated out');
      assert.equal((await mockRefresh(r2.json.result.refresh_token)).status, 200);
    } finally {
      await mock.config({ strict_rotation: false });
    }
  });

  test('tokens can be marked dead, busy or flaky', async () => {
    const born = await mockRefresh(`dead-${newToken('mock')}`);
    assert.equal(born.status, 401, 'a token starting with "dead" is refused');
    assert.equal(born.json.status, 40102);

    const dead = newToken('mockdead');
    await mock.tokens(dead, 'dead');
    assert.equal((await mockRefresh(dead)).status, 401);

    const busy = newToken('mockbusy');
    await mock.tokens(busy, 'busy');
    const { json } = await mockRefresh(busy);
    const before = await mock.stats();
    const s = await mockStream(json.result.access_token, PLAIN_PROMPT);
    assert.equal(s.status, 429);
    assert.equal((await s.json()).status, 10061);
    assert.equal((await mock.stats()).overlaps, before.overlaps, 'a busy account is not an overlap');

    const flaky = newToken('mockflaky');
    await mock.tokens(flaky, 'flaky');
    const seq = [];
    for (let i = 0; i < 3; i++) seq.push((await mockRefresh(flaky)).status);
    assert.deepEqual(seq, [500, 200, 500]);
  });
});

// ---- leases --------------------------------------------------------------

describe('leases: one generation per account', () => {
  test('30 concurrent streams over 3 accounts: no overlap upstream, every client gets the whole answer', async () => {
    await mock.reset(); // zero the mock's high-water marks
    const tokens = [newToken('pool'), newToken('pool'), newToken('pool')];
    const client = server.client(tokens.join(','));
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) =>
      plainStream(client, `${PLAIN_PROMPT} burst ${i}`).catch((error) => ({ error }))));
    results.forEach((r, i) => assertChunks(r, 'glm-4', WANT_PLAIN, false, `request ${i}`));

    const stats = await mock.stats();
    assert.equal(stats.overlaps, 0, 'the mock saw no overlapping stream on any account');
    assert.equal(stats.max_concurrent_per_uid, 1);
    const streams = (await mock.requests()).filter((r) => r.path === PATH_STREAM);
    assert.equal(streams.length, 30, 'one upstream stream per request, no retries');
    assert.deepEqual(new Set(streams.map(streamUid)), new Set(tokens.map(uidOf)), 'all three accounts served');

    // Each lease ends with its answer.
    const done = await waitFor(async () => {
      const { list } = await accountsOf(server);
      const mine = list.data.filter((a) => tokens.some((t) => fp(t) === a.id));
      return mine.length === 3 && mine.every((a) => a.in_flight === 0) ? mine : null;
    });
    assert.ok(done, 'no account is still leased');
    assert.equal(done.reduce((n, a) => n + a.successes, 0), 30);
    assert.ok(done.every((a) => a.state === 'ok' && a.failures === 0));
  });

  test('waiting requests get the accounts in arrival order (FIFO)', async () => {
    const tokens = [newToken('fifo'), newToken('fifo'), newToken('fifo')];
    const client = pserver.client(tokens.join(','));
    const mark = proxy.log.length;
    // Hold every stream call at the proxy, so that each account is freed
    // only when the test lets its answer go.
    proxy.rule = (e) => (e.path === PATH_STREAM ? FAULTS.park : null);
    const runs = [];
    try {
      for (let i = 0; i < 30; i++) {
        const rid = `fifo-${i}-${randomBytes(4).toString('hex')}`;
        runs.push(client.chat.completions.create(
          { model: 'glm-4', messages: user(`${PLAIN_PROMPT} fifo #${i}`), stream: true },
          { headers: { 'X-Request-Id': rid } }).then((s) => collect(s), (error) => ({ error })));
        // Send the next one only when the server has this one: the first
        // three hold their accounts upstream, the others wait in the queue.
        const arrived = i < 3
          ? await waitFor(() => proxy.streams(mark).length === i + 1, 5000)
          : await waitFor(() => pserver.stderr.includes(`[${rid}] chat model=`), 5000);
        assert.ok(arrived, `request ${i} reached the server`);
      }
      for (let k = 0; k < 30; k++) {
        const seen = proxy.streams(mark).length;
        assert.equal(seen, Math.min(30, k + 3), 'three accounts, three answers in flight');
        assert.ok(proxy.release(), 'a parked stream call');
        if (k + 3 < 30)
          assert.ok(await waitFor(() => proxy.streams(mark).length === seen + 1, 5000),
                    'the freed account went to the next waiting request');
      }
    } finally {
      proxy.rule = () => null;
      while (proxy.release());
    }
    const results = await Promise.all(runs);
    results.forEach((r, i) => assertChunks(r, 'glm-4', WANT_PLAIN, false, `request ${i}`));
    const order = proxy.streams(mark).map((e) => Number(/fifo #(\d+)/.exec(e.prompt)?.[1]));
    assert.deepEqual(order, Array.from({ length: 30 }, (_, i) => i), 'served in arrival order');
  });

  test('when the account stays busy: 429 with Retry-After after the queue wait, at once when the queue is full; leaving frees the account', async () => {
    const srv = await startServer(mock.url, ['--queue-wait', '1', '--queue-max', '1']);
    try {
      const token = newToken('queue');
      const open = (await mock.stats()).streams_open;
      const ac = new AbortController();
      const holder = await srv.client(token).chat.completions.create(
        { model: 'glm-4', messages: user('[[scenario:stall]] hold the account'), stream: true },
        { signal: ac.signal });
      const it = holder[Symbol.asyncIterator]();
      assert.equal((await it.next()).value.choices[0].delta.role, 'assistant', 'the holder is streaming');

      const t0 = Date.now();
      const waiting = post(srv, '/v1/chat/completions', { model: 'glm-4', messages: user(PLAIN_PROMPT) },
                           { authorization: `Bearer ${token}` });
      assert.ok(await waitFor(() => (srv.stderr.match(/ chat model=/g) ?? []).length === 2), 'the waiter is queued');
      // The queue holds one: the next request is refused at once.
      const full = await post(srv, '/v1/chat/completions', { model: 'glm-4', messages: user(PLAIN_PROMPT) },
                              { authorization: `Bearer ${token}` });
      assert.equal(full.res.status, 429);
      assert.match(full.json.error.message, /queue is full/);
      assert.match(full.res.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      assert.ok(Date.now() - t0 < 900, 'refused without waiting');

      const { res, json } = await waiting;
      const waited = Date.now() - t0;
      assert.equal(res.status, 429);
      assert.equal(json.error.code, 'accounts_busy');
      assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      assert.ok(waited >= 900 && waited < 5000, `waited the queue time (${waited} ms)`);

      ac.abort();
      assert.ok(await waitFor(async () => (await mock.stats()).streams_open === open, 3000),
                'the upstream stream of the client that left was closed');
      const c = await plain(srv.client(token));
      assert.equal(c.choices[0].message.content, PLAIN, 'the account is free again');
    } finally {
      assertCleanExit(await srv.stop(), 'glm-free-api (--queue-wait 1)');
    }
  });
});

// ---- health and failover -------------------------------------------------

describe('health and failover before the first byte', () => {
  // Sends requests over a failing and a healthy account until the pool has
  // tried the failing one. It takes the least recently used account, so that
  // is the first request or, when it took the other one first, the second.
  // send() makes one request and checks its answer; tried(mark) returns what
  // proves the failing account was tried since mark (or null).
  async function untilTried(mark, send, tried) {
    for (let i = 0; i < 2; i++) {
      const m = await mark();
      await send();
      const found = await tried(m);
      if (found) return found;
    }
    return assert.fail('the pool never tried the failing account');
  }

  const mockMark = () => mock.mark();
  const proxyMark = () => proxy.log.length;
  // The stream calls since m when one of them was made for account token.
  const mockStreamsWith = (token) => async (m) => {
    const s = await mock.requestsSince(m, PATH_STREAM);
    return s.some((q) => streamUid(q) === uidOf(token)) ? s.map(streamUid) : null;
  };
  const proxyStreamsWith = (token) => (m) => {
    const s = proxy.streams(m);
    return s.some((e) => e.uid === uidOf(token)) ? s : null;
  };

  test('a dead token in the list is skipped and reported', async () => {
    const good = newToken('good');
    const dead = `dead-${newToken('dead')}`;
    const client = server.client(`${dead},${good}`);
    await untilTried(mockMark, async () => {
      assert.equal((await plain(client)).choices[0].message.content, PLAIN, 'the client got a clean answer');
    }, async (m) => (await mock.requestsSince(m, PATH_REFRESH)).some((q) => q.headers.authorization === `Bearer ${dead}`));

    const acc = await accountOf(server, dead);
    assert.equal(acc?.state, 'dead');
    assert.match(acc.reason, /reject/i);
    assert.equal(acc.failures, 1);
    assert.equal((await accountOf(server, good)).state, 'ok');
    assert.ok(server.stderr.includes(`account ${fp(dead)} is dead`), 'logged by fingerprint');

    for (let i = 0; i < 2; i++) {
      const mark = await mock.mark();
      assertChunks(await plainStream(client), 'glm-4', WANT_PLAIN, false, `request ${i} after`);
      const again = (await mock.requestsSince(mark, PATH_REFRESH)).filter((q) => q.headers.authorization === `Bearer ${dead}`);
      assert.equal(again.length, 0, 'a dead account is not tried again');
    }
  });

  test('every account dead: 401 that says so and how to get a new token', async () => {
    const tokens = [`dead-${newToken('alldead')}`, `dead-${newToken('alldead')}`];
    const client = server.client(tokens.join(','));
    const first = await rejection(plain(client));
    assert.ok(first instanceof AuthenticationError, `got ${first}`);
    assert.equal(first.code, 'invalid_refresh_token');

    const mark = await mock.mark();
    const err = await rejection(plain(client, { stream: true }));
    assert.ok(err instanceof AuthenticationError, `got ${err}`);
    assert.equal(err.status, 401);
    assert.match(err.message, /every account .*dead/i);
    assert.match(err.message, /chatglm_refresh_token/);
    assert.equal((await mock.requestsSince(mark)).length, 0, 'known-dead accounts are not asked again');
    for (const t of tokens) assert.ok(!err.message.includes(t), 'the message does not echo the token');
  });

  test('10061 on one account: the next account answers and the client never sees it', async () => {
    const busy = newToken('busy');
    const spare = newToken('spare');
    await mock.tokens(busy, 'busy');
    try {
      const client = server.client(`${busy},${spare}`);
      const uids = await untilTried(mockMark, async () => {
        assertChunks(await plainStream(client), 'glm-4', WANT_PLAIN, false, 'failover on 10061');
      }, mockStreamsWith(busy));
      assert.deepEqual(uids, [uidOf(busy), uidOf(spare)], 'busy first, then the spare');
      const acc = await accountOf(server, busy);
      assert.equal(acc.state, 'cooling');
      assert.match(acc.reason, /10061/);
    } finally {
      await mock.tokens(busy, 'ok');
    }
  });

  test('a refresh that fails with HTTP 500: the next account answers', async () => {
    const flaky = newToken('flaky');
    const spare = newToken('spare');
    await mock.tokens(flaky, 'flaky');
    try {
      const client = server.client(`${flaky},${spare}`);
      const refreshed = await untilTried(mockMark, async () => {
        assert.equal((await plain(client)).choices[0].message.content, PLAIN);
      }, async (m) => {
        const r = (await mock.requestsSince(m, PATH_REFRESH)).map((q) => q.headers.authorization);
        return r.includes(`Bearer ${flaky}`) ? r : null;
      });
      assert.equal(refreshed.filter((a) => a === `Bearer ${flaky}`).length, 1, 'tried once');
      const streams = await mock.requestsSince(0, PATH_STREAM);
      assert.ok(!streams.some((q) => streamUid(q) === uidOf(flaky)), 'no stream without an access token');
      const acc = await accountOf(server, flaky);
      assert.equal(acc.state, 'cooling');
      assert.match(acc.reason, /500/);
    } finally {
      await mock.tokens(flaky, 'ok');
    }
  });

  // A fault on the stream calls of account `bad` (the first `times` ones),
  // through the proxy.
  async function failoverCase(srv, fault, what, times = 1) {
    const bad = newToken('bad');
    const spare = newToken('spare');
    const client = srv.client(`${bad},${spare}`);
    let fired = 0;
    proxy.rule = (e) => (e.path === PATH_STREAM && e.uid === uidOf(bad) && fired++ < times ? fault : null);
    let streams;
    const t0 = Date.now();
    try {
      streams = await untilTried(proxyMark, async () => {
        assertChunks(await plainStream(client), 'glm-4', WANT_PLAIN, false, what);
      }, proxyStreamsWith(bad));
    } finally {
      proxy.rule = () => null;
    }
    assert.equal(streams[0].uid, uidOf(bad), `${what}: bad first`);
    assert.ok(streams.slice(0, -1).every((e) => e.uid === uidOf(bad) && e.action !== 'forward'),
              `${what}: bad failed (${streams.map((e) => e.action)})`);
    assert.equal(streams.at(-1).uid, uidOf(spare), `${what}: then the spare`);
    assert.equal(streams.at(-1).action, 'forward');
    const acc = await accountOf(srv, bad);
    assert.equal(acc.state, 'cooling', `${what}: the failed account cools down`);
    return { acc, streams, took: Date.now() - t0 };
  }

  test('40012 on one account: invisible failover', async () => {
    const { acc } = await failoverCase(pserver, FAULTS.waf40012, '40012');
    assert.match(acc.reason, /40012/);
  });

  test('HTTP 502 on one account: invisible failover', async () => {
    const { acc } = await failoverCase(pserver, FAULTS.http502, '5xx');
    assert.match(acc.reason, /502/);
  });

  test('a connection cut before any byte: invisible failover', async () => {
    // Every call of the account is cut: libcurl itself quietly resends on
    // another connection when a reused one dies before answering, so only a
    // cut of a fresh connection reaches the server as an error.
    await failoverCase(pserver, FAULTS.cut, 'cut', Infinity);
  });

  test('40103: the access token is refreshed once and the same account retried', async () => {
    const token = newToken('expired');
    const mark = proxy.log.length;
    let fired = 0;
    proxy.rule = (e) => (e.path === PATH_STREAM && !fired++ ? FAULTS.expired40103 : null);
    try {
      const r = await plainStream(pserver.client(token));
      assertChunks(r, 'glm-4', WANT_PLAIN, false, '40103');
    } finally {
      proxy.rule = () => null;
    }
    assert.deepEqual(proxy.streams(mark).map((e) => e.uid), [uidOf(token), uidOf(token)]);
    assert.equal(proxy.refreshes(mark).length, 2, 'one refresh more after the 40103');
    assert.equal((await accountOf(pserver, token)).state, 'ok');
  });

  test('no answer before --first-frame-timeout: the next account answers', async () => {
    const srv = await startServer(proxy.url, ['--first-frame-timeout', '1']);
    try {
      const { streams, took } = await failoverCase(srv, FAULTS.stall, 'first-frame timeout');
      assert.ok(took >= 900 && took < 8000, `failed over after about 1 s (${took} ms)`);
      assert.equal(streams[0].action, 'stall');
      assert.ok(await waitFor(() => streams[0].closed), 'the silent call was hung up');
    } finally {
      assertCleanExit(await srv.stop(), 'glm-free-api (--first-frame-timeout 1)');
    }
  });

  test('failover is bounded by --failover-time: then one clear error', async () => {
    const srv = await startServer(proxy.url, ['--first-frame-timeout', '1', '--failover-time', '2',
                                              '--failover-attempts', '10']);
    const tokens = Array.from({ length: 5 }, () => newToken('slow'));
    const mark = proxy.log.length;
    proxy.rule = (e) => (e.path === PATH_STREAM ? FAULTS.stall : null);
    try {
      const t0 = Date.now();
      const err = await rejection(plain(srv.client(tokens.join(',')), { stream: true }));
      const took = Date.now() - t0;
      assert.ok(err instanceof APIError, `got ${err}`);
      assert.equal(err.status, 504);
      assert.equal(err.code, 'upstream_timeout');
      assert.ok(took >= 1900 && took < 6000, `gave up after about 2 s (${took} ms)`);
      const streams = proxy.streams(mark);
      assert.equal(streams.length, 2, 'two 1-second tries fit in 2 seconds');
      assert.equal(new Set(streams.map((e) => e.uid)).size, 2, 'on two accounts');
      assert.ok(await waitFor(() => streams.every((e) => e.closed)), 'both silent calls were hung up');
    } finally {
      proxy.rule = () => null;
      assertCleanExit(await srv.stop(), 'glm-free-api (--failover-time 2)');
    }
  });

  test('failover is bounded by --failover-attempts: then one clear error', async () => {
    const tokens = [newToken('waf'), newToken('waf'), newToken('waf'), newToken('waf')];
    const mark = proxy.log.length;
    proxy.rule = (e) => (e.path === PATH_STREAM ? FAULTS.waf40012 : null);
    let err;
    try {
      err = await rejection(plain(pserver.client(tokens.join(',')), { stream: true }));
    } finally {
      proxy.rule = () => null;
    }
    assert.ok(err instanceof APIError, `got ${err}`);
    assert.equal(err.status, 502, 'a real HTTP error, not a broken stream');
    assert.equal(err.code, 'upstream_rejected');
    assert.match(err.message, /40012/);
    const streams = proxy.streams(mark);
    assert.equal(streams.length, 3, 'three accounts tried (the default --failover-attempts)');
    assert.equal(new Set(streams.map((e) => e.uid)).size, 3, 'each on another account');
  });

  test('no retry after the first byte: a stream cut mid-answer gives one partial answer and one error', async () => {
    const tokens = [newToken('cut'), newToken('cut')];
    const mark = await mock.mark();
    const r = await plainStream(server.client(tokens.join(',')), '[[scenario:close-mid]] 你好');
    assert.ok(r.error, 'the client is told the answer broke');
    assert.ok(r.content.length > 0 && PLAIN.startsWith(r.content) && r.content !== PLAIN,
              `exactly one partial answer, nothing repeated (${JSON.stringify(r.content)})`);
    const roles = r.chunks.filter((c) => c.choices?.[0]?.delta?.role);
    assert.equal(roles.length, 1, 'one answer began');
    assert.equal(new Set(r.chunks.map((c) => c.id)).size, 1, 'one completion id');
    assert.equal((await mock.requestsSince(mark, PATH_STREAM)).length, 1, 'the upstream was not asked again');
  });

  test('no retry once the upstream answer began (non-streamed): one error', async () => {
    const tokens = [newToken('cut'), newToken('cut')];
    const mark = await mock.mark();
    const err = await rejection(server.client(tokens.join(',')).chat.completions.create(
      { model: 'glm-4', messages: user('[[scenario:close-mid]] 你好') }));
    assert.ok(err instanceof APIError, `got ${err}`);
    assert.equal(err.status, 502);
    assert.equal(err.code, 'upstream_truncated');
    assert.equal((await mock.requestsSince(mark, PATH_STREAM)).length, 1, 'the upstream was not asked again');
  });
});

// ---- rotation and the store ----------------------------------------------

// Every file of a data directory, concatenated (the database and any WAL).
function storeBytes(dir) {
  return Buffer.concat(fs.readdirSync(dir).map((f) => fs.readFileSync(path.join(dir, f))));
}

describe('rotated refresh tokens survive restarts', () => {
  test('strict rotation, restart between two requests: the second still works', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glm-e2e-store-'));
    const token = newToken('restart');
    await mock.config({ strict_rotation: true });
    try {
      let srv = await startServer(mock.url, ['--data-dir', dir]);
      assert.equal((await plain(srv.client(token))).choices[0].message.content, PLAIN);
      assertCleanExit(await srv.stop(), 'glm-free-api (first run)');

      const db = path.join(dir, 'accounts.db');
      assert.equal(fs.statSync(db).mode & 0o777, 0o600, 'the store is private to its owner');
      const bytes = storeBytes(dir);
      assert.ok(!bytes.includes(token), 'the store holds no plain original token');
      assert.ok(bytes.includes(createHash('sha256').update(token).digest('hex')), 'it is keyed by its hash');

      srv = await startServer(mock.url, ['--data-dir', dir]);
      try {
        const mark = await mock.mark();
        const r = await plainStream(srv.client(token));
        assertChunks(r, 'glm-4', WANT_PLAIN, false, 'after the restart');
        const refreshed = (await mock.requestsSince(mark, PATH_REFRESH)).map((q) => q.headers.authorization.slice(7));
        assert.equal(refreshed.length, 1, 'one refresh, accepted at once');
        assert.notEqual(refreshed[0], token, 'with the rotated token from the store');
        assert.equal(jwtPayload(refreshed[0])?.uid, uidOf(token), 'of the same account');
      } finally {
        assertCleanExit(await srv.stop(), 'glm-free-api (second run)');
      }

      // Without the store the original token is gone for good: that is
      // what the store is for.
      const fresh = await startServer(mock.url);
      try {
        const err = await rejection(plain(fresh.client(token)));
        assert.ok(err instanceof AuthenticationError, `got ${err}`);
      } finally {
        assertCleanExit(await fresh.stop(), 'glm-free-api (empty store)');
      }
    } finally {
      await mock.config({ strict_rotation: false });
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a stored rotated token that is refused: the original is tried next, once', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glm-e2e-store-'));
    const token = newToken('fallback');
    try {
      let srv = await startServer(proxy.url, ['--data-dir', dir]);
      await plain(srv.client(token));
      assertCleanExit(await srv.stop(), 'glm-free-api (first run)');

      srv = await startServer(proxy.url, ['--data-dir', dir]);
      const mark = proxy.log.length;
      // The site refuses the rotated token (e.g. it restored the original).
      proxy.rule = (e) => (e.path === PATH_REFRESH && e.token !== token ? FAULTS.revoked40102 : null);
      try {
        assert.equal((await plain(srv.client(token))).choices[0].message.content, PLAIN);
      } finally {
        proxy.rule = () => null;
        assertCleanExit(await srv.stop(), 'glm-free-api (second run)');
      }
      const refreshes = proxy.refreshes(mark);
      assert.equal(refreshes.length, 2);
      assert.notEqual(refreshes[0].token, token, 'the stored rotated token first');
      assert.equal(refreshes[0].action, 'fault 401');
      assert.equal(refreshes[1].token, token, 'then the original');
      assert.equal(refreshes[1].action, 'forward');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a corrupt store or an unusable data directory stops the start with a clear error', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glm-e2e-store-'));
    try {
      const db = path.join(dir, 'accounts.db');
      const junk = 'this is not an SQLite database\n'.repeat(200);
      fs.writeFileSync(db, junk, { mode: 0o600 });
      const err = await rejection(startServer(mock.url, ['--data-dir', dir]));
      assert.match(err.message, /exited before it was ready \(code 2,/);
      assert.match(err.message, /account store .*accounts\.db is unusable/);
      assert.equal(fs.readFileSync(db, 'utf8'), junk, 'the file is left alone, not replaced');

      const notDir = path.join(dir, 'a-file');
      fs.writeFileSync(notDir, '');
      const err2 = await rejection(startServer(mock.url, ['--data-dir', notDir]));
      assert.match(err2.message, /exited before it was ready \(code 2,/);
      assert.match(err2.message, /a-file\/accounts\.db/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- API keys --------------------------------------------------------------

describe('API-key mode (--api-keys with --refresh-tokens)', () => {
  const leaks = (text) => configured.filter((t) => text.includes(t));

  test('a missing or wrong key gets 401, and the refresh tokens are never echoed', async () => {
    const body = { model: 'glm-4', messages: user(PLAIN_PROMPT) };
    const cases = {
      'no key': {},
      'a wrong key': { authorization: 'Bearer sk-wrong' },
      'a configured refresh token': { authorization: `Bearer ${configured[0]}` },
      'client refresh tokens': { authorization: `Bearer ${newToken('own')},${newToken('own')}` },
      'two keys': { authorization: `Bearer ${API_KEYS.join(',')}` },
    };
    const mark = await mock.mark();
    for (const [what, headers] of Object.entries(cases)) {
      const { res, text, json } = await post(akserver, '/v1/chat/completions', body, headers);
      assert.equal(res.status, 401, `${what}: ${text}`);
      assert.equal(json?.error?.code, 'invalid_api_key', what);
      assert.deepEqual(leaks(text), [], `${what}: no refresh token in the answer`);
    }
    assert.equal((await mock.requestsSince(mark)).length, 0, 'nothing reached the site');

    const err = await rejection(plain(akserver.client('sk-wrong')));
    assert.ok(err instanceof AuthenticationError, `got ${err}`);
    assert.equal(err.status, 401);
    assert.deepEqual(leaks(err.message), []);
  });

  test('with a key, the server-side accounts answer; their tokens never reach the client', async () => {
    const mark = await mock.mark();
    for (const key of API_KEYS) {
      const c = await plain(akserver.client(key));
      assert.equal(c.choices[0].message.content, PLAIN);
    }
    const auth = { authorization: `Bearer ${API_KEYS[1]}` };
    const raw = await post(akserver, '/v1/chat/completions', { model: 'glm-4', messages: user(PLAIN_PROMPT) }, auth);
    assert.equal(raw.res.status, 200);
    const rawStream = await post(akserver, '/v1/chat/completions',
                                 { model: 'glm-4', messages: user(PLAIN_PROMPT), stream: true }, auth);
    assert.equal(rawStream.res.status, 200);
    for (const r of [raw, rawStream]) {
      assert.deepEqual(leaks(r.text), []);
      assert.deepEqual(leaks(JSON.stringify([...r.res.headers])), []);
    }
    const used = (await mock.requestsSince(mark, PATH_REFRESH)).map((q) => q.headers.authorization.slice(7));
    assert.deepEqual(used.sort(), [...configured].sort(), 'the server refreshed its own accounts, once each');
  });

  test('sequential requests take the least recently used account', async () => {
    const mark = await mock.mark();
    for (let i = 0; i < 4; i++) await plain(akserver.client(API_KEYS[0]));
    const uids = (await mock.requestsSince(mark, PATH_STREAM)).map(streamUid);
    assert.equal(uids.length, 4);
    assert.notEqual(uids[0], uids[1]);
    assert.deepEqual(uids.slice(2), uids.slice(0, 2), 'alternating between the two accounts');
  });

  test('GET /v1/accounts needs a key and lists accounts by fingerprint only', async () => {
    const noKey = await fetch(`${akserver.url}/v1/accounts`);
    assert.equal(noKey.status, 401);
    const wrong = await fetch(`${akserver.url}/v1/accounts`, { headers: { authorization: 'Bearer sk-wrong' } });
    assert.equal(wrong.status, 401);
    const { list, text } = await accountsOf(akserver, { authorization: `Bearer ${API_KEYS[0]}` });
    assert.equal(list.object, 'list');
    assert.deepEqual(list.data.map((a) => a.id).sort(), configured.map(fp).sort());
    for (const a of list.data) {
      assert.equal(a.state, 'ok');
      assert.equal(a.configured, true);
      assert.equal(a.in_flight, 0);
      assert.ok(a.successes >= 1, 'both accounts served earlier tests');
      for (const k of ['reason', 'since', 'last_used', 'failures']) assert.ok(k in a, `field ${k}`);
    }
    assert.deepEqual(leaks(text), []);
  });

  test('the server log names accounts by fingerprint only', () => {
    assert.deepEqual(leaks(akserver.stderr), []);
    for (const t of configured)
      assert.ok(akserver.stderr.includes(`account ${fp(t)}`), 'its rotation was logged by fingerprint');
  });
});

// ---- /token/check ----------------------------------------------------------

describe('POST /token/check', () => {
  const check = (srv, body) => post(srv, '/token/check', body);

  test('a live token: {"live": true, ...}, checked against the site', async () => {
    const token = newToken('live');
    const mark = await mock.mark();
    const { res, json } = await check(server, { token });
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(json).slice(0, 2), ['live', 'reason'], 'glm-free-api fields first');
    assert.equal(json.live, true);
    assert.equal(typeof json.reason, 'string');
    const refreshed = (await mock.requestsSince(mark, PATH_REFRESH)).map((q) => q.headers.authorization);
    assert.deepEqual(refreshed, [`Bearer ${token}`]);
  });

  test('a dead token: {"live": false} with a reason that says what to do', async () => {
    const token = `dead-${newToken('check')}`;
    const { res, json, text } = await check(server, { token });
    assert.equal(res.status, 200);
    assert.equal(json.live, false);
    assert.match(json.reason, /chatglm_refresh_token/);
    assert.ok(!text.includes(token), 'the token is not echoed');
  });

  test('malformed requests: 400, and nothing is sent upstream', async () => {
    const mark = await mock.mark();
    for (const body of ['not json', '{}', { token: '' }, { token: 42 }, { token: null },
                        { token: 'a,b' }, { token: 'a b' }, { token: 'x'.repeat(9000) }]) {
      const { res, json, text } = await check(server, body);
      assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 40)}: ${text.slice(0, 200)}`);
      assert.equal(typeof json?.error?.message, 'string');
    }
    assert.equal((await mock.requestsSince(mark)).length, 0);
  });

  test('a site error is not "dead": 502, and the token stays usable', async () => {
    const token = newToken('flakycheck');
    await mock.tokens(token, 'flaky');
    try {
      const { res, json } = await check(server, { token });
      assert.equal(res.status, 502);
      assert.equal(json.error.code, 'upstream_error');
      assert.equal((await check(server, { token })).json.live, true, 'the next refresh succeeds');
    } finally {
      await mock.tokens(token, 'ok');
    }
  });

  test('a check updates the health of an account in the pool', async () => {
    const token = newToken('pooled');
    assert.equal((await plain(server.client(token))).choices[0].message.content, PLAIN);
    assert.equal((await accountOf(server, token)).state, 'ok');

    await mock.tokens(token, 'dead');
    assert.equal((await check(server, { token })).json.live, false);
    const dead = await accountOf(server, token);
    assert.equal(dead.state, 'dead');
    assert.match(dead.reason, /token check/);
    const mark = await mock.mark();
    const err = await rejection(plain(server.client(token)));
    assert.ok(err instanceof AuthenticationError, `got ${err}`);
    assert.equal((await mock.requestsSince(mark)).length, 0, 'a dead account is skipped');

    await mock.tokens(token, 'ok');
    assert.equal((await check(server, { token })).json.live, true);
    assert.equal((await accountOf(server, token)).state, 'ok', 'a live check revives it');
    assert.equal((await plain(server.client(token))).choices[0].message.content, PLAIN);
  });

  test('in API-key mode it needs a key, then checks a configured account too', async () => {
    const denied = await check(akserver, { token: configured[0] });
    assert.equal(denied.res.status, 401);
    assert.equal(denied.json.error.code, 'invalid_api_key');
    const { res, json } = await post(akserver, '/token/check', { token: configured[0] },
      { authorization: `Bearer ${API_KEYS[0]}` });
    assert.equal(res.status, 200);
    assert.equal(json.live, true);
  });
});

// ---- the end ---------------------------------------------------------------

test('the servers exit cleanly on SIGTERM (exit 0, no sanitizer report)', async () => {
  const [a, b, c] = await Promise.all([server.stop(), pserver.stop(), akserver.stop()]);
  // Logs name accounts by fingerprint: no token of these tests is in them.
  for (const r of [a, b, c]) assert.deepEqual(r.stderr.match(/e2e-[a-z]+-\d+-\d+-[0-9a-f]{12}/g) ?? [], []);
  assertCleanExit(a, 'glm-free-api (client tokens)');
  assertCleanExit(b, 'glm-free-api (through the proxy)');
  assertCleanExit(c, 'glm-free-api (API keys)');
});

test('mock-chatglm exits cleanly on SIGTERM', async () => {
  await proxy.close();
  assertCleanExit(await mock.stop(), 'mock-chatglm');
});
