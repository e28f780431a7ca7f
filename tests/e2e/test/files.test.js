// Files and images in the last message (issue 7): data URLs and downloads
// uploaded to the mock's file_upload as multipart, the upstream body that
// follows, the SSRF guard proven through the server with addresses of this
// machine only, and the download limits. Every URL here is on 127.0.0.1
// (or names it): a broken guard must never send traffic off the machine.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BadRequestError } from 'openai';
import {
  startMock, startServer, newToken, collect, rejection, promptOf, assertCleanExit, assertSigned, DEFAULT_ASSISTANT,
  PATH_STREAM,
} from '../lib/harness.js';
import { startFileServer, PNG, REPORT } from '../lib/fileserver.js';

const PATH_UPLOAD = '/chatglm/productivity-api/file/chat_upload';
const VISION = '图片中是一个蓝色背景下的标志：左侧是由多个蓝色圆点组成的圆形图案，右侧是“智谱·AI”四个字，字体为蓝色。';
const PNG_URL = `data:image/png;base64,${PNG.toString('base64')}`;

let mock;
let fsA;          // allowed by the "allowed" server
let fsB;          // allowed by nobody
let guarded;      // the default guard: no allow-list
let allowed;      // --fetch-allow 127.0.0.1:<fsA>, small limits
let tmpWatch;     // the servers' TMPDIR: must stay empty
const dataDirs = [];

before(async () => {
  mock = await startMock();
  fsA = await startFileServer();
  fsB = await startFileServer();
  for (let i = 0; i < 2; i++) dataDirs.push(fs.mkdtempSync(path.join(os.tmpdir(), 'glm-files-data-')));
  tmpWatch = fs.mkdtempSync(path.join(os.tmpdir(), 'glm-files-tmp-'));
  process.env.TMPDIR = tmpWatch; // inherited by the servers
  guarded = await startServer(mock.url, ['--data-dir', dataDirs[0]]);
  allowed = await startServer(mock.url, [
    '--data-dir', dataDirs[1], '--fetch-allow', `127.0.0.1:${fsA.port}`, '--max-file', '1M',
    '--fetch-timeout', '2', '--max-attachments', '3',
  ]);
});

after(async () => {
  await guarded?.stop();
  await allowed?.stop();
  await mock?.stop();
  await fsA?.stop();
  await fsB?.stop();
  for (const d of [...dataDirs, tmpWatch]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

const ask = (server, content, extra = {}, ctl = null) => server.client(newToken('files')).chat.completions.create({
  model: 'glm-4', messages: [{ role: 'user', content }], ...extra,
}, ctl ? { signal: ctl.signal } : undefined);

const text = (t) => ({ type: 'text', text: t });
const image = (url) => ({ type: 'image_url', image_url: { url } });
const file = (url) => ({ type: 'file', file_url: { url } });

// The parts of a recorded multipart body (the mock records it as text).
function multipart(req) {
  const boundary = /boundary=(.+)$/.exec(req.headers['content-type'] ?? '')?.[1];
  assert.ok(boundary, 'multipart/form-data with a boundary');
  const parts = req.body.split(`--${boundary}`).slice(1, -1);
  return parts.map((p) => {
    const [head, ...rest] = p.replace(/^\r\n/, '').split('\r\n\r\n');
    return {
      name: /name="([^"]*)"/.exec(head)?.[1],
      filename: /filename="([^"]*)"/.exec(head)?.[1],
      type: /Content-Type: (.*)/i.exec(head)?.[1],
      body: rest.join('\r\n\r\n').replace(/\r\n$/, ''),
    };
  });
}

