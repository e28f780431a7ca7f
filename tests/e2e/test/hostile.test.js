// Hostile clients: malformed, truncated and mistyped JSON, huge and deeply
// nested bodies, invalid UTF-8 and NUL bytes, bodies and heads over the caps,
// slowloris heads, a client that never reads its stream, pipelining and
// keep-alive on raw sockets, 2,000 connections opened and dropped at once,
// and a soak of mixed requests with disconnects. Each must be answered with
// the right status and an OpenAI error while the server goes on serving, and
// nothing may leak: descriptors are counted in /proc, memory is checked by
// LeakSanitizer when the server stops (and by valgrind in make valgrind-test).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import {
  startMock, startServer, newToken, user, sleep, waitFor, assertCleanExit, PATH_DELETE,
} from '../lib/harness.js';
import { PLAIN } from '../lib/expected.js';

// Under valgrind (GLM_WRAP) everything is slower: fewer soak requests, and
// the waits of the timing-sensitive tests stretch.
const SOAK = Number(process.env.SOAK_REQUESTS || 20000);
const SLOW = process.env.GLM_WRAP ? 4 : 1;

let mock;
let server;
const extra = [];
let inputsTried = 0;

before(async () => {
  mock = await startMock();
  server = await startServer(mock.url, ['--log-level', 'info']);
});

after(async () => {
  for (const s of extra) await s.stop();
  await server?.stop();
  await mock?.stop();
});

// The server's descriptors by kind, from one look at /proc: TCP connections
// to its port ('client') and to the mock ('upstream'), listening sockets, and
// the rest (files, pipes, event descriptors, other sockets).
function sockets(srv) {
  const pid = srv.child.proc.pid;
  const inodes = new Set();
  let total = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let link = '';
    try { link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; /* closed meanwhile */ }
    total++;
    const m = link.match(/^socket:\[(\d+)\]$/);
    if (m) inodes.add(m[1]);
  }
  const mockPort = Number(new URL(mock.url).port);
  const out = { client: 0, upstream: 0, listen: 0, rest: 0 };
  for (const file of ['tcp', 'tcp6']) {
    const lines = fs.readFileSync(`/proc/${pid}/net/${file}`, 'utf8').trim().split('\n').slice(1);
    for (const l of lines) {
      const f = l.trim().split(/\s+/);
      if (!inodes.has(f[9])) continue;
      inodes.delete(f[9]);
      const local = parseInt(f[1].split(':')[1], 16), remote = parseInt(f[2].split(':')[1], 16);
      if (f[3] === '0A') out.listen++;
      else if (local === srv.port) out.client++;
      else if (remote === mockPort) out.upstream++;
      else out.rest++;
    }
  }
  out.rest += total - out.client - out.upstream - out.listen - out.rest;
  return out;
}

// One request with node:http (agent false: its own connection, closed after).
function httpReq(srv, method, path, body, headers = {}, agent = false) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, method, path, agent,
                               headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// glm_upstream_bytes_total of GET /metrics.
async function upstreamBytes(srv) {
  const text = await (await fetch(`${srv.url}/metrics`)).text();
  const m = text.match(/^glm_upstream_bytes_total (\d+)/m);
  assert.ok(m, 'glm_upstream_bytes_total in /metrics');
  return Number(m[1]);
}

// libcurl keeps at most this many idle upstream connections (CURLMOPT_MAXCONNECTS).
const UPSTREAM_IDLE_MAX = 4096; // as src/net/curl_loop.c sets it

