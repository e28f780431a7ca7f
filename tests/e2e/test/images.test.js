// POST /v1/images/generations through the official openai client
// (client.images.generate): url and b64_json, n, size, agents, moderation, no
// image, the download guard, leases shared with chat; and today's
// multi-image drawing rendered in chat. b64_json downloads only from a
// loopback file server: the generated transcripts below point there.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BadRequestError, InternalServerError } from 'openai';
import {
  FIXTURES, startMockWithFixtures, startServer, newToken, user, collect, rejection, waitFor,
  assertSigned, promptOf, assertCleanExit, PATH_STREAM, PATH_DELETE,
} from '../lib/harness.js';
import { startFileServer, imageBytes } from '../lib/fileserver.js';

const DRAWING = '65a232c082ff90a2ad2f15e2';
const AGENT = '65c046a531d3fcb034918abe';
const CHAT_DRAWING_URL = 'https://sfile.chatglm.cn/testpath/df09b07f-9ff9-5d19-a9db-578b116db0bc_0.png';
const INTERVENE = '这个问题我暂时无法回答，让我们换个话题再聊聊吧。';

let fixtures;     // tests/fixtures plus the generated drawings
let mock;
let fsA;          // allowed: the images of the drawings
let fsB;          // not allowed
let server;
let dataDir;

// ---- generated transcripts ------------------------------------------------

const CONV = '6a1b2c3d4e5f60718293a4b1';
const MSG = '6a1b2c3d4e5f60718293a4b2';
const AT = '2026-09-01 10:00:00';

function frame(obj, v2) {
  return `${v2 ? 'event: message' : 'event:message'}\ndata: ${JSON.stringify(obj)}\n\n`;
}
function top(parts, status = 'init', extra = {}) {
  return { id: MSG, conversation_id: CONV, assistant_id: DRAWING, parts, created_at: AT, meta_data: {},
           status, last_error: {}, ...extra };
}
function part(logic, content, status, role = 'assistant') {
  return { id: MSG, logic_id: logic, role, content, model: 'cogview', recipient: 'all', created_at: AT,
           meta_data: {}, status };
}
const images = (...urls) => ({ type: 'image', image: urls.map((u) => ({ image_url: u })) });
const textItem = (t) => ({ type: 'text', text: t });

// v1: one image part with two images (init, then finish), then text that
// links one of them again and a third one.
function drawingV1(u1, u2, u3) {
  const img = 'b7c1e1f0-0000-4000-8000-000000000001';
  const txt = 'b7c1e1f0-0000-4000-8000-000000000002';
  const closing = `这是我为您创作的图画。原图(${u1})，另一张(${u3})。`;
  return [
    top([]),
    top([part(img, [images(u1, u2)], 'init', 'tool')]),
    top([part(img, [images(u1, u2)], 'finish', 'tool')]),
    top([part(txt, [textItem('这是我为您创作的')], 'init')]),
    top([part(txt, [textItem(closing)], 'finish')]),
    top([part(txt, [textItem(closing)], 'finish')], 'finish'),
  ].map((f) => frame(f, false)).join('');
}

// v2 (2026, spec 6.4): four single-image frames in completion order, then
// a finish frame with only one_to_more_finish.
function drawingMultiV2(urls) {
  const logic = 'c8d2f2a1-0000-4000-8000-000000000003';
  return [
    top([part(logic, [textItem('')], 'init')]),
    ...urls.map((u) => top([part(logic, [images(u)], 'init')])),
    top([part(logic, [{ type: 'one_to_more_finish', image: [{}] }], 'finish')], 'finish',
        { meta_data: { answer_type: 'multi' } }),
  ].map((f) => frame(f, true)).join('');
}

// The four images of the multi drawing, in the order they arrive.
const MULTI = ['h_3_0.png', 'h_0_0.png', 'h_1_0.png', 'h_2_0.png'];

before(async () => {
  fsA = await startFileServer();
  fsB = await startFileServer();
  fixtures = fs.mkdtempSync(path.join(os.tmpdir(), 'glm-img-fixtures-'));
  for (const f of fs.readdirSync(FIXTURES)) fs.copyFileSync(path.join(FIXTURES, f), path.join(fixtures, f));
  fs.writeFileSync(path.join(fixtures, 'draw-loopback.sse'),
    drawingV1(fsA.url('/img/one.png'), fsA.url('/img/two.png'), fsA.url('/img/three.png')));
  fs.writeFileSync(path.join(fixtures, 'draw-multi-v2.sse'), drawingMultiV2(MULTI.map((n) => fsA.url(`/img/${n}`))));
  fs.writeFileSync(path.join(fixtures, 'draw-forbidden.sse'),
    drawingV1(fsB.url('/img/b1.png'), fsB.url('/img/b2.png'), fsB.url('/img/b3.png')));
  mock = await startMockWithFixtures(fixtures);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glm-img-data-'));
  server = await startServer(mock.url, ['--data-dir', dataDir, '--fetch-allow', `127.0.0.1:${fsA.port}`]);
});