// The 2026 attachment item (spec 12.3) of what the mock's chat_upload answered, in its key order.
function uploadResult(actual, filename, size, isImage) {
  assert.match(actual.file_id, /^[0-9a-f]{24}$/);
  const ext = filename.split('.').pop();
  const url = isImage ? actual.image_url : actual.file_url;
  assert.match(url, new RegExp(`^https://sfile\\.chatglm\\.cn/chatglm4/[0-9a-f-]{36}\\.${ext}$`));
  if (isImage)
    return { file_name: filename, file_id: actual.file_id, image_url: url, file_size: size, order: 0, width: 1024, height: 768 };
  return {
    file_id: actual.file_id, file_url: url, file_name: filename, file_size: size, file_type: ext, order: 0,
    maxReadPercent: 0, cover_images: [''], url, width: 0, height: 0,
  };
}

async function uploadsAndStream(mark) {
  const reqs = await mock.requestsSince(mark);
  return { uploads: reqs.filter((r) => r.path === PATH_UPLOAD), streams: reqs.filter((r) => r.path === PATH_STREAM) };
}

function assertTmpEmpty(what) {
  assert.deepEqual(fs.readdirSync(tmpWatch), [], `${what}: no temporary file left behind`);
}

describe('attachments are uploaded and sent upstream', () => {
  test('data URLs: one multipart upload each, then the exact stream body with file and image items', async () => {
    const mark = await mock.mark();
    const c = await ask(guarded, [
      text('[[fixture:chat-image-vision]] 这是什么？'), image(PNG_URL), file('data:text/plain;base64,' + Buffer.from(REPORT).toString('base64')),
    ]);
    assert.equal(c.choices[0].message.content, VISION);
    const { uploads, streams } = await uploadsAndStream(mark);
    assert.equal(uploads.length, 2, 'two uploads');
    const parts = uploads.map((u) => {
      assert.equal(u.method, 'POST');
      assertSigned(u.headers, 'chat_upload');
      assert.match(u.headers.authorization ?? '', /^Bearer .+\..+\..+$/, 'the access token');
      assert.equal(u.headers.referer, `${mock.url}/main/alltoolsdetail`);
      const p = multipart(u);
      // spec 12.5: the file, from=chat, the chat's assistant
      assert.deepEqual(p.map((x) => x.name), ['file', 'from', 'assistant_id']);
      assert.equal(p[1].body, 'chat');
      assert.equal(p[2].body, DEFAULT_ASSISTANT);
      return p[0];
    }).sort((a, b) => a.type.localeCompare(b.type));
    const [img, doc] = parts;
    assert.equal(img.type, 'image/png');
    assert.match(img.filename, /^[0-9a-f]{32}\.png$/, 'a data URL gets a random name with its extension');
    assert.equal(doc.type, 'text/plain');
    assert.match(doc.filename, /^[0-9a-f]{32}\.txt$/);
    assert.equal(doc.body, REPORT, 'the file bytes');

    assert.equal(streams.length, 1);
    const body = streams[0].json;
    const content = body.messages[0].content;
    assert.equal(content.length, 3);
    const expected = {
      assistant_id: DEFAULT_ASSISTANT,
      conversation_id: '',
      project_id: '',
      chat_type: 'user_chat',
      meta_data: {
        cogview: { rm_label_watermark: false }, is_test: false, input_question_type: 'xxxx', channel: '',
        draft_id: '', chat_mode: '', reasoning_effort: 'low', selected_model: 'glm-5.3', is_networking: true,
        quote_log_id: '', platform: 'pc',
      },
      messages: [{
        role: 'user',
        content: [
          { type: 'text', text: '[[fixture:chat-image-vision]] 这是什么？\n' },
          { type: 'file', file: [uploadResult(content[1].file[0], doc.filename, Buffer.byteLength(REPORT), false)] },
          { type: 'image', image: [uploadResult(content[2].image[0], img.filename, PNG.length, true)] },
        ],
      }],
    };
    // Key order included: the body must be exactly what glm-free-api sends.
    assert.equal(JSON.stringify(body), JSON.stringify(expected));
    assertTmpEmpty('data URLs');
  });

  test('downloads from an allowed loopback server keep their names; types come from the bytes', async () => {
    const mark = await mock.mark();
    const stream = await ask(allowed, [
      text('[[fixture:chat-file]] 总结一下'), file(fsA.url('/files/report.txt')), image(fsA.url('/files/pic')),
    ], { stream: true });
    const r = await collect(stream);
    assert.equal(r.error, null);
    assert.ok(r.content.length > 0);
    const { uploads, streams } = await uploadsAndStream(mark);
    const parts = uploads.map((u) => multipart(u)[0]).sort((a, b) => a.filename.localeCompare(b.filename));
    assert.deepEqual(parts.map((p) => [p.name, p.filename, p.type]),
      [['file', 'pic.png', 'image/png'], ['file', 'report.txt', 'text/plain']]);
    assert.equal(parts[1].body, REPORT);
    const content = streams[0].json.messages[0].content;
    assert.deepEqual(content.map((c) => c.type), ['text', 'file', 'image']);
    assert.equal(content[1].file[0].file_name, 'report.txt');
    assert.equal(content[2].image[0].file_name, 'pic.png');
    assert.match(content[2].image[0].image_url, /^https:\/\/sfile\.chatglm\.cn\/.*\.png$/);
  });

  test('several attachments are downloaded at the same time', async () => {
    const before = fsA.maxActive;
    fsA.maxActive = 0;
    const t0 = Date.now();
    await ask(allowed, [
      text('[[fixture:chat-file]] x'), file(fsA.url('/delay/a.txt')), file(fsA.url('/delay/b.txt')),
      file(fsA.url('/delay/c.txt')),
    ]);
    assert.ok(fsA.maxActive >= 3, `three downloads at once (max ${fsA.maxActive})`);
    assert.ok(Date.now() - t0 < 1200 + 1000, 'not one after the other');
    fsA.maxActive = Math.max(before, fsA.maxActive);
  });

  test("OpenAI's file parts (file_data with a filename) are uploaded under their name", async () => {
    const mark = await mock.mark();
    const pdf = Buffer.from('%PDF-1.4\n%%EOF\n');
    await ask(guarded, [
      text('[[fixture:chat-file]] x'),
      { type: 'file', file: { file_data: `data:application/pdf;base64,${pdf.toString('base64')}`, filename: 'q3 report.pdf' } },
    ]);
    const { uploads } = await uploadsAndStream(mark);
    const [p] = multipart(uploads[0]);
    assert.deepEqual([p.filename, p.type], ['q3 report.pdf', 'application/pdf']);
  });

  test('the file-attention message goes before the last message in merge mode (spec 8.3)', async () => {
    const mark = await mock.mark();
    await guarded.client(newToken('files')).chat.completions.create({
      model: 'glm-4',
      messages: [
        { role: 'user', content: '你好' },
        { role: 'assistant', content: '看 ![图像](https://x/y.png) 吧' },
        { role: 'user', content: [text('[[fixture:chat-image-vision]] 这张呢'), image(PNG_URL)] },
      ],
    });
    const { streams } = await uploadsAndStream(mark);
    assert.equal(promptOf(streams[0]),
      '<|user|>\n你好\n<|assistant|>\n看  吧\n<|sytstem|>\n关注用户最新发送文件和消息\n' +
      '<|user|>\n[[fixture:chat-image-vision]] 这张呢\n<|assistant|>\n');
    assert.equal(streams[0].json.messages[0].content[1].type, 'image');
  });
});