// Waits until the client connections are back to what they were, then checks
// that nothing else grew either (idle upstream connections are capped by curl).
async function assertNoLeak(srv, before, what) {
  const gone = await waitFor(() => sockets(srv).client <= before.client, 10000, 100);
  const now = sockets(srv);
  assert.ok(gone, `${what}: every new client connection closed (${JSON.stringify(before)} -> ${JSON.stringify(now)})`);
  assert.ok(now.upstream <= UPSTREAM_IDLE_MAX, `${what}: idle upstream connections within curl's cap: ${now.upstream}`);
  assert.equal(now.listen, before.listen, `${what}: listening sockets`);
  // rest: a socket that is being closed may be missing from /proc/net/tcp for a moment.
  assert.ok(now.rest <= before.rest + 1, `${what}: no other descriptor left: ${JSON.stringify(before)} -> ${JSON.stringify(now)}`);
  assert.ok(await waitFor(async () => (await mock.stats()).streams_open === 0, 10000, 100), `${what}: every upstream stream closed`);
  return now;
}
function rssKiB(srv) {
  const m = fs.readFileSync(`/proc/${srv.child.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
  return Number(m[1]);
}

function assertEnvelope(json, what) {
  assert.ok(json && typeof json.error === 'object' && json.error, `${what}: {"error":{...}}`);
  assert.deepEqual(Object.keys(json.error).sort(), ['code', 'message', 'param', 'type'], `${what}: error fields`);
  assert.ok(typeof json.error.message === 'string' && json.error.message.length > 0, `${what}: a message`);
}

// POST body (a string or a Buffer) to the chat endpoint with fetch.
async function postChat(srv, body, token = newToken('hostile')) {
  const res = await fetch(`${srv.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  const text = await res.text();
  inputsTried++;
  let json = null;
  try { json = JSON.parse(text); } catch { /* checked by the caller */ }
  return { status: res.status, text, json, type: res.headers.get('content-type') ?? '' };
}

async function expect400(body, code, what, param) {
  const r = await postChat(server, body);
  assert.equal(r.status, 400, `${what}: ${r.text.slice(0, 200)}`);
  assertEnvelope(r.json, what);
  assert.equal(r.json.error.type, 'invalid_request_error', what);
  if (code) assert.equal(r.json.error.code, code, `${what}: ${r.json.error.message}`);
  if (param !== undefined) assert.equal(r.json.error.param, param, what);
  return r;
}

// ---- raw HTTP/1.1 over a socket --------------------------------------------

// Parses the complete responses at the start of buf: [{status, headers, body}], rest.
function parseResponses(buf) {
  const out = [];
  let pos = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', pos);
    if (end < 0) break;
    const lines = buf.subarray(pos, end).toString('latin1').split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    let p = end + 4;
    let body;
    if (headers['transfer-encoding'] === 'chunked') {
      const parts = [];
      let complete = false;
      for (;;) {
        const le = buf.indexOf('\r\n', p);
        if (le < 0) break;
        const size = parseInt(buf.subarray(p, le).toString('latin1'), 16);
        if (buf.length < le + 2 + size + 2) break;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
        if (size === 0) { complete = true; break; }
      }
      if (!complete) break;
      body = Buffer.concat(parts);
    } else {
      const n = Number(headers['content-length'] ?? 0);
      if (buf.length < p + n) break;
      body = buf.subarray(p, p + n);
      p += n;
    }
    out.push({ status, headers, body: body.toString('utf8') });
    pos = p;
  }
  return { responses: out, rest: buf.subarray(pos) };
}

// A raw connection: write(), then wait for N responses or for the close.
class Raw {
  constructor(port) {
    this.buf = Buffer.alloc(0);
    this.closed = false;
    this.sock = net.connect(port, '127.0.0.1');
    this.sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); });
    this.sock.on('close', () => { this.closed = true; });
    this.sock.on('error', () => {});
    this.ready = new Promise((r, j) => { this.sock.once('connect', r); this.sock.once('error', j); });
  }

  write(data) { return new Promise((r) => this.sock.write(data, r)); }

  // Resolves with the parsed responses once n are complete (or the socket closed / timeout).
  async responses(n, timeoutMs = 5000) {
    await waitFor(() => this.closed || parseResponses(this.buf).responses.length >= n, timeoutMs, 10);
    return parseResponses(this.buf).responses;
  }

  async waitClosed(timeoutMs) { return waitFor(() => this.closed, timeoutMs, 20); }

  destroy() { this.sock.destroy(); }
}

