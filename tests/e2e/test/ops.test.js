// Operations: the example configuration file, --check-config, graceful stop,
// SIGHUP, /metrics, JSON logs, and the deploy/ files (systemd unit, Docker
// build steps, compose file, nginx example), each run or checked here since
// this machine has no Docker engine and no systemd as init.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  REPO, GLM_BIN, startMock, startServer, newToken, user, sleep, waitFor, sanitizerReports,
  assertCleanExit,
} from '../lib/harness.js';
import { PLAIN } from '../lib/expected.js';

const DEPLOY = path.join(REPO, 'deploy');
const EXAMPLE = path.join(DEPLOY, 'glm-free-api.conf.example');

let mock;
const temps = [];
function tempDir(label) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `glm-ops-${label}-`));
  temps.push(d);
  return d;
}

before(async () => {
  mock = await startMock();
});

after(async () => {
  await mock?.stop();
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: REPO, timeout: 60000, maxBuffer: 16 << 20, ...opts }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr, err });
    });
  });
}

// Every setting of `glm-free-api --help`: [{ name, env }].
function settings() {
  const r = spawnSync(GLM_BIN, ['--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = [];
  for (const m of r.stdout.matchAll(/^ {2}--([a-z0-9-]+) +(GLM_[A-Z0-9_]+)$/gm)) out.push({ name: m[1], env: m[2] });
  assert.ok(out.length > 30, `--help lists the settings (found ${out.length})`);
  return out;
}

// A streamed chat request through fetch; returns the response.
function chatStream(base, token, prompt, extraHeaders = {}) {
  return fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...extraHeaders },
    body: JSON.stringify({ model: 'glm-4', messages: user(prompt), stream: true }),
  });
}

// Reads SSE text to its end; returns { text, content, id }.
async function readSse(reader, first = '') {
  let text = first;
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
  }
  let content = '';
  let id = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const j = JSON.parse(line.slice(6));
    id ??= j.id;
    content += j.choices?.[0]?.delta?.content ?? '';
  }
  return { text, content, id };
}

function connectResult(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve('connected'); });
    s.once('error', (e) => resolve(e.code));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Starts any command line that ends in the server, waits for its "listening"
// line; returns { proc, port, out, exited }.
function startCommand(argv, opts = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    const out = { stdout: '', stderr: '' };
    const exited = new Promise((res) => proc.on('exit', (code, signal) => res({ code, signal })));
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`no listening line:\n${out.stderr}`)); }, 20000);
    const check = () => {
      const m = out.stderr.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolve({ proc, port: Number(m[1]), out, exited }); }
    };
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (d) => { out.stdout += d; });
    proc.stderr.on('data', (d) => { out.stderr += d; check(); });
    exited.then((r) => { clearTimeout(timer); reject(new Error(`exited early (${r.code}, ${r.signal}):\n${out.stderr}`)); });
  });
}

async function stopCommand(c) {
  c.proc.kill('SIGTERM');
  const r = await Promise.race([c.exited, sleep(15000).then(() => null)]);
  if (!r) c.proc.kill('SIGKILL');
  return r;
}

async function plainChat(base, token) {
  const res = await chatStream(base, token, '[[fixture:chat-plain]] hi');
  assert.equal(res.status, 200);
  const r = await readSse(res.body.getReader());
  assert.equal(r.content, PLAIN);
  assert.match(r.text, /data: \[DONE\]/);
  return r;
}

// ---- Prometheus text format ------------------------------------------------

// Parses the text format 0.0.4 strictly enough to catch what a scraper
// rejects; returns { families: Map(name -> {type, help}), samples: Map(series -> value) }.
function parsePrometheus(text) {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const families = new Map();
  const samples = new Map();
  let current = null;
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  for (const line of text.slice(0, -1).split('\n')) {
    let m;
    if ((m = line.match(/^# (HELP|TYPE) (\S+) (.*)$/))) {
      assert.match(m[2], NAME, line);
      const f = families.get(m[2]) ?? {};
      if (m[1] === 'TYPE') {
        assert.ok(!f.type, `TYPE twice: ${line}`);
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]), line);
        f.type = m[3];
        current = m[2];
      } else {
        f.help = m[3];
      }
      families.set(m[2], f);
      continue;
    }
    assert.ok(!line.startsWith('#'), `unexpected comment: ${line}`);
    m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (\S+)$/);
    assert.ok(m, `bad sample line: ${line}`);
    const base = m[1].replace(/_(bucket|sum|count)$/, '');
    const fam = families.get(m[1])?.type ? m[1] : base;
    assert.equal(fam, current, `sample away from its TYPE line: ${line}`);
    if (fam !== m[1]) assert.equal(families.get(fam).type, 'histogram', line);
    const v = Number(m[3] === '+Inf' ? Infinity : m[3]);
    assert.ok(!Number.isNaN(v), `bad value: ${line}`);
    samples.set(m[1] + (m[2] ?? ''), v);
  }
  for (const [name, f] of families) {
    assert.ok(f.type, `${name} has a TYPE`);
    if (f.type !== 'histogram') continue;
    let prev = -1;
    for (const [k, v] of samples) {
      if (!k.startsWith(`${name}_bucket{`)) continue;
      assert.ok(v >= prev, `${name} buckets are cumulative`);
      prev = v;
    }
    assert.equal(samples.get(`${name}_bucket{le="+Inf"}`), samples.get(`${name}_count`), `${name}: +Inf == count`);
  }
  return { families, samples };
}

