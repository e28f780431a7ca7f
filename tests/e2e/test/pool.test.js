// Accounts under the site's real signals (issue 12): a 401 on the stream
// call after a good refresh is not a death; a refused refresh is, until the
// re-check time; 10061 cools an account for a few seconds and a request
// that would only wait for cooling accounts gets 429 + Retry-After at once;
// the official clients' own retries honour Retry-After.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ChatOpenAI } from '@langchain/openai';
import {
  startMock, startServer, newToken, user, waitFor, assertCleanExit, sleep, WRAP, PATH_REFRESH, PATH_STREAM,
} from '../lib/harness.js';
import { PLAIN } from '../lib/expected.js';
import { startProxy } from '../lib/faults.js';

const PLAIN_PROMPT = '[[fixture:chat-plain]] 你好';
const BUSY = {
  status: 429, type: 'application/json; charset=utf-8',
  body: '{"status":10061,"message":"请等待其他对话生成完毕","rid":"3e2d1c0b9a8f47e6d5c4b3a291807f6e"}',
};
// Generous bounds: the suite also runs under valgrind.
const SLOW = WRAP.length ? 4 : 1;

let mock;
let proxy;
const servers = [];

before(async () => {
  mock = await startMock();
  proxy = await startProxy(mock.url);
});

after(async () => {
  for (const s of servers) await s.stop();
  await proxy?.close();
  await mock?.stop();
});

async function server(target, args) {
  const s = await startServer(target, args);
  servers.push(s);
  return s;
}

const fp = (token) => createHash('sha256').update(token).digest('hex').slice(0, 6);

async function accountOf(srv, token) {
  const res = await fetch(`${srv.url}/v1/accounts`);
  assert.equal(res.status, 200);
  return (await res.json()).data.find((a) => a.id === fp(token));
}

async function chat(srv, token, prompt = PLAIN_PROMPT, stream = false) {
  const t0 = Date.now();
  const res = await fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ model: 'glm-4', messages: user(prompt), stream }),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* a stream */ }
  return { res, text, json, ms: Date.now() - t0 };
}

describe('a 401 after a good refresh is not a death', () => {
  test('stream call 401/40102 while the refresh succeeds: 401 that says so, the next request succeeds, never dead', async () => {
    const srv = await server(mock.url, []);
    const token = newToken('refused');
    // Watch the account the whole time.
    const seen = new Set();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const a = await accountOf(srv, token);
        if (a) seen.add(a.state);
        await sleep(20);
      }
    })();
    try {
      const mark = await mock.mark();
      const r = await chat(srv, token, '[[scenario:error:refresh-token-revoked-40102]] hi', true);
      assert.equal(r.res.status, 401, r.text);
      assert.equal(r.json.error.code, 'session_refused');
      assert.match(r.json.error.message, /refused the session/);
      assert.match(r.json.error.message, /login is valid/);
      assert.match(r.json.error.message, /chatglm_refresh_token/, 'says what to try');
      assert.ok(!r.text.includes(token), 'the token is not echoed');
      const reqs = await mock.requestsSince(mark);
      assert.equal(reqs.filter((q) => q.path === PATH_STREAM).length, 2, 'the stream call was retried once');
      assert.equal(reqs.filter((q) => q.path === PATH_REFRESH).length, 2, 'with one refresh more');

      const acc = await accountOf(srv, token);
      assert.equal(acc.state, 'cooling');
      assert.equal(acc.cause, 'refused');
      assert.ok(acc.cooling_left > 0, JSON.stringify(acc));

      const next = await chat(srv, token);
      assert.equal(next.res.status, 200, next.text);
      assert.equal(next.json.choices[0].message.content, PLAIN);
      assert.equal((await accountOf(srv, token)).state, 'ok');
    } finally {
      watching = false;
      await watcher;
    }
    assert.ok(!seen.has('dead'), `states seen: ${[...seen]}`);
  });

  test('the refresh refused: dead; after --dead-recheck with the site accepting again: ok', async () => {
    const srv = await server(mock.url, ['--dead-recheck', '2']);
    const token = newToken('recheck');
    await mock.tokens(token, 'dead');
    const r = await chat(srv, token);
    assert.equal(r.res.status, 401, r.text);
    assert.equal(r.json.error.code, 'invalid_refresh_token');
    let acc = await accountOf(srv, token);
    assert.equal(acc.state, 'dead');
    assert.equal(acc.cause, 'rejected');
    assert.ok(acc.recheck_in >= 1 && acc.recheck_in <= 2, JSON.stringify(acc));

    // Before the re-check time: skipped without asking the site.
    const mark = await mock.mark();
    const again = await chat(srv, token);
    assert.equal(again.res.status, 401);
    assert.match(again.json.error.message, /every account .*dead/);
    assert.equal((await mock.requestsSince(mark)).length, 0);

    await mock.tokens(token, 'ok');
    assert.ok(await waitFor(async () => (await accountOf(srv, token)).recheck_in === 0, 6000 * SLOW, 100),
              'the re-check time passes');
    const healed = await chat(srv, token);
    assert.equal(healed.res.status, 200, healed.text);
    assert.equal(healed.json.choices[0].message.content, PLAIN);
    acc = await accountOf(srv, token);
    assert.equal(acc.state, 'ok');
    assert.equal(acc.recheck_in, undefined);
  });
});