function request(method, path, body = '', headers = {}) {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const h = { host: '127.0.0.1', ...headers };
  if (method === 'POST' && !('transfer-encoding' in h)) h['content-length'] = String(b.length);
  const head = `${method} ${path} HTTP/1.1\r\n` + Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), b]);
}

const chatBody = (prompt, extraFields = {}) =>
  JSON.stringify({ model: 'glm-4', messages: user(prompt), ...extraFields });

// ---- the tests ---------------------------------------------------------------

describe('malformed and truncated JSON', () => {
  test('every prefix of a valid body is refused with 400 invalid_json', async () => {
    const body = chatBody('[[fixture:chat-plain]] 你好', { stream: true, stream_options: { include_usage: true } });
    const bytes = Buffer.from(body);
    for (let n = 0; n < bytes.length; n++) {
      await expect400(bytes.subarray(0, n), 'invalid_json', `prefix ${n}/${bytes.length}`);
    }
  });

  test('malformed bodies: 400 invalid_json each', async () => {
    const bad = [
      '{"model":"glm-4","messages":[]} trailing',
      "{'model':'glm-4'}",
      '{"messages":[{"role":"user","content":"hi"},]}',
      '{"messages":[{"role":"user","content":"hi"}]',
      '{"messages": NaN}',
      '{"messages": [1e999999]}',
      '/* comment */ {"messages":[]}',
      '{"a":1}{"b":2}',
      '\ufeff{"messages":[{"role":"user","content":"hi"}]}',
      '{"messages":"\\x41"}',
      '{"messages":"\\u12"}',
      'null',
      '"just a string"',
      '12345',
      'true',
      '',
      ' \r\n\t ',
      '{"' + 'k'.repeat(100000),
    ];
    for (const b of bad) await expect400(b, 'invalid_json', `malformed: ${JSON.stringify(b.slice(0, 40))}`);
  });

  test('a JSON value that is not an object: 400 invalid_request', async () => {
    for (const b of ['[]', '[{"messages":[]}]']) await expect400(b, 'invalid_request', b, null);
  });
});

describe('wrong types at every field', () => {
  const VALUES = { number: 1, float: 1.5, true: true, string: 's', array: [], object: {}, null: null };
  const base = () => ({
    model: 'glm-4',
    stream: false,
    stream_options: { include_usage: true },
    conversation_id: 'not-an-id',
    reasoning_format: 'parsed',
    messages: [{ role: 'user', content: [{ type: 'text', text: '[[fixture:chat-plain]] hi' }] }],
  });
  function set(obj, path, v) {
    const keys = path.split('.');
    let o = obj;
    for (const k of keys.slice(0, -1)) o = o[k];
    o[keys.at(-1)] = v;
    return obj;
  }
  // For each field: which value kinds are accepted (the request then
  // succeeds), and the param and code of the 400 for the others.
  const FIELDS = [
    ['model', ['string', 'null'], 'model', 'invalid_type'],
    ['stream', ['true', 'null'], 'stream', 'invalid_type'],
    ['stream_options', ['object', 'null'], 'stream_options', 'invalid_type'],
    ['stream_options.include_usage', ['true', 'null'], 'stream_options.include_usage', 'invalid_type'],
    ['conversation_id', ['string', 'null'], 'conversation_id', 'invalid_type'],
    ['reasoning_format', ['null'], 'reasoning_format', 'invalid_value'],
    ['messages', [], 'messages', (k) => (k === 'array' ? 'empty_array' : 'invalid_type')],
    ['messages.0', [], (k) => (k === 'object' ? 'messages[0].role' : 'messages[0]'), 'invalid_type'],
    ['messages.0.role', ['string'], 'messages[0].role', 'invalid_type'],
    ['messages.0.content', ['string', 'array', 'null'], 'messages[0].content', 'invalid_type'],
    ['messages.0.content.0', [], 'messages[0].content', 'invalid_type'],
    ['messages.0.content.0.type', ['string'], 'messages[0].content', 'invalid_type'],
    ['messages.0.content.0.text', ['string'], 'messages[0].content', 'invalid_type'],
  ];
  for (const [path, accepted, param, code] of FIELDS) {
    test(`${path}: every JSON type`, async () => {
      for (const [kind, v] of Object.entries(VALUES)) {
        const body = JSON.stringify(set(base(), path, v));
        const what = `${path} = ${JSON.stringify(v)}`;
        if (accepted.includes(kind)) {
          const r = await postChat(server, body);
          assert.equal(r.status, 200, `${what}: accepted: ${r.text.slice(0, 200)}`);
        } else {
          await expect400(body, typeof code === 'function' ? code(kind) : code, what,
                          typeof param === 'function' ? param(kind) : param);
        }
      }
    });
  }
});

