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
  startMock, startServer, startRedis, haveRedis, newToken, user, waitFor, assertCleanExit, jwtPayload,
  GLM_BIN, PATH_REFRESH,
} from '../lib/harness.js';
import { PLAIN } from '../lib/expected.js';
import { uidOf } from '../lib/faults.js';

const PLAIN_PROMPT = '[[fixture:chat-plain]] 你好';
const sha = (t) => createHash('sha256').update(t).digest('hex');
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
  const text = await (await fetch(`${srv.url}/metrics`)).text();
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
      await waitFor(async () => (await metric(a, 'glm_redis_up')) === 1, 10000);
      await waitFor(async () => (await metric(b, 'glm_redis_up')) === 1, 10000);
      assert.equal((await plain(a, token)).choices[0].message.content, PLAIN);
      const stored = await redis.command('HGET', `${prefix}rotated:${sha(token)}`, 'token');
      assert.ok(stored && stored !== token, 'the rotated token is in Redis, keyed by the hash');
      assert.equal(jwtPayload(stored)?.uid, uidOf(token), 'of the same account');
      const keys = await redis.command('KEYS', `${prefix}*`);
      assert.ok(!keys.some((k) => k.includes(token)), 'no key holds the plain token');

      const mark = await mock.mark();
      // Strict rotation: the user's original token is rotated out; b must use Redis's.
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
      await waitFor(async () => (await metric(srv, 'glm_redis_up')) === 1, 10000);
      assert.equal((await chat(srv, newToken('before'))).status, 200);
      await redis.kill();
      assert.ok(await waitFor(async () => (await metric(srv, 'glm_redis_up')) === 0, 10000),
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
      assert.ok(await waitFor(async () => (await metric(srv, 'glm_redis_up')) === 1, 15000),
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
        await waitFor(async () => (await metric(rs, 'glm_redis_up')) === 1, 10000);
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
