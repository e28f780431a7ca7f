// End-to-end harness: the mock chatglm.cn backend, the server under test
// (both built with ASan+UBSan), the official openai client, and small helpers.
// Everything listens on 127.0.0.1 only.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const GLM_BIN = process.env.GLM_BIN || path.join(REPO, 'build/asan/glm-free-api');
export const MOCK_BIN = process.env.MOCK_BIN || path.join(REPO, 'build/asan/tests/mock-chatglm');
export const FIXTURES = path.join(REPO, 'tests/fixtures');

export const SIGN_SECRET = '8a1317a7468aa3ad86e997d08f3f31cb';
export const DEFAULT_ASSISTANT = '65940acff94777010aa6b796';
export const PATH_REFRESH = '/chatglm/user-api/user/refresh';
export const PATH_STREAM = '/chatglm/backend-api/assistant/stream';
// Deletions: bulk_delete on today's site, conversation/delete with --upstream-era 2025.
export const PATH_DELETE = '/chatglm/mainchat-api/conversation/bulk_delete';
export const PATH_DELETE_2025 = '/chatglm/backend-api/assistant/conversation/delete';
export const PATH_STOP = '/chatglm/mainchat-api/stream/stop_stream';
export const PATH_CHAT_UPLOAD = '/chatglm/productivity-api/file/chat_upload';
export const PATH_UPLOAD_2025 = '/chatglm/backend-api/assistant/file_upload';

// GLM_WRAP: a command to run the server and the mock under, split on spaces
// (scripts/valgrind-test.sh sets "valgrind ..."); such a run is slow, so it
// gets longer start and stop timeouts.
export const WRAP = (process.env.GLM_WRAP || '').split(' ').filter(Boolean);
const START_TIMEOUT_MS = WRAP.length ? 60000 : 10000;
const STOP_TIMEOUT_MS = WRAP.length ? 60000 : 15000;

