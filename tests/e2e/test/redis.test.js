// State in Redis (issue 16): --state redis keeps the rotated refresh tokens in
// a real redis-server (started here on a free loopback port, no persistence),
// so a second server on the same Redis refreshes with the token the first one
// rotated to; Redis going away gives clear 503s while /ping and /metrics keep
// answering, and service resumes when it is back; --migrate-state copies a
// SQLite store into Redis.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  WRAP, startMock, startServer, startRedis, haveRedis, newToken, user, waitFor, assertCleanExit, jwtPayload, sleep,
  GLM_BIN, PATH_REFRESH, PATH_STREAM, REPO,
} from '../lib/harness.js';
import { PLAIN } from '../lib/expected.js';
import { uidOf } from '../lib/faults.js';
import { PNG } from '../lib/fileserver.js';

const PLAIN_PROMPT = '[[fixture:chat-plain]] 你好';
const sha = (t) => createHash('sha256').update(t).digest('hex');
const API_KEY = 'sk-replicas';
// Under valgrind (GLM_WRAP) everything is 20-50 times slower: longer waits and leases.
const SLOW = WRAP.length ? 5 : 1;
const LEASE_TTL = String(2000 * SLOW);
const skip = haveRedis() ? false : 'redis-server is not installed';

let mock;
let redis;

before(async () => {
  if (skip) return;
  mock = await startMock();
  redis = await startRedis();
});

after(async () => {
  await redis?.stop();
  await mock?.stop();
});

const redisArgs = (prefix) => ['--state', 'redis', '--redis-url', redis.url, '--redis-prefix', prefix,
                               '--redis-timeout-ms', '1000'];

const plain = (srv, token) =>
  srv.client(token).chat.completions.create({ model: 'glm-4', messages: user(PLAIN_PROMPT) });

async function chat(srv, token) {
  const res = await fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'glm-4', messages: user(PLAIN_PROMPT) }),
  });
  return { status: res.status, headers: res.headers, body: await res.json().catch(() => null) };
}