describe('busy is short', () => {
  test('one account answering 10061 six times: each request gets 429 + Retry-After without waiting; then the next succeeds', async () => {
    // Cooling (3 s) longer than the queue wait (1 s): a request that came
    // to wait for the cooling account would be refused only after it.
    const srv = await server(mock.url, ['--queue-wait', '1', '--busy-cool', '3']);
    const token = newToken('busy6');
    assert.equal((await chat(srv, token)).res.status, 200, 'the account works');
    await mock.tokens(token, 'busy');
    let last;
    try {
      for (let i = 0; i < 6; i++) {
        const r = await chat(srv, token, PLAIN_PROMPT, i % 2 === 1);
        assert.equal(r.res.status, 429, `request ${i}: ${r.text}`);
        assert.ok(['account_busy', 'accounts_cooling'].includes(r.json.error.code), r.json.error.code);
        const ra = r.res.headers.get('retry-after');
        assert.match(ra ?? '', /^[1-3]$/, `request ${i}: Retry-After ${ra}`);
        assert.ok(r.ms < 2500 * SLOW, `request ${i} took ${r.ms} ms`);
        const acc = await accountOf(srv, token);
        assert.equal(acc.cause, 'busy');
        last = Number(ra);
      }
      const acc = await accountOf(srv, token);
      assert.notEqual(acc.state, 'dead');
      assert.ok(acc.cooling_left <= 3, JSON.stringify(acc));
    } finally {
      await mock.tokens(token, 'ok');
    }
    await sleep(last * 1000);
    const r = await chat(srv, token);
    assert.equal(r.res.status, 200, r.text);
    assert.ok(r.ms < 2500 * SLOW, `took ${r.ms} ms`);
  });

  test('a cooling account shows in /metrics with the time left and the reason', async () => {
    const srv = await server(mock.url, ['--queue-wait', '1', '--busy-cool', '5']);
    const token = newToken('metrics');
    await mock.tokens(token, 'busy');
    try {
      const r = await chat(srv, token);
      assert.equal(r.res.status, 429);
      assert.match(r.res.headers.get('retry-after') ?? '', /^[1-5]$/);
      const m = await (await fetch(`${srv.url}/metrics`)).text();
      const line = m.split('\n').find((l) => l.startsWith('glm_account_cooling_seconds{') && l.includes(fp(token)));
      assert.ok(line, m);
      assert.match(line, /reason="busy"/);
      assert.ok(Number(line.split(' ').pop()) > 0, line);
    } finally {
      await mock.tokens(token, 'ok');
    }
  });
});

describe('the official clients retry a busy answer on their own', () => {
  let srv;
  before(async () => {
    srv = await server(proxy.url, ['--busy-cool', '1']);
  });

  // The next stream call of token answers 10061 once.
  function busyOnce(token) {
    let fired = 0;
    const uid = createHash('md5').update(token).digest('hex').slice(0, 24);
    proxy.rule = (e) => (e.path === PATH_STREAM && e.uid === uid && !fired++ ? BUSY : null);
    return () => fired;
  }

  test('openai (retries on): a single busy answer followed by success is invisible', async () => {
    const token = newToken('sdk');
    const fired = busyOnce(token);
    try {
      const client = srv.client(token, { maxRetries: 2 });
      const c = await client.chat.completions.create({ model: 'glm-4', messages: user(PLAIN_PROMPT) });
      assert.equal(c.choices[0].message.content, PLAIN);
      assert.equal(fired(), 2, 'one busy answer, then the one that answered');
    } finally {
      proxy.rule = () => null;
    }
  });

  test('LangChain ChatOpenAI (retries on): the same', async () => {
    const token = newToken('lc');
    const fired = busyOnce(token);
    try {
      const llm = new ChatOpenAI({
        model: 'glm-4', apiKey: token, maxRetries: 2, timeout: 20000,
        configuration: { baseURL: `${srv.url}/v1` },
      });
      const msg = await llm.invoke(PLAIN_PROMPT);
      assert.equal(msg.content, PLAIN);
      assert.equal(fired(), 2, 'one busy answer, then the one that answered');
    } finally {
      proxy.rule = () => null;
    }
  });
});

test('the servers exit cleanly on SIGTERM', async () => {
  for (const s of servers.splice(0)) assertCleanExit(await s.stop(), 'glm-free-api');
  assertCleanExit(await mock.stop(), 'mock-chatglm');
  mock = null;
});