// Children that are still running, and their temporary directories: killed
// and removed if this test process ends early.
const children = new Set();
const tempDirs = new Set();
function killAll() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* already gone */ }
  }
  children.clear();
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { killAll(); process.exit(128 + 2); });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Spawns bin and resolves once `ready` matches the text on stream ('stdout' or
// 'stderr'). Both outputs are kept whole for the final sanitizer check.
function spawnReady(bin, args, streamName, ready, label, wrap = true) {
  return new Promise((resolve, reject) => {
    const env = {
      ...process.env,
      ASAN_OPTIONS: process.env.ASAN_OPTIONS || 'detect_leaks=1:abort_on_error=0:halt_on_error=1',
      UBSAN_OPTIONS: process.env.UBSAN_OPTIONS || 'halt_on_error=1:print_stacktrace=1',
    };
    let proc;
    try {
      proc = WRAP.length && wrap ? spawn(WRAP[0], [...WRAP.slice(1), bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
                         : spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    } catch (e) {
      reject(new Error(`${label}: cannot start ${bin}: ${e.message}`));
      return;
    }
    children.add(proc);
    const out = { stdout: '', stderr: '' };
    let settled = false;
    const exited = new Promise((res) => {
      proc.on('exit', (code, signal) => { children.delete(proc); res({ code, signal }); });
    });
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      proc.kill('SIGKILL');
      reject(new Error(`${label}: no "ready" line within ${START_TIMEOUT_MS} ms\n` +
                       `stdout: ${out.stdout}\nstderr: ${out.stderr}`));
    }, START_TIMEOUT_MS);
    const check = () => {
      if (settled) return;
      const m = out[streamName].match(ready);
      if (m) {
        settled = true;
        clearTimeout(timer);
        resolve({ proc, out, exited, match: m });
      }
    };
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (d) => { out.stdout += d; check(); });
    proc.stderr.on('data', (d) => { out.stderr += d; check(); });
    proc.on('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${label}: cannot start ${bin}: ${e.message}`));
    });
    exited.then(({ code, signal }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${label} exited before it was ready (code ${code}, signal ${signal})\n` +
                       `stdout: ${out.stdout}\nstderr: ${out.stderr}`));
    });
  });
}

// SIGTERM, then wait; resolves with { code, signal, stdout, stderr, killed, early }.
// A process that does not stop within STOP_TIMEOUT_MS is killed (killed: true);
// early: it had already exited before stop() was called.
async function stopChild(c) {
  if (!c.stopping) {
    c.stopping = (async () => {
      const early = c.proc.exitCode !== null || c.proc.signalCode !== null;
      if (!early) c.proc.kill('SIGTERM');
      let timer;
      const timeout = new Promise((res) => { timer = setTimeout(() => res(null), STOP_TIMEOUT_MS); });
      let r = await Promise.race([c.exited, timeout]);
      clearTimeout(timer);
      let killed = false;
      if (!r) {
        killed = true;
        c.proc.kill('SIGKILL');
        r = await c.exited;
      }
      // Let the last output arrive.
      await sleep(50);
      return { code: r.code, signal: r.signal, stdout: c.out.stdout, stderr: c.out.stderr, killed, early };
    })();
  }
  return c.stopping;
}

const SANITIZER = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/;

// The lines of a sanitizer report in text (empty when none).
export function sanitizerReports(text) {
  return text.split('\n').filter((l) => SANITIZER.test(l));
}

// Asserts a process stopped by SIGTERM at the end of the tests (not before)
// with status 0 and no sanitizer report.
export function assertCleanExit(r, label) {
  const tail = r.stderr.split('\n').slice(-60).join('\n');
  assert.deepEqual(sanitizerReports(r.stderr), [], `${label} printed sanitizer reports:\n${tail}`);
  assert.equal(r.early, false, `${label} exited on its own before the tests ended ` +
               `(status ${r.code}, signal ${r.signal})\n${tail}`);
  assert.equal(r.killed, false, `${label} did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM\n${tail}`);
  assert.equal(r.signal, null, `${label} died of signal ${r.signal}\n${tail}`);
  assert.equal(r.code, 0, `${label} exited with status ${r.code}\n${tail}`);
}

// ---- the mock ------------------------------------------------------------

export class Mock {
  constructor(child, url) {
    this.child = child;
    this.url = url;
  }

  get stderr() { return this.child.out.stderr; }

  async call(method, p, body) {
    const res = await fetch(this.url + p, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    assert.ok(res.ok, `mock ${method} ${p} answered ${res.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  }

  reset() { return this.call('POST', '/_mock/reset', {}); }
  config(settings) { return this.call('POST', '/_mock/config', settings); }
  tokens(token, state) { return this.call('POST', '/_mock/tokens', { token, state }); }
  expire() { return this.call('POST', '/_mock/expire', {}); }
  requests() { return this.call('GET', '/_mock/requests'); }
  stats() { return this.call('GET', '/_mock/stats'); }

  // A position in the request log, for requestsSince().
  async mark() { return (await this.requests()).length; }

  async requestsSince(mark, pathFilter) {
    const all = (await this.requests()).slice(mark);
    return pathFilter ? all.filter((r) => r.path === pathFilter) : all;
  }

  stop() { return stopChild(this.child); }
}

export async function startMock() {
  const child = await spawnReady(MOCK_BIN, ['--port', '0', '--fixtures', FIXTURES], 'stdout',
                                 /listening on 127\.0\.0\.1:(\d+)/, 'mock-chatglm');
  return new Mock(child, `http://127.0.0.1:${child.match[1]}`);
}

// ---- the server ----------------------------------------------------------

export class Server {
  constructor(child, port, prefix) {
    this.child = child;
    this.port = port;
    this.prefix = prefix;
    this.base = `http://127.0.0.1:${port}`;
    this.url = this.base + prefix;
  }

  get stderr() { return this.child.out.stderr; }

  client(token, opts = {}) {
    return new OpenAI({ baseURL: this.url + '/v1', apiKey: token, maxRetries: 0, timeout: 20000, ...opts });
  }

  async stop() {
    const r = await stopChild(this.child);
    if (this.dataDir) {
      fs.rmSync(this.dataDir, { recursive: true, force: true });
      tempDirs.delete(this.dataDir);
    }
    return r;
  }
}

// Each server gets its own empty account store (--data-dir), so that no run
// sees the rotated tokens of another.
export async function startServer(mockUrl, extraArgs = []) {
  const dataDir = extraArgs.includes('--data-dir') ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'glm-e2e-'));
  if (dataDir) tempDirs.add(dataDir);
  const args = ['--host', '127.0.0.1', '--port', '0', '--upstream', mockUrl, '--log-level', 'debug',
                ...(dataDir ? ['--data-dir', dataDir] : []), ...extraArgs];
  let child;
  try {
    child = await spawnReady(GLM_BIN, args, 'stderr',
                             /listening on http:\/\/127\.0\.0\.1:(\d+)(\S*)/, 'glm-free-api');
  } catch (e) {
    if (dataDir) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      tempDirs.delete(dataDir);
    }
    throw e;
  }
  const server = new Server(child, Number(child.match[1]), child.match[2] || '');
  server.dataDir = dataDir;
  return server;
}