async function metric(srv, name) {
  const text = await (await fetch(`${srv.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })).text();
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : null;
}

describe('state in Redis', { skip }, () => {
  test('a rotation made by one server is used by another on the same Redis', async () => {
    const prefix = 'glm:e2e1:';
    const token = newToken('shared');
    await mock.config({ strict_rotation: true });
    const a = await startServer(mock.url, redisArgs(prefix));
    const b = await startServer(mock.url, redisArgs(prefix));
    try {
      await waitFor(async () => (await metric(a, 'glm_redis_up')) === 1, 10000 * SLOW);
      await waitFor(async () => (await metric(b, 'glm_redis_up')) === 1, 10000 * SLOW);
      assert.equal((await plain(a, token)).choices[0].message.content, PLAIN);
      const stored = await redis.command('HGET', `${prefix}rotated:${sha(token)}`, 'token');
      assert.ok(stored && stored !== token, 'the rotated token is in Redis, keyed by the hash');
      assert.equal(jwtPayload(stored)?.uid, uidOf(token), 'of the same account');
      const keys = await redis.command('KEYS', `${prefix}*`);
      assert.ok(!keys.some((k) => k.includes(token)), 'no key holds the plain token');

      const mark = await mock.mark();
      // b uses the access token a got (no refresh of its own).
      assert.equal((await plain(b, token)).choices[0].message.content, PLAIN);
      assert.deepEqual(await mock.requestsSince(mark, PATH_REFRESH), [], 'b used the access token a got');
      // Every access token dies: b must refresh, and with strict rotation only
      // the token a rotated to works (the user's original is rotated out).
      await mock.expire();
      assert.equal((await plain(b, token)).choices[0].message.content, PLAIN);
      const refreshed = (await mock.requestsSince(mark, PATH_REFRESH)).map((q) => q.headers.authorization.slice(7));
      assert.deepEqual(refreshed, [stored], 'b refreshed once, with the token a rotated to');
    } finally {
      await mock.config({ strict_rotation: false });
      assertCleanExit(await a.stop(), 'glm-free-api (a)');
      assertCleanExit(await b.stop(), 'glm-free-api (b)');
    }
  });

  test('Redis away: 503 naming Redis with Retry-After, /ping and /metrics answer; back: service resumes', async () => {
    const srv = await startServer(mock.url, redisArgs('glm:e2e2:'));
    try {
      await waitFor(async () => (await metric(srv, 'glm_redis_up')) === 1, 10000 * SLOW);
      assert.equal((await chat(srv, newToken('before'))).status, 200);
      await redis.kill();
      assert.ok(await waitFor(async () => (await metric(srv, 'glm_redis_up')) === 0, 10000 * SLOW),
                'the metric shows the link down');
      const r = await chat(srv, newToken('away'));
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.match(r.body?.error?.message ?? '', /Redis/);
      assert.equal(r.body?.error?.code, 'state_unavailable');
      assert.ok(Number(r.headers.get('retry-after')) >= 1, 'with Retry-After');
      const ping = await fetch(`${srv.url}/ping`);
      assert.equal(ping.status, 200);
      assert.ok((await metric(srv, 'glm_redis_link_drops_total')) >= 1);
      assert.match(srv.stderr, /Redis \(shared state\) at 127\.0\.0\.1:\d+ db 0: link down/);

      await redis.start();
      assert.ok(await waitFor(async () => (await metric(srv, 'glm_redis_up')) === 1, 15000 * SLOW),
                'the link comes back by itself');
      assert.equal((await chat(srv, newToken('after'))).status, 200);
      assert.match(srv.stderr, /link up again/);
      assert.ok(!srv.stderr.includes(redis.url), 'the URL is not logged');
    } finally {
      if (!redis.child) await redis.start();
      assertCleanExit(await srv.stop(), 'glm-free-api');
    }
  });

  test('--migrate-state copies the SQLite store into Redis, then exits', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glm-e2e-migrate-'));
    const token = newToken('migrate');
    const prefix = 'glm:e2e3:';
    try {
      const srv = await startServer(mock.url, ['--data-dir', dir]);
      await plain(srv, token);
      assertCleanExit(await srv.stop(), 'glm-free-api (sqlite)');

      const run = () => new Promise((resolve) => {
        const p = spawn(GLM_BIN, ['--migrate-state', '--data-dir', dir, '--redis-url', redis.url,
                                  '--redis-prefix', prefix], { stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d) => { err += d; });
        p.on('exit', (code) => resolve({ code, err }));
      });
      let r = await run();
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /1 records read from SQLite: 1 copied into Redis/);
      const stored = await redis.command('HGET', `${prefix}rotated:${sha(token)}`, 'token');
      assert.equal(jwtPayload(stored)?.uid, uidOf(token), 'the rotated token, in Redis');
      r = await run();
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /0 copied into Redis at .*, 1 kept/, 'a second run keeps what Redis has');

      // And a server on that Redis uses it (strict rotation: the original is dead).
      await mock.config({ strict_rotation: true });
      const rs = await startServer(mock.url, redisArgs(prefix));
      try {
        await waitFor(async () => (await metric(rs, 'glm_redis_up')) === 1, 10000 * SLOW);
        assert.equal((await plain(rs, token)).choices[0].message.content, PLAIN);
      } finally {
        await mock.config({ strict_rotation: false });
        assertCleanExit(await rs.stop(), 'glm-free-api (redis)');
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- two replicas ----------------------------------------------------------

const STREAM_MS = process.env.GLM_WRAP ? 600000 : 120000;

async function replicas(tokens, prefix, extra = []) {
  const args = [...redisArgs(prefix), '--api-keys', API_KEY, '--refresh-tokens', tokens.join(','),
                '--queue-wait', '600', '--lease-ttl-ms', LEASE_TTL, ...extra];
  const [a, b] = await Promise.all([
    startServer(mock.url, [...args, '--replica-id', 'replica-a']),
    startServer(mock.url, [...args, '--replica-id', 'replica-b']),
  ]);
  for (const s of [a, b]) await waitFor(async () => (await metric(s, 'glm_redis_up')) === 1, 10000 * SLOW);
  return [a, b];
}

async function streamed(srv, prompt = PLAIN_PROMPT, extra = {}) {
  const res = await fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'glm-4', messages: user(prompt), stream: true, ...extra }),
    signal: AbortSignal.timeout(STREAM_MS),
  });
  const text = await res.text();
  let content = '';
  let conv = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: {')) continue;
    const j = JSON.parse(line.slice(6));
    content += j.choices?.[0]?.delta?.content ?? '';
    conv = j.id ?? conv;
  }
  return { status: res.status, headers: res.headers, text, content, conv };
}

// Refresh calls since mark, by account uid.
async function refreshesByUid(mark) {
  const by = {};
  for (const q of await mock.requestsSince(mark, PATH_REFRESH)) {
    const uid = jwtPayload(q.headers.authorization.slice(7))?.uid ?? uidOf(q.headers.authorization.slice(7));
    by[uid] = (by[uid] ?? 0) + 1;
  }
  return by;
}

describe('two replicas on one Redis', { skip }, () => {
  test('200 concurrent streams over both: all complete, no overlap, no rotated-out token, one refresh per account', async () => {
    const tokens = [newToken('r1'), newToken('r1'), newToken('r1'), newToken('r1')];
    await mock.config({ strict_rotation: true, delay_ms: 1 });
    const before = await mock.stats();
    const mark = await mock.mark();
    const [a, b] = await replicas(tokens, 'glm:e2e4:');
    try {
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => streamed(i % 2 ? b : a)));
      const bad = results.filter((r) => r.status !== 200 || r.content !== PLAIN);
      assert.equal(bad.length, 0, `${bad.length} failed, e.g. ${bad[0]?.status} ${bad[0]?.text.slice(0, 300)}`);
      const after = await mock.stats();
      assert.equal(after.overlaps - before.overlaps, 0, 'the mock saw no two streams on one account');
      const by = await refreshesByUid(mark);
      assert.deepEqual(Object.values(by), [1, 1, 1, 1], `refreshes by account: ${JSON.stringify(by)}`);
      assert.deepEqual(Object.keys(by).sort(), tokens.map(uidOf).sort());
      const accts = await (await fetch(`${a.url}/v1/accounts`, { headers: { authorization: `Bearer ${API_KEY}` } })).json();
      assert.equal(accts.replica, 'replica-a');
      assert.equal(accts.data.length, 4);
      for (const x of accts.data) assert.ok('lease_holder' in x, 'each account says who holds its lease');
    } finally {
      await mock.config({ strict_rotation: false, delay_ms: 0 });
      assertCleanExit(await a.stop(), 'replica a');
      assertCleanExit(await b.stop(), 'replica b');
    }
  });

  test('a replica killed mid-stream: its leases expire and the other replica serves those accounts', async () => {
    const tokens = [newToken('r2'), newToken('r2')];
    const [a, b] = await replicas(tokens, 'glm:e2e5:');
    try {
      const open0 = (await mock.stats()).streams_open;
      const stalled = [streamed(a, '[[scenario:stall]] 你好'), streamed(a, '[[scenario:stall]] 你好')];
      stalled.forEach((p) => p.catch(() => {}));
      assert.ok(await waitFor(async () => (await mock.stats()).streams_open >= open0 + 2, 20000 * SLOW),
                'both accounts stream on replica a');
      const accts = await (await fetch(`${b.url}/v1/accounts`, { headers: { authorization: `Bearer ${API_KEY}` } })).json();
      assert.deepEqual(accts.data.map((x) => x.lease_holder), ['replica-a', 'replica-a'],
                       'replica b sees replica a holding both leases');
      // A crash: no release, no goodbye. Under valgrind SIGQUIT (its default
      // action kills the server just as abruptly, and valgrind still writes
      // its summary, which a SIGKILL would not let it do).
      a.child.proc.kill(SLOW > 1 ? 'SIGQUIT' : 'SIGKILL');
      const served = await Promise.all([streamed(b), streamed(b)]);
      for (const r of served) {
        assert.equal(r.status, 200, r.text.slice(0, 300));
        assert.equal(r.content, PLAIN);
      }
      assert.match(b.stderr, /replica-b/);
    } finally {
      await a.stop();
      assertCleanExit(await b.stop(), 'replica b');
    }
  });
});

describe('attachments across replicas', { skip }, () => {
  test('requests with an image over both replicas: the lease is taken again after the upload, no overlap', async () => {
    const tokens = [newToken('r5'), newToken('r5')];
    const [a, b] = await replicas(tokens, 'glm:e2e8:');
    const before = await mock.stats();
    try {
      const image = `data:image/png;base64,${PNG.toString('base64')}`;
      const body = (srv) => fetch(`${srv.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'glm-4', messages: [{ role: 'user', content: [
          { type: 'text', text: '[[fixture:chat-plain]] 看图' }, { type: 'image_url', image_url: { url: image } }] }] }),
        signal: AbortSignal.timeout(STREAM_MS),
      }).then(async (r) => ({ status: r.status, text: await r.text() }));
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => body(i % 2 ? b : a)));
      for (const r of results) assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.equal((await mock.stats()).overlaps - before.overlaps, 0, 'no two streams on one account');
    } finally {
      assertCleanExit(await a.stop(), 'replica a');
      assertCleanExit(await b.stop(), 'replica b');
    }
  });
});