// Asserts a 400 with this code whose message matches re; nothing went upstream.
async function refused(server, content, code, re, what) {
  const mark = await mock.mark();
  const err = await rejection(ask(server, [text('[[fixture:chat-plain]] x'), ...content]));
  assert.ok(err instanceof BadRequestError, `${what}: BadRequestError, got ${err}`);
  assert.equal(err.status, 400, what);
  assert.equal(err.code, code, `${what}: code (${err.message})`);
  assert.match(err.message, re, `${what}: message`);
  const { uploads, streams } = await uploadsAndStream(mark);
  assert.equal(uploads.length, 0, `${what}: no upload`);
  assert.equal(streams.length, 0, `${what}: no stream call`);
  assertTmpEmpty(what);
  return err;
}

describe('the SSRF guard, through the server (addresses of this machine only)', () => {
  test('127.0.0.1 is refused with the allow-list off, and the file server is never asked', async () => {
    const hits = fsA.hits();
    const err = await refused(guarded, [file(fsA.url('/files/report.txt'))], 'fetch_refused',
      /127\.0\.0\.1.*loopback/, '127.0.0.1');
    assert.match(err.message, /fetch-allow/, 'says how to allow it');
    assert.equal(err.param, 'messages[0].content[1]');
    assert.equal(fsA.hits(), hits);
  });

  test('localhost is refused with the allow-list off', async () => {
    const hits = fsA.hits();
    await refused(guarded, [image(`http://localhost:${fsA.port}/files/pic.png`)], 'fetch_refused',
      /localhost.*loopback/, 'localhost');
    assert.equal(fsA.hits(), hits);
  });

  test('[::ffff:127.0.0.1] (IPv4-mapped) is refused', async () => {
    const hits = fsA.hits();
    await refused(guarded, [file(`http://[::ffff:127.0.0.1]:${fsA.port}/files/report.txt`)], 'fetch_refused',
      /::ffff:127\.0\.0\.1.*loopback/, 'mapped');
    await refused(allowed, [file(`http://[::ffff:127.0.0.1]:${fsB.port}/files/report.txt`)], 'fetch_refused',
      /loopback/, 'mapped, other port');
    assert.equal(fsA.hits(), hits);
  });

  test('another port of an allowed address is refused', async () => {
    const hits = fsB.hits();
    await refused(allowed, [file(fsB.url('/files/report.txt'))], 'fetch_refused', /127\.0\.0\.1.*loopback/,
      'other port');
    assert.equal(fsB.hits(), hits);
  });

  test('a redirect from the allowed port to a forbidden one is refused before connecting', async () => {
    const a = fsA.hits('/redirect');
    const b = fsB.hits();
    const to = encodeURIComponent(fsB.url('/files/report.txt'));
    await refused(allowed, [file(fsA.url(`/redirect?to=${to}`))], 'fetch_refused', /127\.0\.0\.1.*loopback/,
      'redirect');
    assert.equal(fsA.hits('/redirect'), a + 1, 'the allowed server was asked');
    assert.equal(fsB.hits(), b, 'the forbidden server never');
  });

  test('file:// and gopher:// are refused, also as a redirect target', async () => {
    const hits = fsA.hits();
    await refused(guarded, [file('file:///etc/passwd')], 'invalid_url', /file:.*http/, 'file://');
    await refused(allowed, [image(`gopher://127.0.0.1:${fsA.port}/1`)], 'invalid_url', /gopher:/, 'gopher://');
    assert.equal(fsA.hits(), hits, 'gopher: never connected');
    await refused(allowed, [file(fsA.url(`/redirect?to=${encodeURIComponent('file:///etc/passwd')}`))],
      'invalid_url', /redirected to a URL that is not http/, 'redirect to file://');
  });
});