after(async () => {
  await server?.stop();
  await mock?.stop();
  await fsA?.stop();
  await fsB?.stop();
  for (const d of [fixtures, dataDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
});

const client = () => server.client(newToken('img'));

async function drawCall(mark) {
  const [s] = await mock.requestsSince(mark, PATH_STREAM);
  assert.ok(s, 'a stream call');
  return s;
}

describe('images.generate', () => {
  test('url: the drawing assistant gets 请画：<prompt>, the size as aspect ratio; the conversation is deleted', async () => {
    const mark = await mock.mark();
    const t0 = Math.floor(Date.now() / 1000);
    const r = await client().images.generate({ model: 'dall-e-3', prompt: '一只可爱的猫', size: '1792x1024' });
    assert.ok(Math.abs(r.created - t0) <= 5, 'created is now');
    assert.deepEqual(r.data, [{ url: CHAT_DRAWING_URL }]);
    const s = await drawCall(mark);
    assertSigned(s.headers, 'stream');
    assert.equal(s.headers.referer, `${mock.url}/main/gdetail/${DRAWING}`);
    assert.equal(s.json.assistant_id, DRAWING);
    assert.equal(s.json.conversation_id, '');
    assert.equal(promptOf(s), '请画：一只可爱的猫');
    assert.equal(s.json.messages[0].content.length, 1);
    assert.deepEqual(s.json.meta_data, {
      cogview: { rm_label_watermark: false, aspect_ratio: '16:9' }, is_test: false, input_question_type: 'xxxx',
      channel: '', draft_id: '', is_networking: false, quote_log_id: '', platform: 'pc',
    });
    const del = await waitFor(async () => (await mock.requestsSince(mark, PATH_DELETE))[0]);
    assert.ok(del, 'the conversation is deleted');
    assert.equal(del.json.assistant_id, DRAWING);
    assert.match(del.json.conversation_ids[0], /^[0-9a-f]{24}$/);
  });

  test('a prompt that already says 画 is sent as it is; a size without a ratio is left out', async () => {
    const mark = await mock.mark();
    await client().images.generate({ prompt: '画一座山', size: '1000x77' });
    const s = await drawCall(mark);
    assert.equal(promptOf(s), '画一座山');
    assert.deepEqual(s.json.meta_data.cogview, { rm_label_watermark: false }, 'no aspect ratio');
    assert.ok(!('chat_mode' in s.json.meta_data) && s.json.meta_data.is_networking === false);
  });

  test('an agent id as model draws with that agent', async () => {
    const mark = await mock.mark();
    await client().images.generate({ model: AGENT, prompt: '画一只鸟', size: '1024x1024' });
    const s = await drawCall(mark);
    assert.equal(s.json.assistant_id, AGENT);
    assert.deepEqual(s.json.meta_data.cogview, { rm_label_watermark: false, aspect_ratio: '1:1' });
  });

  test('b64_json downloads every image (image items and links in the text), each once', async () => {
    const r = await client().images.generate({
      prompt: '[[fixture:draw-loopback]] 猫', n: 4, response_format: 'b64_json',
    });
    assert.equal(r.data.length, 3, 'three distinct images');
    const got = r.data.map((d) => Buffer.from(d.b64_json, 'base64'));
    assert.deepEqual(got, ['one.png', 'two.png', 'three.png'].map(imageBytes));
    assert.ok(r.data.every((d) => !('url' in d)));
  });

  test("today's multi-image drawing: four images in arrival order; n takes the first ones", async () => {
    const all = await client().images.generate({ prompt: '[[fixture:draw-multi-v2]] 猫', n: 4 });
    assert.deepEqual(all.data.map((d) => d.url), MULTI.map((n) => fsA.url(`/img/${n}`)));
    const two = await client().images.generate({ prompt: '[[fixture:draw-multi-v2]] 猫', n: 2, response_format: 'b64_json' });
    assert.deepEqual(two.data.map((d) => Buffer.from(d.b64_json, 'base64')), MULTI.slice(0, 2).map(imageBytes));
    const one = await client().images.generate({ prompt: '[[fixture:draw-multi-v2]] 猫' });
    assert.equal(one.data.length, 1, 'n defaults to 1');
  });

  test('moderation is a 400 content_policy_violation', async () => {
    const err = await rejection(client().images.generate({ prompt: '[[fixture:chat-intervene]] x' }));
    assert.ok(err instanceof BadRequestError, `BadRequestError, got ${err}`);
    assert.equal(err.code, 'content_policy_violation');
    assert.match(err.message, new RegExp(INTERVENE));
  });

  test('an answer without an image is a 502 that says so', async () => {
    const err = await rejection(client().images.generate({ prompt: '[[fixture:chat-plain]] x' }));
    assert.ok(err instanceof InternalServerError, `InternalServerError, got ${err}`);
    assert.equal(err.status, 502);
    assert.equal(err.code, 'no_image');
    assert.match(err.message, /without producing an image/);
  });

  test('b64_json downloads go through the guard: a forbidden image host is never asked', async () => {
    const hits = fsB.hits();
    const err = await rejection(client().images.generate({ prompt: '[[fixture:draw-forbidden]] x', response_format: 'b64_json' }));
    assert.equal(err.status, 502);
    assert.equal(err.code, 'image_download_failed');
    assert.match(err.message, /127\.0\.0\.1.*loopback/);
    assert.equal(fsB.hits(), hits);
    // The URLs themselves are fine to hand out.
    const ok = await client().images.generate({ prompt: '[[fixture:draw-forbidden]] x', n: 2 });
    assert.deepEqual(ok.data.map((d) => d.url), [fsB.url('/img/b1.png'), fsB.url('/img/b2.png')]);
  });

  test('bad requests are 400s naming the parameter', async () => {
    for (const [body, param] of [
      [{}, 'prompt'], [{ prompt: '' }, 'prompt'], [{ prompt: 'x', n: 5 }, 'n'], [{ prompt: 'x', n: 0 }, 'n'],
      [{ prompt: 'x', response_format: 'png' }, 'response_format'], [{ prompt: 'x', size: 1024 }, 'size'],
      [{ prompt: 'x', model: 7 }, 'model'],
    ]) {
      const err = await rejection(client().images.generate(body));
      assert.ok(err instanceof BadRequestError, `${JSON.stringify(body)}: BadRequestError, got ${err}`);
      assert.equal(err.param, param, JSON.stringify(body));
    }
  });

  test('a drawing waits for the account a chat answer holds (same leases, no overlap)', async () => {
    const token = newToken('lease');
    const before = (await mock.stats()).overlaps;
    const chat = collect(await server.client(token).chat.completions.create({
      model: 'glm-4', messages: user('[[scenario:trickle]] 你好'), stream: true,
    }));
    const draw = server.client(token).images.generate({ prompt: '一只猫' });
    const [c, d] = await Promise.all([chat, draw]);
    assert.equal(c.error, null);
    assert.deepEqual(d.data, [{ url: CHAT_DRAWING_URL }]);
    assert.equal((await mock.stats()).overlaps, before, 'never two streams on one account');
  });
});

describe('drawing in chat', () => {
  // (fsA starts in before(): build the expectation when a test runs.)
  const want = () => MULTI.map((n) => `![图像](${fsA.url(`/img/${n}`)})\n`).join('');

  test('the multi-image drawing renders every image exactly once (stream)', async () => {
    const r = await collect(await client().chat.completions.create({
      model: 'glm-4', messages: user('[[fixture:draw-multi-v2]] 画四只猫'), stream: true,
    }));
    assert.equal(r.error, null);
    assert.equal(r.content, want());
    assert.equal(r.chunks.at(-1).choices[0].finish_reason, 'stop');
  });

  test('the multi-image drawing renders every image exactly once (non-stream)', async () => {
    const c = await client().chat.completions.create({
      model: 'glm-4', messages: user('[[fixture:draw-multi-v2]] 画四只猫'),
    });
    assert.equal(c.choices[0].message.content, want());
  });
});

test('glm-free-api and the mock exit cleanly on SIGTERM (exit 0, no sanitizer report)', async () => {
  assertCleanExit(await server.stop(), 'glm-free-api');
  assertCleanExit(await mock.stop(), 'mock-chatglm');
});