describe('account health across replicas', { skip }, () => {
  test('an account that answers busy on replica a cools on replica b too', async () => {
    const tokens = [newToken('r6'), newToken('r6')];
    const [a, b] = await replicas(tokens, 'glm:e2e9:', ['--busy-cool', '30']);
    try {
      await mock.tokens(tokens[0], 'busy');
      const fp = (t) => sha(t).slice(0, 6);
      // Until a request lands on the busy account (the other one answers).
      for (let i = 0; i < 6; i++) {
        const r = await streamed(a);
        assert.equal(r.status, 200, r.text.slice(0, 300));
      }
      const list = async (srv) => (await (await fetch(`${srv.url}/v1/accounts`, {
        headers: { authorization: `Bearer ${API_KEY}` } })).json()).data;
      assert.equal((await list(a)).find((x) => x.id === fp(tokens[0]))?.state, 'cooling', 'a cools it');
      const onB = await waitFor(async () => {
        const x = (await list(b)).find((y) => y.id === fp(tokens[0]));
        return x?.state === 'cooling' ? x : null;
      }, 10000 * SLOW);
      assert.ok(onB, 'b cools it too');
      assert.match(JSON.stringify(onB), /another replica/);
      assert.equal((await list(b)).find((x) => x.id === fp(tokens[1]))?.state, 'ok');
    } finally {
      await mock.tokens(tokens[0], 'ok');
      assertCleanExit(await a.stop(), 'replica a');
      assertCleanExit(await b.stop(), 'replica b');
    }
  });
});