async function scrape(base, headers = {}) {
  const res = await fetch(`${base}/metrics`, { headers });
  const text = await res.text();
  return { res, text };
}

// ---- the example configuration file ----------------------------------------

describe('example configuration file', () => {
  test('is what scripts/gen-example-config.sh makes of --help (no drift)', async () => {
    const r = await run(path.join(REPO, 'scripts/gen-example-config.sh'), [GLM_BIN]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(EXAMPLE, 'utf8'), r.stdout,
      'deploy/glm-free-api.conf.example is stale: run scripts/gen-example-config.sh build/release/glm-free-api > deploy/glm-free-api.conf.example');
  });

  test('lists every setting with its environment variable', () => {
    const text = fs.readFileSync(EXAMPLE, 'utf8');
    for (const { name, env } of settings()) {
      assert.ok(text.includes(`## ${name} (env ${env}):`), `${name} documented`);
      if (name !== 'config') assert.match(text, new RegExp(`^# ${name} =`, 'm'), `${name} line`);
    }
  });

  test('the server starts with it, as it is and with every line uncommented', async () => {
    const dir = tempDir('example');
    const all = path.join(dir, 'all.conf');
    const text = fs.readFileSync(EXAMPLE, 'utf8');
    const uncommented = text.replace(/^# ([a-z0-9-]+ =)/gm, '$1');
    assert.ok((uncommented.match(/^[a-z]/gm) ?? []).length >= settings().length - 1);
    fs.writeFileSync(all, uncommented);
    for (const file of [EXAMPLE, all]) {
      const check = await run(GLM_BIN, ['--config', file, '--check-config']);
      assert.equal(check.code, 0, `${file}: ${check.stderr}`);
      assert.match(check.stdout, /configuration OK/);
      // Flags win over the file: loopback, any port, the mock.
      const server = await startServer(mock.url, ['--config', file]);
      try {
        await plainChat(server.url, newToken('example'));
      } finally {
        assertCleanExit(await server.stop(), `server with ${path.basename(file)}`);
      }
    }
  });
});

describe('--check-config', () => {
  const cases = [
    ['unknown key', 'port = 8000\n# a comment\nportt = 1\n', 3, /unknown setting "portt"/],
    ['bad number', 'host = 127.0.0.1\n\nport = eighty\n', 3, /port must be a number/],
    ['bad choice', 'log-format = yaml\n', 1, /log-format must be one of text\|json/],
    ['no equals sign', 'host 127.0.0.1\n', 1, /expected "key = value"/],
    ['unterminated quote', 'user-agent = "abc\n', 1, /quote/],
  ];
  for (const [what, body, line, reason] of cases) {
    test(`rejects a file with ${what}, naming the line`, async () => {
      const file = path.join(tempDir('check'), 'bad.conf');
      fs.writeFileSync(file, body);
      const r = await run(GLM_BIN, ['--config', file, '--check-config']);
      assert.notEqual(r.code, 0);
      assert.ok(r.stderr.includes(`${file}:${line}: `), `line ${line} named: ${r.stderr}`);
      assert.match(r.stderr, reason);
    });
  }

  test('a server given a broken file does not start', async () => {
    const file = path.join(tempDir('check'), 'bad.conf');
    fs.writeFileSync(file, 'metrics-public = maybe\n');
    const r = await run(GLM_BIN, ['--config', file, '--port', '0', '--host', '127.0.0.1']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.conf:1: metrics-public must be one of false\|true/);
  });
});

// ---- graceful stop and signals -------------------------------------------

describe('graceful stop', () => {
  test('SIGTERM: the stream in flight completes, its conversation is deleted, new connections are refused, exit 0', async () => {
    await mock.config({ delay_ms: 150 });
    const server = await startServer(mock.url, ['--shutdown-grace', '20']);
    try {
      const token = newToken('graceful');
      const res = await chatStream(server.url, token, '[[fixture:chat-plain]] hi');
      assert.equal(res.status, 200);
      const reader = res.body.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      assert.match(first, /^data: /);
      const deletesBefore = (await mock.stats()).deletes;

      server.child.proc.kill('SIGTERM');
      const refused = await waitFor(async () => (await connectResult(server.port)) === 'ECONNREFUSED', 2000);
      assert.ok(refused, 'a new connection after SIGTERM is refused');
      assert.equal(server.child.proc.exitCode, null, 'still running while the stream goes on');

      const r = await readSse(reader, first);
      assert.equal(r.content, PLAIN, 'the whole answer arrived');
      assert.match(r.text, /data: \[DONE\]\n\n$/);

      const exit = await Promise.race([server.child.exited, sleep(10000).then(() => null)]);
      assert.ok(exit, 'exited after the stream');
      assert.equal(exit.signal, null);
      assert.equal(exit.code, 0);
      const out = await server.stop(); // already gone: no second signal
      assert.deepEqual(sanitizerReports(out.stderr), []);
      assert.match(out.stderr, /SIGTERM: no new connections/);

      assert.equal((await mock.stats()).deletes, deletesBefore + 1, 'one delete call');
      const conv = (await mock.call('GET', '/_mock/conversations')).find((c) => c.id === r.id);
      assert.ok(conv, `conversation ${r.id} known to the mock`);
      assert.equal(conv.deleted, true, 'its conversation was deleted before the exit');
    } finally {
      await mock.config({ delay_ms: 0 });
      await server.stop();
    }
  });

  test('a second signal stops at once', async () => {
    const server = await startServer(mock.url, ['--shutdown-grace', '60']);
    try {
      const res = await chatStream(server.url, newToken('second'), '[[scenario:endless]] hi');
      const reader = res.body.getReader();
      await reader.read();
      server.child.proc.kill('SIGTERM');
      await sleep(300);
      assert.equal(server.child.proc.exitCode, null, 'waits for the endless stream');
      const t0 = Date.now();
      server.child.proc.kill('SIGINT');
      const exit = await Promise.race([server.child.exited, sleep(5000).then(() => null)]);
      assert.ok(exit, 'stopped after the second signal');
      assert.ok(Date.now() - t0 < 3000);
      assert.equal(exit.code, 0);
      await reader.cancel().catch(() => {});
      const out = await server.stop();
      assert.deepEqual(sanitizerReports(out.stderr), []);
      assert.match(out.stderr, /second stop signal/);
    } finally {
      await server.stop();
    }
  });

  test('the grace period ends a stream that does not finish', async () => {
    const server = await startServer(mock.url, ['--shutdown-grace', '1']);
    try {
      const res = await chatStream(server.url, newToken('grace'), '[[scenario:endless]] hi');
      const reader = res.body.getReader();
      await reader.read();
      const t0 = Date.now();
      server.child.proc.kill('SIGTERM');
      const exit = await Promise.race([server.child.exited, sleep(8000).then(() => null)]);
      assert.ok(exit, 'stopped after the grace period');
      assert.ok(Date.now() - t0 >= 900, 'not before the grace period');
      assert.equal(exit.code, 0);
      await reader.cancel().catch(() => {});
      const out = await server.stop();
      assert.deepEqual(sanitizerReports(out.stderr), []);
      assert.match(out.stderr, /grace period over/);
    } finally {
      await server.stop();
    }
  });

  test('SIGHUP reopens the log file (logrotate)', async () => {
    const dir = tempDir('hup');
    const log = path.join(dir, 'glm.log');
    // With --log-file the lines go to the file, where the harness does not
    // look for "listening": started by hand.
    const proc = spawn(GLM_BIN, ['--host', '127.0.0.1', '--port', '0', '--upstream', mock.url,
      '--data-dir', path.join(dir, 'data'), '--log-file', log], { stdio: 'ignore' });
    const exited = new Promise((res) => proc.on('exit', (code, signal) => res({ code, signal })));
    try {
      const port = await waitFor(() => {
        const m = fs.existsSync(log) && fs.readFileSync(log, 'utf8').match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
        return m ? Number(m[1]) : 0;
      }, 10000);
      assert.ok(port, 'listening line in the log file');
      fs.renameSync(log, `${log}.1`);
      proc.kill('SIGHUP');
      await waitFor(() => fs.existsSync(log), 3000);
      assert.ok(fs.existsSync(log), 'a new log file after SIGHUP');
      const res = await fetch(`http://127.0.0.1:${port}/ping`, { headers: { 'x-request-id': 'after-hup' } });
      assert.equal(await res.text(), 'pong');
      const fresh = await waitFor(() => fs.readFileSync(log, 'utf8').includes('[after-hup] GET /ping 200'), 3000);
      assert.ok(fresh, 'the request after SIGHUP is logged in the new file');
      assert.ok(!fs.readFileSync(`${log}.1`, 'utf8').includes('after-hup'), 'not in the old one');
    } finally {
      proc.kill('SIGTERM');
      const r = await exited;
      assert.equal(r.code, 0);
    }
  });
});

// ---- /metrics and logs ---------------------------------------------------

describe('/metrics', () => {
  test('parses as Prometheus text and its counters move after a request', async () => {
    const server = await startServer(mock.url);
    try {
      const a = await scrape(server.url);
      assert.equal(a.res.status, 200);
      assert.match(a.res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const before = parsePrometheus(a.text);
      for (const name of ['glm_http_requests_total', 'glm_active_streams', 'glm_queue_length',
        'glm_upstream_latency_seconds', 'glm_time_to_first_token_seconds', 'glm_http_request_bytes_total',
        'glm_http_response_bytes_total', 'glm_accounts', 'glm_token_refreshes_total',
        'glm_upstream_retries_total', 'glm_fetch_refusals_total']) {
        assert.ok(before.families.has(name), `${name} exported`);
      }
      const CHAT200 = 'glm_http_requests_total{route="/v1/chat/completions",status="200"}';
      assert.equal(before.samples.get(CHAT200) ?? 0, 0);

      const token = newToken('metrics');
      await plainChat(server.url, token);
      await sleep(100);
      const after = parsePrometheus((await scrape(server.url)).text).samples;
      assert.equal(after.get(CHAT200), 1);
      assert.equal(after.get('glm_http_requests_total{route="/metrics",status="200"}'), 1);
      assert.equal(after.get('glm_time_to_first_token_seconds_count'), 1);
      assert.equal(after.get('glm_upstream_latency_seconds_count'), 1);
      assert.equal(after.get('glm_token_refreshes_total{result="ok"}'), 1);
      assert.ok(after.get('glm_http_response_bytes_total') > before.samples.get('glm_http_response_bytes_total'));
      assert.ok(after.get('glm_http_request_bytes_total') > 50);
      assert.ok(after.get('glm_upstream_bytes_total') > 1000);
      assert.equal(after.get('glm_active_streams'), 0);
      assert.equal(after.get('glm_accounts{state="ok"}'), 1);
      const fp = [...after.keys()].find((k) => k.startsWith('glm_account_state{'));
      assert.match(fp, /^glm_account_state\{account="[0-9a-f]{6}",state="ok"\}$/);
      assert.ok(!a.text.includes(token) && !(await scrape(server.url)).text.includes(token), 'no token in the metrics');

      // A busy account is a retry (failover) when a second one is given.
      const busy = newToken('busy');
      await mock.tokens(busy, 'busy');
      const res = await chatStream(server.url, `${busy},${newToken('spare')}`, '[[fixture:chat-plain]] hi');
      const r = await readSse(res.body.getReader());
      assert.equal(r.content, PLAIN);
      const later = parsePrometheus((await scrape(server.url)).text).samples;
      assert.equal(later.get('glm_upstream_retries_total{reason="busy"}'), 1);
      // Unknown paths share one series.
      await fetch(`${server.url}/no/such/${Math.random()}`);
      await fetch(`${server.url}/another/${Math.random()}`);
      const last = parsePrometheus((await scrape(server.url)).text).samples;
      assert.equal(last.get('glm_http_requests_total{route="other",status="404"}'), 2);
    } finally {
      assertCleanExit(await server.stop(), 'server');
    }
  });

  test('counts fetch refusals (an attachment URL on a loopback address)', async () => {
    const server = await startServer(mock.url);
    try {
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${newToken('fetch')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'glm-4', messages: [{ role: 'user', content: [
          { type: 'text', text: 'what is this?' },
          { type: 'image_url', image_url: { url: 'http://127.0.0.1:9/secret.png' } }] }] }),
      });
      assert.ok(res.status >= 400, `refused (${res.status})`);
      await res.text();
      const m = parsePrometheus((await scrape(server.url)).text).samples;
      assert.equal(m.get('glm_fetch_refusals_total{reason="forbidden-address"}'), 1);
    } finally {
      assertCleanExit(await server.stop(), 'server');
    }
  });

  test('counts an SSE stream as active while it runs', async () => {
    const server = await startServer(mock.url);
    try {
      const res = await chatStream(server.url, newToken('active'), '[[scenario:endless]] hi');
      const reader = res.body.getReader();
      await reader.read();
      const m = parsePrometheus((await scrape(server.url)).text).samples;
      assert.equal(m.get('glm_active_streams'), 1);
      assert.equal(m.get('glm_chat_in_progress'), 1);
      await reader.cancel();
      const gone = await waitFor(async () =>
        parsePrometheus((await scrape(server.url)).text).samples.get('glm_active_streams') === 0, 3000);
      assert.ok(gone, 'back to 0 after the client left');
    } finally {
      assertCleanExit(await server.stop(), 'server');
    }
  });

  test('with --api-keys it needs a key, unless metrics-public is true', async () => {
    const keyed = await startServer(mock.url, ['--api-keys', 'sk-ops-1,sk-ops-2']);
    const open = await startServer(mock.url, ['--api-keys', 'sk-ops-1', '--metrics-public', 'false']);
    try {
      assert.equal((await scrape(keyed.url)).res.status, 401);
      assert.equal((await scrape(keyed.url, { authorization: 'Bearer wrong' })).res.status, 401);
      const ok = await scrape(keyed.url, { authorization: 'Bearer sk-ops-2' });
      assert.equal(ok.res.status, 200);
      parsePrometheus(ok.text);
      assert.equal((await scrape(open.url)).res.status, 401);
    } finally {
      assertCleanExit(await keyed.stop(), 'keyed');
      assertCleanExit(await open.stop(), 'open');
    }
    const pub = await startServer(mock.url, ['--api-keys', 'sk-ops-1', '--metrics-public', 'true']);
    try {
      assert.equal((await scrape(pub.url)).res.status, 200);
    } finally {
      assertCleanExit(await pub.stop(), 'public');
    }
  });

  test('is served under --url-prefix', async () => {
    const server = await startServer(mock.url, ['--url-prefix', '/glm']);
    try {
      assert.equal(server.prefix, '/glm');
      const { res, text } = await scrape(server.url);
      assert.equal(res.status, 200);
      assert.ok(parsePrometheus(text).families.has('glm_build_info'));
      await fetch(`${server.url}/ping`);
      const m = parsePrometheus((await scrape(server.url)).text).samples;
      assert.equal(m.get('glm_http_requests_total{route="/ping",status="200"}'), 1);
    } finally {
      assertCleanExit(await server.stop(), 'server');
    }
  });
});