describe('download limits and bad attachments', () => {
  test('a file over max-file with a declared length stops at once', async () => {
    const err = await refused(allowed, [file(fsA.url('/files/big'))], 'file_too_large', /1048576 bytes.*max-file/,
      'declared length');
    const s = fsA.streams.filter((e) => e.path === '/files/big').pop();
    await sleepUntil(() => s.closed);
    assert.ok(s.closed, 'the download was dropped');
    assert.ok(s.bytes < 64 << 20, `it did not read the whole file (${s.bytes} bytes sent)`);
    assert.ok(err);
  });

  test('an endless file stops at the cap', async () => {
    const t0 = Date.now();
    await refused(allowed, [file(fsA.url('/files/endless'))], 'file_too_large', /max-file/, 'endless');
    const s = fsA.streams.filter((e) => e.path === '/files/endless').pop();
    await sleepUntil(() => s.closed);
    assert.ok(s.closed, 'the download was dropped');
    assert.ok(s.bytes < 32 << 20, `stopped near the cap (${s.bytes} bytes sent)`);
    assert.ok(Date.now() - t0 < 5000);
  });

  test('a slow file times out (fetch-timeout)', async () => {
    const t0 = Date.now();
    await refused(allowed, [file(fsA.url('/files/slow.txt'))], 'fetch_timeout', /within 2 s/, 'slow');
    const ms = Date.now() - t0;
    assert.ok(ms >= 1500 && ms < 6000, `after about 2 s (${ms} ms)`);
  });

  test('bad base64, an unknown type, an empty file, a 404 and too many attachments', async () => {
    await refused(allowed, [image('data:image/png;base64,iVBOR@@@')], 'invalid_base64', /base64/, 'bad base64');
    await refused(allowed, [file('data:;base64,AAECA/7/EIAAfw==')], 'unknown_file_type', /type/, 'unknown data type');
    await refused(allowed, [file(fsA.url('/files/blob'))], 'unknown_file_type', /127\.0\.0\.1.*octet-stream/,
      'unknown downloaded type');
    await refused(allowed, [file(fsA.url('/files/empty.txt'))], 'empty_file', /empty/, 'empty');
    await refused(allowed, [file('data:text/plain;base64,')], 'empty_file', /empty/, 'empty data URL');
    await refused(allowed, [file(fsA.url('/files/missing.txt'))], 'fetch_failed', /HTTP 404/, '404');
    await refused(allowed, [1, 2, 3, 4].map((i) => file(`data:text/plain;base64,${Buffer.from(`f${i}`).toString('base64')}`)),
      'too_many_attachments', /max-attachments/, 'too many');
    await refused(allowed, [{ type: 'image_url', image_url: {} }], 'invalid_attachment', /image_url/, 'no url');
  });

  test('a data URL over max-file is refused before anything starts', async () => {
    const big = Buffer.alloc((1 << 20) + 1, 0x61).toString('base64');
    await refused(allowed, [file(`data:text/plain;base64,${big}`)], 'file_too_large', /max-file/, 'big data URL');
  });

  test('a client that leaves during a download stops it at once', async () => {
    const mark = await mock.mark();
    const ctl = new AbortController();
    const p = ask(allowed, [text('[[fixture:chat-plain]] x'), file(fsA.url('/files/slow.txt'))], {}, ctl);
    await sleepUntil(() => fsA.streams.some((e) => e.path === '/files/slow.txt' && !e.closed));
    const s = fsA.streams.filter((e) => e.path === '/files/slow.txt').pop();
    ctl.abort();
    await rejection(p);
    const t0 = Date.now();
    await sleepUntil(() => s.closed);
    assert.ok(s.closed && Date.now() - t0 < 1000, 'the download was dropped before its timeout');
    const { uploads, streams } = await uploadsAndStream(mark);
    assert.equal(uploads.length + streams.length, 0, 'nothing went upstream');
  });

  test('nothing is left behind in the temporary directory', () => {
    assertTmpEmpty('after all tests');
  });
});

test('both servers and the mock exit cleanly on SIGTERM (exit 0, no sanitizer report)', async () => {
  assertCleanExit(await guarded.stop(), 'glm-free-api (guarded)');
  assertCleanExit(await allowed.stop(), 'glm-free-api (allowed)');
  assertCleanExit(await mock.stop(), 'mock-chatglm');
});

async function sleepUntil(fn, ms = 3000) {
  const end = Date.now() + ms;
  while (!fn() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}