// ---- helpers -------------------------------------------------------------

let tokenSeq = 0;
// A fresh refresh token (a new account for the mock).
export function newToken(label = 't') {
  return `e2e-${label}-${process.pid}-${++tokenSeq}-${randomBytes(6).toString('hex')}`;
}

export function user(text) {
  return [{ role: 'user', content: text }];
}

// Polls fn until it returns a truthy value; returns it, or the last value after timeoutMs.
export async function waitFor(fn, timeoutMs = 2000, intervalMs = 25) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v || Date.now() >= end) return v;
    await sleep(intervalMs);
  }
}

// Reads an SDK stream to its end. Returns the chunks, the concatenated
// delta.content and delta.reasoning_content, and the error it threw (if any).
export async function collect(stream, onChunk) {
  const r = { chunks: [], content: '', reasoning: '', error: null };
  try {
    for await (const chunk of stream) {
      r.chunks.push(chunk);
      const d = chunk.choices?.[0]?.delta;
      if (d && typeof d.content === 'string') r.content += d.content;
      if (d && typeof d.reasoning_content === 'string') r.reasoning += d.reasoning_content;
      if (onChunk && (await onChunk(chunk, r)) === false) break;
    }
  } catch (e) {
    r.error = e;
  }
  return r;
}

// Runs p and returns the error it rejects with (fails if it resolves).
export async function rejection(p) {
  try {
    const v = await p;
    assert.fail(`expected an error, got ${JSON.stringify(v)?.slice(0, 500)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    return e;
  }
}

export const OBJECT_ID = /^[0-9a-f]{24}$/;

// Checks the chatglm.cn request signature trio (protocol spec 4.1).
export function assertSigned(headers, what) {
  const ts = headers['x-timestamp'];
  const nonce = headers['x-nonce'];
  const sign = headers['x-sign'];
  assert.match(ts ?? '', /^\d{13}$/, `${what}: x-timestamp`);
  assert.match(nonce ?? '', /^[0-9a-f]{32}$/, `${what}: x-nonce`);
  const digits = [...ts].map(Number);
  const check = (digits.reduce((a, b) => a + b, 0) - digits[11]) % 10;
  assert.equal(digits[11], check, `${what}: x-timestamp check digit`);
  assert.ok(Math.abs(Number(ts) - Date.now()) < 10 * 60 * 1000, `${what}: x-timestamp is now`);
  const want = createHash('md5').update(`${ts}-${nonce}-${SIGN_SECRET}`).digest('hex');
  assert.equal(sign, want, `${what}: x-sign`);
}

// The payload of a JWT (no signature check), or null.
export function jwtPayload(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) return null;
  try {
    return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

// The text of the first content item of an upstream stream request (the prompt).
export function promptOf(req) {
  return req.json?.messages?.[0]?.content?.[0]?.text;
}

// A mock serving the fixtures of dir instead of tests/fixtures (it needs
// chat-plain.sse and chat-error-json.txt there too): for tests that generate
// transcripts, e.g. drawings whose image URLs point at a loopback server.
export async function startMockWithFixtures(dir) {
  const child = await spawnReady(MOCK_BIN, ['--port', '0', '--fixtures', dir], 'stdout',
                                 /listening on 127\.0\.0\.1:(\d+)/, 'mock-chatglm');
  return new Mock(child, `http://127.0.0.1:${child.match[1]}`);
}

// ---- Redis ---------------------------------------------------------------

// Debian's redis-server on a free loopback port, in a temporary directory,
// without persistence (no RDB, no AOF; persist: an AOF fsynced at each write,
// so that a kill and a start keep the data); never under GLM_WRAP. stop() and
// start() again keep the port, so servers reconnect to the same URL.
export const REDIS_BIN = process.env.REDIS_SERVER_BIN || '/usr/bin/redis-server';
export const haveRedis = () => fs.existsSync(REDIS_BIN);

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Encodes one command; reads one reply (RESP2).
function respEncode(args) {
  let out = `*${args.length}\r\n`;
  for (const a of args) {
    const b = Buffer.from(String(a));
    out += `$${b.length}\r\n${b.toString('latin1')}\r\n`;
  }
  return Buffer.from(out, 'latin1');
}

function respParse(buf, pos = 0) {
  const nl = buf.indexOf('\r\n', pos);
  if (nl < 0) return null;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, nl);
  const next = nl + 2;
  if (type === '+') return { value: line, end: next };
  if (type === '-') return { value: new Error(line), end: next };
  if (type === ':') return { value: Number(line), end: next };
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, end: next };
    if (buf.length < next + n + 2) return null;
    return { value: buf.toString('utf8', next, next + n), end: next + n + 2 };
  }
  if (type === '*') {
    const n = Number(line);
    if (n < 0) return { value: null, end: next };
    const items = [];
    let p = next;
    for (let i = 0; i < n; i++) {
      const r = respParse(buf, p);
      if (!r) return null;
      items.push(r.value);
      p = r.end;
    }
    return { value: items, end: p };
  }
  throw new Error(`bad RESP reply type ${type}`);
}