describe('conversations across replicas', { skip }, () => {
  test('a conversation_id started on replica a continues through replica b on the same account', async () => {
    const tokens = [newToken('r4'), newToken('r4'), newToken('r4'), newToken('r4')];
    const [a, b] = await replicas(tokens, 'glm:e2e7:', ['--delete-policy', 'never']);
    try {
      const first = await streamed(a);
      assert.equal(first.status, 200, first.text.slice(0, 300));
      const conv = first.conv;
      const owner = (await mock.call('GET', '/_mock/conversations')).find((c) => c.id === conv)?.uid;
      assert.ok(owner, 'the mock knows the conversation');
      for (let i = 0; i < 4; i++) {
        const mark = await mock.mark();
        const next = await streamed(b, PLAIN_PROMPT, { conversation_id: conv });
        assert.equal(next.status, 200, next.text.slice(0, 300));
        const calls = await mock.requestsSince(mark, PATH_STREAM);
        assert.equal(calls.length, 1);
        assert.equal(jwtPayload(calls[0].headers.authorization.slice(7))?.uid, owner,
                     'continued on the account that owns it');
        assert.equal(calls[0].json.conversation_id, conv);
      }
      const c = (await mock.call('GET', '/_mock/conversations')).find((x) => x.id === conv);
      assert.equal(c.turns, 5);
    } finally {
      assertCleanExit(await a.stop(), 'replica a');
      assertCleanExit(await b.stop(), 'replica b');
    }
  });
});