describe('logs', () => {
  test('--log-format json: one JSON object a line, the request id on the request lines and in X-Request-Id', async () => {
    const server = await startServer(mock.url, ['--log-format', 'json']);
    let out;
    try {
      const res = await chatStream(server.url, newToken('json'), '[[fixture:chat-plain]] hi');
      const rid = res.headers.get('x-request-id');
      assert.match(rid ?? '', /^req-[0-9a-f]{16}$/);
      await readSse(res.body.getReader());
      const given = await fetch(`${server.url}/ping`, { headers: { 'x-request-id': 'ops-rid-7' } });
      assert.equal(given.headers.get('x-request-id'), 'ops-rid-7');
      await given.text();
      await sleep(200);
      out = await server.stop();
      assertCleanExit(out, 'server');
      const lines = out.stderr.split('\n').filter((l) => l.trim());
      const objs = lines.map((l) => {
        try { return JSON.parse(l); } catch { assert.fail(`not JSON: ${l}`); }
        return null;
      });
      for (const o of objs) {
        assert.match(o.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.ok(['debug', 'info', 'warn', 'error'].includes(o.level));
        assert.equal(typeof o.msg, 'string');
      }
      const access = objs.find((o) => o.msg.startsWith('POST /v1/chat/completions 200'));
      assert.ok(access, 'access log line');
      assert.equal(access.rid, rid);
      assert.ok(objs.some((o) => o.rid === 'ops-rid-7' && o.msg.startsWith('GET /ping 200')));
      // The debug line of the chat job carries the id too.
      assert.ok(objs.some((o) => o.rid === rid && o.msg.startsWith('chat model=glm-4')));
    } finally {
      await server.stop();
    }
  });
});

// ---- deploy/: systemd, Docker, compose, nginx --------------------------------

describe('deploy files', () => {
  let destdir;
  let build;
  before(async () => {
    destdir = tempDir('destdir');
    // The build stage of deploy/Dockerfile, as it runs there (`make test`
    // has built the release binary already, so make finds it up to date).
    build = await run(path.join(REPO, 'scripts/docker-build-steps.sh'), ['build', destdir], { timeout: 600000 });
  });

  test('the Docker build step installs the binary, unit, docs and config into DESTDIR', () => {
    assert.equal(build.code, 0, build.stderr + build.stdout);
    const bin = path.join(destdir, 'usr/local/bin/glm-free-api');
    assert.ok(fs.statSync(bin).mode & 0o111, 'executable');
    const unit = fs.readFileSync(path.join(destdir, 'usr/local/lib/systemd/system/glm-free-api.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/local\/bin\/glm-free-api /m);
    const conf = path.join(destdir, 'etc/glm-free-api/glm-free-api.conf');
    assert.equal(fs.readFileSync(conf, 'utf8'), fs.readFileSync(EXAMPLE, 'utf8'));
    assert.equal(fs.statSync(conf).mode & 0o777, 0o600, 'the config file is root-only (it may hold tokens)');
    for (const f of ['README.md', 'README.zh-CN.md', 'glm-free-api.conf.example', 'nginx.conf'])
      assert.ok(fs.existsSync(path.join(destdir, 'usr/local/share/doc/glm-free-api', f)), f);
    const v = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    assert.match(v.stdout, /^glm-free-api \d/);
  });

  test('make install honours PREFIX and SYSCONFDIR in the unit, and make uninstall removes it', async () => {
    const d = tempDir('prefix');
    const r = await run('make', ['-s', 'install', `DESTDIR=${d}`, 'PREFIX=/opt/glm', 'SYSCONFDIR=/opt/etc'], { timeout: 600000 });
    assert.equal(r.code, 0, r.stderr);
    const unit = fs.readFileSync(path.join(d, 'opt/glm/lib/systemd/system/glm-free-api.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/opt\/glm\/bin\/glm-free-api --config %d\/glm-free-api\.conf/m);
    assert.match(unit, /^LoadCredential=glm-free-api\.conf:\/opt\/etc\/glm-free-api\/glm-free-api\.conf$/m);
    assert.ok(fs.existsSync(path.join(d, 'opt/glm/bin/glm-free-api')));
    // An edited config file survives a second install.
    const conf = path.join(d, 'opt/etc/glm-free-api/glm-free-api.conf');
    fs.writeFileSync(conf, 'port = 9000\n');
    assert.equal((await run('make', ['-s', 'install', `DESTDIR=${d}`, 'PREFIX=/opt/glm', 'SYSCONFDIR=/opt/etc'])).code, 0);
    assert.equal(fs.readFileSync(conf, 'utf8'), 'port = 9000\n');
    const u = await run('make', ['-s', 'uninstall', `DESTDIR=${d}`, 'PREFIX=/opt/glm']);
    assert.equal(u.code, 0, u.stderr);
    assert.ok(!fs.existsSync(path.join(d, 'opt/glm/bin/glm-free-api')));
    assert.ok(fs.existsSync(conf), 'uninstall keeps the config');
  });

  function installedUnit() {
    return fs.readFileSync(path.join(destdir, 'usr/local/lib/systemd/system/glm-free-api.service'), 'utf8');
  }

  test('the systemd unit passes systemd-analyze verify', { skip: spawnSync('systemd-analyze', ['--version']).status !== 0 && 'systemd-analyze not installed' }, async () => {
    const unit = installedUnit();
    for (const want of [/^DynamicUser=yes$/m, /^StateDirectory=glm-free-api$/m, /^NoNewPrivileges=yes$/m,
      /^ProtectSystem=strict$/m, /^Restart=on-failure$/m, /^KillSignal=SIGTERM$/m])
      assert.match(unit, want);
    // TimeoutStopSec must leave room for the default shutdown grace.
    assert.ok(Number(unit.match(/^TimeoutStopSec=(\d+)$/m)[1]) > 30);
    // verify checks that ExecStart's binary exists: point it at the installed one.
    const dir = tempDir('unit');
    const file = path.join(dir, 'glm-free-api.service');
    fs.writeFileSync(file, unit.replace(/^ExecStart=\/usr\/local\/bin\//m, `ExecStart=${destdir}/usr/local/bin/`));
    const r = await run('systemd-analyze', ['verify', file], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warnings');
    // The check itself fails on a broken unit.
    fs.writeFileSync(file, unit.replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/glm-free-api'));
    assert.notEqual((await run('systemd-analyze', ['verify', file], { cwd: dir })).code, 0);
  });

  test("the unit's command line starts the server (config from the credentials dir, state dir)", async () => {
    const unit = installedUnit();
    const exec = unit.match(/^ExecStart=(.*)$/m)[1];
    const workdir = unit.match(/^WorkingDirectory=(.*)$/m)[1];
    const cred = unit.match(/^LoadCredential=([^:]+):(.*)$/m);
    const dir = tempDir('systemd');
    const credDir = path.join(dir, 'credentials');
    const stateRoot = path.join(dir, 'state');
    fs.mkdirSync(credDir);
    fs.mkdirSync(path.join(stateRoot, 'glm-free-api'), { recursive: true }); // StateDirectory=
    // LoadCredential= copies the installed config file into %d.
    fs.copyFileSync(path.join(destdir, cred[2]), path.join(credDir, cred[1]));
    const expand = (s) => s.replaceAll('%d', credDir).replaceAll('%S', stateRoot);
    const argv = expand(exec).split(/\s+/);
    assert.equal(argv[0], '/usr/local/bin/glm-free-api');
    argv[0] = path.join(destdir, argv[0]);
    // Only loopback, a free port and the mock are added to the unit's command line.
    const c = await startCommand([...argv, '--host', '127.0.0.1', '--port', '0', '--upstream', mock.url],
      { cwd: expand(workdir) });
    try {
      await plainChat(`http://127.0.0.1:${c.port}`, newToken('unit'));
      assert.ok(fs.existsSync(path.join(stateRoot, 'glm-free-api')), 'state in StateDirectory');
      assert.ok(fs.readdirSync(path.join(stateRoot, 'glm-free-api')).length > 0, 'the account store is in the state dir');
      // ExecReload= sends SIGHUP: the server keeps running.
      assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
      c.proc.kill('SIGHUP');
      await sleep(200);
      assert.equal((await fetch(`http://127.0.0.1:${c.port}/ping`).then((r) => r.text())), 'pong');
    } finally {
      const r = await stopCommand(c);
      assert.equal(r?.code, 0, c.out.stderr);
    }
  });

  function dockerfile() {
    return fs.readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  }

  test('the Dockerfile: Debian 12 slim stages, the build-step script, non-root, port, volume, settings', () => {
    const text = dockerfile();
    const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const froms = lines.filter((l) => l.startsWith('FROM '));
    assert.equal(froms.length, 2, 'multi-stage');
    for (const f of froms) assert.match(f, /^FROM debian:12-slim\b/);
    const runs = lines.filter((l) => l.startsWith('RUN '));
    assert.ok(runs.length >= 2);
    for (const r of runs) assert.match(r, /scripts\/docker-build-steps\.sh (build|runtime) /, `RUN uses the build-step script: ${r}`);
    for (const l of lines.filter((x) => x.startsWith('COPY ') && !x.includes('--from'))) {
      for (const src of l.split(/\s+/).slice(1, -1)) assert.ok(fs.existsSync(path.join(REPO, src)), `COPY source ${src} exists`);
    }
    const userLine = lines.find((l) => l.startsWith('USER '));
    assert.ok(userLine && !/\b(root|0)\b/.test(userLine), 'runs as a non-root user');
    assert.ok(lines.includes('EXPOSE 8000'));
    assert.ok(lines.some((l) => /^VOLUME \["?\/data"?\]$/.test(l)));
    assert.match(text, /ENTRYPOINT \["\/usr\/local\/bin\/glm-free-api"\]/);
    const names = new Set(settings().map((s) => s.env));
    for (const m of text.matchAll(/\b(GLM_[A-Z_]+)=/g)) assert.ok(names.has(m[1]), `${m[1]} is a setting`);
  });

  test('the runtime step: the runtime package list covers every library the binary needs', async () => {
    const bin = path.join(destdir, 'usr/local/bin/glm-free-api');
    const r = await run(path.join(REPO, 'scripts/docker-build-steps.sh'), ['check-runtime', bin]);
    assert.equal(r.code, 0, r.stderr);
    // ...and it fails for a binary that needs more (the ASan build needs libasan).
    const asan = await run(path.join(REPO, 'scripts/docker-build-steps.sh'), ['check-runtime', GLM_BIN]);
    if (spawnSync('objdump', ['--version']).status === 0) {
      assert.notEqual(asan.code, 0);
      assert.match(asan.stderr, /libasan/);
    }
  });

  test('the HEALTHCHECK command passes against the installed binary run with the image settings', async () => {
    const text = dockerfile();
    const hc = JSON.parse(text.match(/HEALTHCHECK .*?CMD (\[.*\])/)[1]);
    const env = { PATH: process.env.PATH };
    const envLine = text.split('\n').find((l) => l.startsWith('ENV '));
    for (const m of envLine.matchAll(/\b(GLM_[A-Z_]+)=(\S+)/g)) env[m[1]] = m[2];
    assert.equal(env.GLM_PORT, '8000');
    assert.equal(env.GLM_DATA_DIR, '/data');
    const port = await freePort();
    const dir = tempDir('docker');
    // The image's settings, except loopback, a free port and a writable data dir.
    Object.assign(env, { GLM_HOST: '127.0.0.1', GLM_PORT: String(port), GLM_DATA_DIR: path.join(dir, 'data'), GLM_UPSTREAM: mock.url });
    const c = await startCommand([path.join(destdir, 'usr/local/bin/glm-free-api')], { env, cwd: dir });
    try {
      const ok = await run(hc[0], hc.slice(1), { env, timeout: 5000 });
      assert.equal(ok.code, 0, `healthy: ${ok.stderr}`);
      await plainChat(`http://127.0.0.1:${port}`, newToken('docker'));
      const other = await freePort();
      const bad = await run(hc[0], hc.slice(1), { env: { ...env, GLM_PORT: String(other) }, timeout: 5000 });
      assert.notEqual(bad.code, 0, 'unhealthy when nothing answers');
    } finally {
      const r = await stopCommand(c);
      assert.equal(r?.code, 0, c.out.stderr);
    }
    // Under a prefix the check follows GLM_URL_PREFIX.
    const c2 = await startCommand([path.join(destdir, 'usr/local/bin/glm-free-api')], { env: { ...env, GLM_URL_PREFIX: '/glm' }, cwd: dir });
    try {
      const ok = await run(hc[0], hc.slice(1), { env: { ...env, GLM_URL_PREFIX: '/glm' }, timeout: 5000 });
      assert.equal(ok.code, 0);
    } finally {
      await stopCommand(c2);
    }
  });

  test('the compose file: its settings are valid, port, volume and stop grace fit the image', async () => {
    const text = fs.readFileSync(path.join(DEPLOY, 'docker-compose.yml'), 'utf8');
    assert.match(text, /^ {4}restart: unless-stopped$/m);
    assert.match(text, /^ {6}context: \.\.$/m);
    assert.match(text, /^ {6}dockerfile: deploy\/Dockerfile$/m);
    assert.ok(fs.existsSync(path.join(DEPLOY, 'Dockerfile')));
    assert.match(text, /^ {6}- "8000:8000"$/m);
    assert.match(text, /^ {6}- glm-data:\/data$/m);
    const grace = Number(text.match(/^ {4}stop_grace_period: (\d+)s$/m)[1]);
    const names = new Set(settings().map((s) => s.env));
    const env = { PATH: process.env.PATH };
    const vars = [...text.matchAll(/^ {6}(GLM_[A-Z_]+): \$\{(GLM_[A-Z_]+):-([^}]*)\}$/gm)];
    assert.ok(vars.length >= 4, 'environment variables listed');
    for (const [, key, same, def] of vars) {
      assert.equal(key, same);
      assert.ok(names.has(key), `${key} is a setting`);
      env[key] = def;
    }
    assert.ok(grace > Number(env.GLM_SHUTDOWN_GRACE), 'stop_grace_period exceeds the shutdown grace');
    // The defaults the compose file passes are accepted by the server.
    const r = await run(GLM_BIN, ['--check-config'], { env });
    assert.equal(r.code, 0, r.stderr);
    if (spawnSync('docker', ['compose', 'version']).status === 0) {
      const c = await run('docker', ['compose', '-f', path.join(DEPLOY, 'docker-compose.yml'), 'config', '-q']);
      assert.equal(c.code, 0, c.stderr);
    }
  });

  test('the nginx example: SSE settings, and streams pass through nginx when it is installed', async () => {
    const conf = fs.readFileSync(path.join(DEPLOY, 'nginx.conf'), 'utf8');
    const active = conf.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean).join('\n');
    assert.match(active, /^proxy_buffering off;$/m);
    assert.match(active, /^proxy_http_version 1\.1;$/m);
    assert.match(active, /^proxy_set_header Connection "";$/m);
    const timeout = Number(active.match(/^proxy_read_timeout (\d+)s;$/m)[1]);
    assert.ok(timeout >= 300, 'a long read timeout');
    assert.match(active, /^server 127\.0\.0\.1:8000;$/m);

    const server = await startServer(mock.url);
    try {
      // The server's own header, for proxies configured without the lines above.
      const res = await chatStream(server.url, newToken('nginx'), '[[fixture:chat-plain]] hi');
      assert.equal(res.headers.get('x-accel-buffering'), 'no');
      await readSse(res.body.getReader());
      const nginx = [process.env.NGINX_BIN, '/usr/sbin/nginx', '/usr/local/sbin/nginx'].find((p) => p && fs.existsSync(p));
      if (!nginx) {
        test.diagnostic?.('nginx is not installed: the live check is skipped');
        return;
      }
      const dir = tempDir('nginx');
      const port = await freePort();
      const site = conf.replace('server 127.0.0.1:8000;', `server 127.0.0.1:${server.port};`)
        .replace('listen 80;', `listen 127.0.0.1:${port};`);
      fs.writeFileSync(path.join(dir, 'nginx.conf'), `daemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\n` +
        `events {}\nhttp {\naccess_log off;\n` +
        ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};\n`).join('') +
        `${site}\n}\n`);
      const check = await run(nginx, ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf')]);
      assert.equal(check.code, 0, `nginx -t: ${check.stderr}`);
      const proc = spawn(nginx, ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' });
      try {
        assert.ok(await waitFor(async () => (await connectResult(port)) === 'connected', 5000), 'nginx listening');
        const t0 = Date.now();
        const viaNginx = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${newToken('nginx')}`, 'content-type': 'application/json', host: 'glm.example.com' },
          body: JSON.stringify({ model: 'glm-4', messages: user('[[scenario:endless]] hi'), stream: true }),
        });
        assert.equal(viaNginx.status, 200);
        // An endless stream: only unbuffered proxying shows its first chunk.
        const reader = viaNginx.body.getReader();
        const { value } = await reader.read();
        assert.match(new TextDecoder().decode(value), /^data: /);
        assert.ok(Date.now() - t0 < 3000, 'the first chunk arrives at once');
        await reader.cancel();
      } finally {
        proc.kill('SIGTERM');
      }
    } finally {
      assertCleanExit(await server.stop(), 'server');
    }
  });
});