export class Redis {
  constructor(dir, port, persist = false) {
    this.dir = dir;
    this.port = port;
    this.persist = persist;
    this.url = `redis://127.0.0.1:${port}/0`;
    this.child = null;
  }

  async start() {
    this.child = await spawnReady(REDIS_BIN, ['--port', String(this.port), '--bind', '127.0.0.1',
      '--save', '', '--appendonly', this.persist ? 'yes' : 'no', '--appendfsync', 'always',
      '--dir', this.dir, '--daemonize', 'no',
      '--loglevel', 'notice'], 'stdout', /Ready to accept connections/, 'redis-server', false);
  }

  // Like a crash: nothing to save anyway.
  async kill() {
    if (!this.child) return;
    const c = this.child;
    this.child = null;
    c.proc.kill('SIGKILL');
    await c.exited;
  }

  async stop() {
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
    tempDirs.delete(this.dir);
  }

  // One command on a connection of its own: resolves with the reply.
  command(...args) {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection({ host: '127.0.0.1', port: this.port });
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => { sock.destroy(); reject(new Error('redis: no reply')); }, 10000);
      sock.on('connect', () => sock.write(respEncode(args)));
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        let r;
        try { r = respParse(buf); } catch (e) { clearTimeout(timer); sock.destroy(); reject(e); return; }
        if (!r) return;
        clearTimeout(timer);
        sock.end();
        if (r.value instanceof Error) reject(r.value); else resolve(r.value);
      });
      sock.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
  }
}

export async function startRedis({ persist = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glm-redis-'));
  tempDirs.add(dir);
  let lastErr;
  for (let i = 0; i < 3; i++) {
    const r = new Redis(dir, await freePort(), persist);
    try {
      await r.start();
      return r;
    } catch (e) {
      lastErr = e; // the port was taken meanwhile: another one
    }
  }
  throw lastErr;
}