describe('big, deep and strange bodies', () => {
  test('100,000 messages are merged and answered; one bad entry at the end is named', async () => {
    const msgs = Array.from({ length: 100000 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `m${i}` }));
    msgs.push({ role: 'user', content: '[[fixture:chat-plain]] last' });
    const r = await postChat(server, JSON.stringify({ model: 'glm-4', messages: msgs }));
    assert.equal(r.status, 200, r.text.slice(0, 300));
    assert.equal(r.json.choices[0].message.content, PLAIN);
    assert.ok(r.json.usage.prompt_tokens > 100000, `prompt_tokens ${r.json.usage.prompt_tokens}`);
    msgs.push({ role: 7 });
    await expect400(JSON.stringify({ messages: msgs }), 'invalid_type', 'bad last entry', 'messages[100001].role');
  });

  test('nesting 100,000 deep: 400 (the parser has a depth limit), no stack overflow', async () => {
    const deep = '['.repeat(100000) + ']'.repeat(100000);
    await expect400(`{"messages":${deep}}`, 'invalid_json', 'deep array');
    const deepObj = '{"a":'.repeat(50000) + '1' + '}'.repeat(50000);
    await expect400(`{"x":${deepObj},"messages":[]}`, 'invalid_json', 'deep object');
  });

  test('nesting within the limit in ignored fields and content parts is accepted', async () => {
    const nest = (n) => '['.repeat(n) + ']'.repeat(n);
    const body = `{"x":${nest(1000)},"model":"glm-4","messages":[{"role":"user","content":[` +
                 `{"type":"text","text":"[[fixture:chat-plain]] hi","extra":${nest(1000)}},{"type":"custom","v":${nest(500)}}]}]}`;
    const r = await postChat(server, body);
    assert.equal(r.status, 200, r.text.slice(0, 300));
  });

  test('invalid UTF-8, NUL bytes and lone surrogates in content: 400 invalid_json', async () => {
    const pre = Buffer.from('{"messages":[{"role":"user","content":"');
    const post = Buffer.from('"}]}');
    const bad = [
      Buffer.from([0xff]), Buffer.from([0xc3]), Buffer.from([0xc0, 0x80]), Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from([0xe4, 0xbd]), Buffer.from([0x00]),
      Buffer.from('a\u0001b'), Buffer.from('\\u0000'), Buffer.from('\\ud800'), Buffer.from('\\udc00x'),
    ];
    for (const b of bad) {
      await expect400(Buffer.concat([pre, b, post]), 'invalid_json', `content bytes ${b.toString('hex')}`);
    }
    // A NUL byte between JSON tokens, and at the very end.
    await expect400(Buffer.from('{"messages":\0[]}'), 'invalid_json', 'NUL between tokens');
    await expect400(Buffer.concat([Buffer.from(chatBody('[[fixture:chat-plain]] hi')), Buffer.from([0])]),
                    'invalid_json', 'NUL after the body');
  });

  test('valid but unusual text (escaped controls, astral characters, RTL marks) is relayed', async () => {
    const text = '[[fixture:chat-plain]] \\t\\n\\u001f 😀 \u202e \ud83d\ude00 中文';
    const r = await postChat(server, `{"messages":[{"role":"user","content":"${text}"}]}`);
    assert.equal(r.status, 200, r.text);
  });
});