describe('Redis stopped and started under load', { skip }, () => {
  test('clear 503s meanwhile, no crash, no lost rotation, normal service after', async () => {
    const pr = await startRedis({ persist: true });
    const tokens = [newToken('r3'), newToken('r3'), newToken('r3'), newToken('r3')];
    await mock.config({ strict_rotation: true });
    const args = ['--state', 'redis', '--redis-url', pr.url, '--redis-prefix', 'glm:e2e6:',
                  '--redis-timeout-ms', '1000', '--api-keys', API_KEY, '--refresh-tokens', tokens.join(','),
                  '--queue-wait', '600', '--lease-ttl-ms', LEASE_TTL];
    const [a, b] = await Promise.all([startServer(mock.url, [...args, '--replica-id', 'a']),
                                      startServer(mock.url, [...args, '--replica-id', 'b'])]);
    const seen = [];
    let phase = 'before';
    let stop = false;
    const worker = async (srv) => {
      while (!stop) {
        const r = await streamed(srv);
        seen.push({ phase, status: r.status, r });
        if (r.status !== 200) await sleep(50);
      }
    };
    try {
      for (const s of [a, b]) await waitFor(async () => (await metric(s, 'glm_redis_up')) === 1, 10000 * SLOW);
      const workers = [a, b, a, b, a, b].map(worker);
      const summary = () => JSON.stringify(seen.map((x) => `${x.phase}:${x.status}`).slice(-20)) +
        ` ${seen.filter((x) => x.status !== 200).map((x) => x.r.text.slice(0, 200)).slice(-2)}`;
      assert.ok(await waitFor(() => seen.filter((x) => x.status === 200).length >= 8, 60000 * SLOW), summary());
      phase = 'away';
      await pr.kill();
      for (const s of [a, b]) assert.ok(await waitFor(async () => (await metric(s, 'glm_redis_up')) === 0, 10000 * SLOW));
      await waitFor(() => seen.filter((x) => x.phase === 'away' && x.status === 503).length >= 4, 20000 * SLOW);
      await pr.start();
      for (const s of [a, b]) assert.ok(await waitFor(async () => (await metric(s, 'glm_redis_up')) === 1, 20000 * SLOW));
      phase = 'after';
      // Every access token dies: the next requests must refresh, with the tokens in Redis.
      await mock.expire();
      await waitFor(() => seen.filter((x) => x.phase === 'after' && x.status === 200).length >= 12, 60000 * SLOW);
      stop = true;
      await Promise.all(workers);
      for (const x of seen) {
        assert.ok(x.status === 200 || x.status === 503, `status ${x.status}: ${x.r.text.slice(0, 300)}`);
        if (x.status === 503) {
          assert.match(x.r.text, /Redis/, 'a 503 names Redis');
          assert.ok(Number(x.r.headers.get('retry-after')) >= 1, 'with Retry-After');
        }
      }
      assert.ok(seen.some((x) => x.phase === 'away' && x.status === 503), 'clear 503s while Redis was away');
      const late = seen.filter((x) => x.phase === 'after').slice(-6);
      assert.ok(late.every((x) => x.status === 200), 'normal service after');
      for (const t of tokens) {
        const rec = await pr.command('HGET', `glm:e2e6:rotated:${sha(t)}`, 'token');
        assert.equal(jwtPayload(rec)?.uid, uidOf(t), 'every rotation is in Redis');
      }
    } finally {
      stop = true;
      await mock.config({ strict_rotation: false });
      assertCleanExit(await a.stop(), 'replica a');
      assertCleanExit(await b.stop(), 'replica b');
      await pr.stop();
    }
  });
});

describe('deploy/docker-compose.replicas.yml', () => {
  test('its replicas settings are accepted by the server; nginx has both replicas and the stream settings', async () => {
    const text = fs.readFileSync(path.join(REPO, 'deploy/docker-compose.replicas.yml'), 'utf8');
    const env = { PATH: process.env.PATH };
    for (const [, key, value] of text.matchAll(/^ {4,6}(GLM_[A-Z_]+): (.+)$/gm)) {
      // ${VAR:-default} -> default; ${VAR:?msg} -> a placeholder; the rest as written.
      env[key] = value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1').replace(/\$\{[A-Z_]+:\?[^}]*\}/g, 'secret');
    }
    assert.equal(env.GLM_STATE, 'redis');
    assert.match(env.GLM_REDIS_URL, /^redis:\/\/:secret@redis:6379\/0$/);
    assert.ok(env.GLM_REPLICA_ID, 'each replica is named');
    const r = await new Promise((resolve) => {
      const p = spawn(GLM_BIN, ['--check-config'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d) => { err += d; });
      p.on('exit', (code) => resolve({ code, err }));
    });
    assert.equal(r.code, 0, r.err);
    assert.match(text, /--appendonly", "yes"/, 'Redis keeps its data');
    const conf = fs.readFileSync(path.join(REPO, 'deploy/nginx.replicas.conf'), 'utf8');
    assert.match(conf, /^\s*server glm-a:8000\b/m);
    assert.match(conf, /^\s*server glm-b:8000\b/m);
    assert.match(conf, /^\s*proxy_buffering off;$/m);
    assert.match(conf, /^\s*proxy_http_version 1\.1;$/m);
  });
});