describe('limits on the request', () => {
  test('a body over --max-body: 413 as soon as Content-Length says so, and when a chunked body passes it', async () => {
    const srv = await startServer(mock.url, ['--max-body', '64K']);
    extra.push(srv);
    const a = new Raw(srv.port);
    await a.ready;
    await a.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${1 << 30}\r\n\r\n{"mes`);
    const [r1] = await a.responses(1);
    assert.equal(r1?.status, 413);
    assertEnvelope(JSON.parse(r1.body), '413');
    assert.ok(await a.waitClosed(2000), 'the connection is closed after a 413');
    a.destroy();

    const b = new Raw(srv.port);
    await b.ready;
    await b.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n');
    for (let i = 0; i < 80; i++) await b.write(`400\r\n${'x'.repeat(1024)}\r\n`);
    const [r2] = await b.responses(1);
    assert.equal(r2?.status, 413);
    b.destroy();
    inputsTried += 2;
  });

  test('a head over --max-header (64K): 431; a huge request line too', async () => {
    const a = new Raw(server.port);
    await a.ready;
    let head = 'GET /ping HTTP/1.1\r\nhost: x\r\n';
    for (let i = 0; i < 100; i++) head += `x-filler-${i}: ${'y'.repeat(1000)}\r\n`;
    await a.write(head + '\r\n');
    const [r1] = await a.responses(1);
    assert.equal(r1?.status, 431);
    assertEnvelope(JSON.parse(r1.body), '431');
    a.destroy();

    const b = new Raw(server.port);
    await b.ready;
    await b.write(`GET /${'a'.repeat(100000)} HTTP/1.1\r\nhost: x\r\n\r\n`);
    const [r2] = await b.responses(1);
    assert.ok(r2 && (r2.status === 431 || r2.status === 414), `431 or 414, got ${r2?.status}`);
    b.destroy();

    const c = new Raw(server.port);
    await c.ready;
    await c.write('GET /ping HTTP/1.1\r\n' + 'x: y\r\n'.repeat(20000));
    const [r3] = await c.responses(1);
    assert.equal(r3?.status, 431, 'many small headers');
    c.destroy();
    inputsTried += 3;
  });

  test('garbage instead of HTTP: 400 and close', async () => {
    for (const junk of ['\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', 'GET\r\n\r\n', 'HELLO WORLD\r\n\r\n',
                        'GET / HTTP/9.9\r\n\r\n', 'POST /v1/chat/completions HTTP/1.1\r\ncontent-length: -1\r\n\r\n',
                        'POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n']) {
      const a = new Raw(server.port);
      await a.ready;
      await a.write(Buffer.from(junk, 'latin1'));
      const [r] = await a.responses(1, 3000);
      assert.ok(r && r.status >= 400 && r.status <= 505, `${JSON.stringify(junk)}: a 4xx (or 505), got ${r?.status}`);
      assert.ok(await a.waitClosed(3000), `${JSON.stringify(junk)}: then closed`);
      a.destroy();
      inputsTried++;
    }
  });
});

describe('slow and stuck clients', () => {
  test('slowloris: a head trickled one byte per 200 ms gets 408 after --header-timeout (2 s); others are served meanwhile', async () => {
    const srv = await startServer(mock.url, ['--header-timeout', '2']);
    extra.push(srv);
    const slow = [];
    for (let i = 0; i < 50; i++) {
      const r = new Raw(srv.port);
      await r.ready;
      slow.push(r);
    }
    const t0 = Date.now();
    const head = 'POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n';
    let i = 0;
    const timer = setInterval(() => {
      for (const r of slow) if (!r.closed) r.sock.write(head[i % head.length]);
      i++;
    }, 200);
    try {
      // Meanwhile a normal client is served at once.
      const t1 = Date.now();
      const ping = await fetch(`${srv.url}/ping`);
      assert.equal(await ping.text(), 'pong');
      assert.ok(Date.now() - t1 < 1000);
      const c = await postChat(srv, chatBody('[[fixture:chat-plain]] hi'));
      assert.equal(c.status, 200);
      for (const r of slow) assert.ok(await r.waitClosed(5000), 'the slow connection is closed');
    } finally {
      clearInterval(timer);
    }
    const took = Date.now() - t0;
    assert.ok(took >= 1800 && took < 5000, `after about 2 s, not ${took} ms`);
    const [r] = parseResponses(slow[0].buf).responses;
    assert.equal(r?.status, 408);
    assertEnvelope(JSON.parse(r.body), '408');
    for (const s of slow) s.destroy();
    inputsTried += slow.length;
  });

  test('a client that never reads its stream: the upstream is paused (bounded memory), then dropped after --write-timeout', async () => {
    const srv = await startServer(mock.url, ['--write-timeout', String(3 * SLOW), '--max-answer', '512M', '--max-frame', '1M',
                                             '--idle-timeout', '60']);
    extra.push(srv);
    await mock.config({ profile: 'v2' });
    try {
      const token = newToken('stuck');
      const mark = await mock.mark();
      const rss0 = rssKiB(srv);
      const a = new Raw(srv.port);
      await a.ready;
      // About 30 MB of answer text (v2 deltas): far more than every buffer on the way.
      await a.write(request('POST', '/v1/chat/completions', chatBody('[[scenario:long:3000:5000]] hi', { stream: true }),
                            { authorization: `Bearer ${token}`, 'content-type': 'application/json' }));
      await waitFor(() => a.buf.length > 0, 5000 * SLOW);
      a.sock.pause(); // and never read again
      await sleep(1200 * SLOW);
      const read1 = await upstreamBytes(srv);
      await sleep(800 * SLOW);
      const read2 = await upstreamBytes(srv);
      const stats = await mock.stats();
      assert.equal(stats.streams_open, 1, 'the upstream answer is held back, not read to its end');
      assert.equal(read2, read1, 'the upstream is paused: no byte read from it for 0.8 s');
      assert.ok(read2 < 24e6, `only ${read2} of about 30 MB read from the upstream`);
      const grown = rssKiB(srv) - rss0;
      assert.ok(grown < 48 * 1024, `the server's memory grew by ${grown} KiB only`);
      console.log(`# stuck client: ${read2} upstream bytes read, memory +${grown} KiB`);
      // Another client is served meanwhile.
      const c = await postChat(srv, chatBody('[[fixture:chat-plain]] hi'));
      assert.equal(c.status, 200);
      // After --write-timeout without progress the server gives up: the upstream
      // is cancelled and the conversation deleted.
      assert.ok(await waitFor(async () => (await mock.stats()).streams_open === 0, 8000 * SLOW), 'the upstream is cancelled');
      const del = await waitFor(async () => (await mock.requestsSince(mark, PATH_DELETE)).length > 0, 3000 * SLOW);
      assert.ok(del, 'the conversation is deleted');
      a.destroy();
      inputsTried++;
    } finally {
      await mock.config({ profile: 'v1' });
    }
  });
});

describe('pipelining and keep-alive', () => {
  test('three pipelined requests in one write are answered in order', async () => {
    const token = newToken('pipe');
    const a = new Raw(server.port);
    await a.ready;
    await a.write(Buffer.concat([
      request('GET', '/ping'),
      request('POST', '/v1/chat/completions', chatBody('[[fixture:chat-plain]] hi'), { authorization: `Bearer ${token}`, 'content-type': 'application/json' }),
      request('POST', '/v1/chat/completions', '{"broken', { authorization: `Bearer ${token}` }),
      request('GET', '/v1/models'),
    ]));
    const rs = await a.responses(4, 10000);
    assert.deepEqual(rs.map((r) => r.status), [200, 200, 400, 200]);
    assert.equal(rs[0].body, 'pong');
    assert.equal(JSON.parse(rs[1].body).choices[0].message.content, PLAIN);
    assertEnvelope(JSON.parse(rs[2].body), 'pipelined 400');
    assert.equal(JSON.parse(rs[3].body).object, 'list');
    assert.equal(a.closed, false, 'the connection stays open');
    a.destroy();
    inputsTried += 4;
  });

  test('one keep-alive connection: a stream, an error, a non-stream, a 404, in turn', async () => {
    const token = newToken('ka');
    const a = new Raw(server.port);
    await a.ready;
    const steps = [
      [request('POST', '/v1/chat/completions', chatBody('[[fixture:chat-plain]] hi', { stream: true }), { authorization: `Bearer ${token}`, 'content-type': 'application/json' }), 200],
      [request('POST', '/v1/chat/completions', '{"messages":[]}', { authorization: `Bearer ${token}` }), 400],
      [request('POST', '/v1/chat/completions', chatBody('[[fixture:chat-plain]] hi'), { authorization: `Bearer ${token}`, 'content-type': 'application/json' }), 200],
      [request('GET', '/nope'), 404],
      [request('GET', '/ping'), 200],
    ];
    for (let i = 0; i < steps.length; i++) {
      await a.write(steps[i][0]);
      const rs = await a.responses(i + 1, 10000);
      assert.equal(rs.length, i + 1, `response ${i + 1} arrived`);
      assert.equal(rs[i].status, steps[i][1], `step ${i + 1}`);
    }
    const rs = parseResponses(a.buf).responses;
    assert.match(rs[0].headers['content-type'], /^text\/event-stream/);
    assert.match(rs[0].body, /data: \[DONE\]\n\n$/);
    assert.equal(a.closed, false);
    a.destroy();
    inputsTried += steps.length;
  });
});

describe('many connections', () => {
  test('2,000 connections opened and dropped at once; the server serves on and frees them all', async () => {
    const before = sockets(server);
    const socks = [];
    await Promise.all(Array.from({ length: 2000 }, (_, i) => new Promise((resolve) => {
      const s = net.connect(server.port, '127.0.0.1');
      s.on('error', () => resolve());
      s.on('connect', () => {
        // Some say nothing, some half a head, some a whole request.
        if (i % 3 === 1) s.write('POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"mess');
        if (i % 3 === 2) s.write(request('POST', '/v1/chat/completions', chatBody('[[scenario:stall]] hi', { stream: true }), { authorization: `Bearer ${newToken('crowd')}` }));
        resolve();
      });
      socks.push(s);
    })));
    await sleep(300);
    for (const s of socks) s.destroy();
    inputsTried += 2000;
    const ping = await httpReq(server, 'GET', '/ping');
    assert.equal(ping.text, 'pong');
    const c = await httpReq(server, 'POST', '/v1/chat/completions', chatBody('[[fixture:chat-plain]] hi'),
                            { authorization: `Bearer ${newToken('crowd')}` });
    assert.equal(c.status, 200);
    const after = await assertNoLeak(server, before, '2,000 connections');
    console.log(`# 2,000 connections: sockets ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
  });
});

describe('soak', () => {
  test(`${SOAK} mixed requests with disconnects: every answer right, nothing left behind`, async () => {
    const srv = await startServer(mock.url, ['--log-level', 'info']);
    extra.push(srv);
    const workers = 32;
    const agent = new http.Agent({ keepAlive: true, maxSockets: workers });
    const tokens = Array.from({ length: workers }, () => newToken('soak'));
    const counts = {};
    let next = 0;
    const kinds = ['chat', 'stream', 'chat', 'abort', 'bad', 'ping', 'stream', '404', 'drop', 'models'];
    async function one(tok, n) {
      const kind = kinds[n % kinds.length];
      // A client that leaves frees its account a moment later (the upstream
      // notices the cancel asynchronously): those get an account of their own.
      const own = kind === 'abort' || kind === 'drop' ? newToken('soak-leave') : tok;
      const auth = { authorization: `Bearer ${own}` };
      if (kind === 'chat' || kind === 'stream') {
        const stream = kind === 'stream';
        const r = await httpReq(srv, 'POST', '/v1/chat/completions', chatBody('[[fixture:chat-plain]] hi', { stream }), auth, agent);
        assert.equal(r.status, 200, r.text.slice(0, 200));
        if (stream) assert.ok(r.text.endsWith('data: [DONE]\n\n'));
        else assert.equal(JSON.parse(r.text).choices[0].message.content, PLAIN);
      } else if (kind === 'abort') {
        // The client leaves after the first chunk of a stalled stream.
        await new Promise((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port: srv.port, method: 'POST', path: '/v1/chat/completions',
                                     headers: { 'content-type': 'application/json', ...auth } }, (res) => {
            assert.equal(res.statusCode, 200);
            res.once('data', () => { req.destroy(); resolve(); });
          });
          req.on('error', (e) => (e.code === 'ECONNRESET' ? resolve() : reject(e)));
          req.end(chatBody('[[scenario:stall]] hi', { stream: true }));
        });
      } else if (kind === 'drop') {
        // The client sends a request and drops the connection before any answer.
        await new Promise((resolve) => {
          const sock = net.connect(srv.port, '127.0.0.1', () => {
            sock.write(request('POST', '/v1/chat/completions', chatBody('[[scenario:stall-before]] hi'),
                               { ...auth, 'content-type': 'application/json' }));
            setTimeout(() => { sock.destroy(); resolve(); }, 5);
          });
          sock.on('error', resolve);
        });
      } else if (kind === 'bad') {
        const r = await httpReq(srv, 'POST', '/v1/chat/completions', '{"messages":[{"role":1}]}', auth, agent);
        assert.equal(r.status, 400);
      } else {
        const path = kind === 'ping' ? '/ping' : kind === '404' ? '/v1/nothing' : '/v1/models';
        const r = await httpReq(srv, 'GET', path, undefined, {}, agent);
        assert.equal(r.status, kind === '404' ? 404 : 200);
      }
      counts[kind] = (counts[kind] || 0) + 1;
    }
    const before = sockets(srv);
    const rss0 = rssKiB(srv);
    const t0 = Date.now();
    try {
      await Promise.all(tokens.map(async (tok, w) => {
        for (let n = next++; n < SOAK; n = next++) await one(tok, n + w);
      }));
    } finally {
      agent.destroy();
    }
    inputsTried += SOAK;
    const took = (Date.now() - t0) / 1000;
    console.log(`# soak: ${SOAK} requests in ${took.toFixed(1)} s (${JSON.stringify(counts)})`);
    const after = await assertNoLeak(srv, before, 'soak');
    console.log(`# soak: rss ${rss0} KiB -> ${rssKiB(srv)} KiB (ASan keeps freed memory in quarantine), ` +
                `sockets ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
    const ok = await httpReq(srv, 'POST', '/v1/chat/completions', chatBody('[[fixture:chat-plain]] hi'), { authorization: `Bearer ${tokens[0]}` });
    assert.equal(ok.status, 200, 'still serving');
  });
});

test('figures: inputs tried', () => {
  console.log(`# hostile inputs tried: ${inputsTried}`);
  assert.ok(inputsTried > 1000);
});

test('glm-free-api exits cleanly on SIGTERM (exit 0, no sanitizer report: LeakSanitizer ran)', async () => {
  assertCleanExit(await server.stop(), 'glm-free-api');
  for (const s of extra.splice(0)) assertCleanExit(await s.stop(), 'glm-free-api (extra)');
});

test('mock-chatglm exits cleanly on SIGTERM', async () => {
  assertCleanExit(await mock.stop(), 'mock-chatglm');
});
