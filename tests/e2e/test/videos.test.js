// Video generation (issue 17) through the official openai client
// (client.videos: create, retrieve, downloadContent, list, delete) and the
// original's synchronous POST /v1/videos/generations with plain fetch, on
// the mock's video service: first frames (file and data URL), the audio
// composite, failures from the site, owners kept apart, and a restart in
// the middle of a job. The mock counts polls, not seconds, so the timings
// here only bound how long a test may wait.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NotFoundError, toFile } from 'openai';
import {
  startMock, startServer, startRedis, haveRedis, newToken, rejection, waitFor, assertCleanExit, WRAP,
} from '../lib/harness.js';
import { PNG } from '../lib/fileserver.js';

const VIDEO_API = '/chatglm/video-api/v1';
const SLOW = WRAP.length ? 6 : 1;   // valgrind runs get longer waits

let mock;
let server;          // client tokens; fast polls
const dirs = [];

function tmpDir(label) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `glm-videos-${label}-`));
  dirs.push(d);
  return d;
}

const serverArgs = (mockUrl) => ['--video-poll-ms', '50', '--video-poll-max-ms', '200',
  '--fetch-allow', `127.0.0.1:${new URL(mockUrl).port}`];

before(async () => {
  mock = await startMock();
  server = await startServer(mock.url, serverArgs(mock.url));
});

after(async () => {
  const r = await server?.stop();
  const m = await mock?.stop();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  if (r) assertCleanExit(r, 'glm-free-api');
  if (m) assertCleanExit(m, 'mock-chatglm');
});

async function mockVideos() {
  return (await mock.call('GET', '/_mock/videos')).chats;
}

async function settle(client, id, timeoutMs = 20000 * SLOW) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await client.videos.retrieve(id);
    if (v.status === 'completed' || v.status === 'failed' || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function bytesOf(url) {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return Buffer.from(await res.arrayBuffer());
}

test('videos.create, retrieve until completed, downloadContent, list and delete with the openai SDK', async () => {
  const client = server.client(newToken('videos'));
  const created = await client.videos.create({ prompt: '一只猫在花丛中散步', model: 'cogvideox', seconds: '5', size: '1280x720' });
  assert.match(created.id, /^video_[0-9a-f]{32}$/);
  assert.equal(created.object, 'video');
  assert.equal(created.model, 'cogvideox');
  assert.ok(['queued', 'in_progress'].includes(created.status), created.status);
  assert.equal(created.prompt, '一只猫在花丛中散步');
  assert.equal(created.error, null);

  const done = await settle(client, created.id);
  assert.equal(done.status, 'completed', JSON.stringify(done));
  assert.equal(done.progress, 100);
  assert.ok(done.completed_at >= done.created_at);
  assert.ok(done.expires_at > done.completed_at);
  assert.equal(done.size, '1440x960');      // what the site made
  assert.equal(done.seconds, '6');

  const chat = (await mockVideos()).find((c) => c.prompt === '一只猫在花丛中散步');
  assert.ok(chat, 'the mock saw the create call');
  assert.deepEqual(chat.request.base_parameter_extra?.duration, 1);
  assert.ok(chat.polls >= 4, `polled ${chat.polls} times`);

  const res = await client.videos.downloadContent(created.id);
  const got = Buffer.from(await res.arrayBuffer());
  const want = await bytesOf(chat.video_url);
  assert.equal(got.length, want.length);
  assert.ok(got.equals(want), 'the video bytes are the mock\'s');
  assert.ok(got.length > 300 * 1024);
  const thumb = Buffer.from(await (await client.videos.downloadContent(created.id, { variant: 'thumbnail' })).arrayBuffer());
  assert.ok(thumb.equals(await bytesOf(chat.cover_url)), 'the thumbnail is the cover');

  // A second and a third: the list pages newest first with a cursor.
  const more = [];
  for (const p of ['第二个视频', '第三个视频']) more.push(await client.videos.create({ prompt: p }));
  const page = await client.videos.list({ limit: 2 });
  assert.deepEqual(page.data.map((v) => v.id), [more[1].id, more[0].id]);
  assert.equal(page.has_more, true);
  const all = [];
  for await (const v of client.videos.list({ limit: 1 })) all.push(v.id);
  assert.deepEqual(all, [more[1].id, more[0].id, created.id]);
  const asc = await client.videos.list({ order: 'asc' });
  assert.deepEqual(asc.data.map((v) => v.id), [created.id, more[0].id, more[1].id]);

  const mark = await mock.mark();
  const del = await client.videos.delete(created.id);
  assert.deepEqual(del, { id: created.id, object: 'video.deleted', deleted: true });
  await rejection(client.videos.retrieve(created.id)).then((e) => assert.ok(e instanceof NotFoundError));
  const dels = await waitFor(async () => (await mock.requestsSince(mark, `${VIDEO_API}/chat/${chat.chat_id}`))
    .filter((r) => r.method === 'DELETE'), 5000 * SLOW);
  assert.equal(dels.length, 1, 'the chat was deleted upstream');
  for (const v of more) await settle(client, v.id);
});

test('input_reference as an image file: uploaded to the video service, then the chat names it', async () => {
  const client = server.client(newToken('videos-ref'));
  const mark = await mock.mark();
  const v = await client.videos.create({
    prompt: '让图片动起来', model: 'cogvideox-pro',
    input_reference: await toFile(PNG, 'first.png', { type: 'image/png' }),
  });
  const done = await settle(client, v.id);
  assert.equal(done.status, 'completed', JSON.stringify(done));
  const ups = await mock.requestsSince(mark, `${VIDEO_API}/static/upload`);
  assert.equal(ups.length, 1);
  assert.match(ups[0].headers['content-type'], /^multipart\/form-data; boundary=/);
  assert.match(ups[0].body, /name="file"; filename="first\.png"/);
  const chat = (await mockVideos()).find((c) => c.prompt === '让图片动起来');
  assert.equal(chat.request.source_list.length, 1);
  // Not an image: refused before anything reaches the site.
  const e = await rejection(client.videos.create({
    prompt: 'x', input_reference: await toFile(Buffer.from('%PDF-1.4 not an image'), 'a.pdf', { type: 'application/pdf' }),
  }));
  assert.equal(e.status, 400);
  assert.equal(e.code, 'invalid_image');
});

test('the original synchronous POST /v1/videos/generations: a data URL first frame and the audio composite', async () => {
  const token = newToken('videos-sync');
  const mark = await mock.mark();
  const res = await fetch(`${server.url}/v1/videos/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'cogvideox', prompt: '海边的日落', image_url: `data:image/png;base64,${PNG.toString('base64')}`,
      video_style: '卡通3D', emotional_atmosphere: '温馨和谐', mirror_mode: '水平', audio_id: '669b799d7da8f9d4ea50e2d6-6',
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.equal(typeof body.created, 'number');
  assert.equal(body.data.length, 1);
  const chat = (await mockVideos()).find((c) => c.prompt === '海边的日落');
  assert.equal(body.data[0].url, chat.audio_url);
  assert.equal(body.data[0].cover_url, chat.cover_url);
  assert.equal(body.data[0].duration, '6s');
  assert.equal(body.data[0].resolution, '1440 × 960');
  assert.deepEqual(chat.request.advanced_parameter_extra,
    { emotional_atmosphere: '温馨和谐', mirror_mode: '水平', video_style: '卡通3D' });
  const comp = await mock.requestsSince(mark, `${VIDEO_API}/static/composite_video`);
  assert.equal(comp.length, 1);
  assert.deepEqual(comp[0].json, { chat_id: chat.chat_id, key: '669b799d7da8f9d4ea50e2d6', audio_id: '6' });
  assert.equal((await mock.requestsSince(mark, `${VIDEO_API}/static/upload`)).length, 1);
  // The same job is an ordinary video of this client afterwards.
  const list = await server.client(token).videos.list();
  assert.equal(list.data.length, 1);
  assert.equal(list.data[0].status, 'completed');
});

test('one client cannot read, download, delete or list another\'s video', async () => {
  const alice = server.client(newToken('alice'));
  const bob = server.client(newToken('bob'));
  const v = await alice.videos.create({ prompt: 'alice 的视频' });
  await settle(alice, v.id);
  for (const p of [bob.videos.retrieve(v.id), bob.videos.downloadContent(v.id), bob.videos.delete(v.id)]) {
    const e = await rejection(p);
    assert.equal(e.status, 404);
  }
  assert.equal((await bob.videos.list()).data.length, 0);
  assert.equal((await alice.videos.retrieve(v.id)).status, 'completed');
});

test('failures from the site: moderation ends the job failed with the site\'s reason; quota refuses the synchronous call', async () => {
  const client = server.client(newToken('videos-fail'));
  const v = await client.videos.create({ prompt: '[[video:fail]] 不合规的内容' });
  const done = await settle(client, v.id);
  assert.equal(done.status, 'failed');
  assert.equal(done.error.code, 'video_generation_failed');
  assert.match(done.error.message, /视频内容不符合规范/);
  const e = await rejection(client.videos.downloadContent(v.id));
  assert.equal(e.status, 404);

  const q = await client.videos.create({ prompt: '[[video:quota]]' });
  const qd = await settle(client, q.id);
  assert.equal(qd.status, 'failed');
  assert.match(qd.error.message, /今日视频生成次数已用完/);

  const res = await fetch(`${server.url}/v1/videos/generations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${newToken('videos-fail')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: '[[video:quota]] again' }),
  });
  const body = await res.json();
  assert.equal(res.status, 400);
  assert.match(body.error.message, /今日视频生成次数已用完/);

  const bad = await rejection(client.videos.create({ prompt: 'x', model: 'gpt-4o' }));
  assert.equal(bad.status, 400);
  assert.equal(bad.code, 'model_not_found');
});

test('a restart in the middle of a job: the new server resumes polling and the job completes', async () => {
  const dataDir = tmpDir('restart');
  const rt = newToken('videos-server');
  const args = [...serverArgs(mock.url), '--data-dir', dataDir, '--api-keys', 'vk-1', '--refresh-tokens', rt];
  await mock.call('POST', '/_mock/video', { polls: 1000000 });
  let s1 = await startServer(mock.url, args);
  let id;
  let chat;
  try {
    const v = await s1.client('vk-1').videos.create({ prompt: '重启中的视频' });
    id = v.id;
    const running = await waitFor(async () => (await s1.client('vk-1').videos.retrieve(id)).status === 'in_progress',
      10000 * SLOW);
    assert.ok(running, 'the job is in progress before the restart');
    chat = (await mockVideos()).find((c) => c.prompt === '重启中的视频');
  } finally {
    const r = await s1.stop();
    assertCleanExit(r, 'glm-free-api (before the restart)');
  }
  await mock.call('POST', '/_mock/video', { polls: 2 });
  const pollsBefore = (await mockVideos()).find((c) => c.chat_id === chat.chat_id).polls;
  const s2 = await startServer(mock.url, args);
  try {
    // Resumed without any request: the mock sees new polls.
    const resumed = await waitFor(async () => (await mockVideos()).find((c) => c.chat_id === chat.chat_id).polls > pollsBefore,
      10000 * SLOW);
    assert.ok(resumed, 'the restarted server polls on its own');
    const client = s2.client('vk-1');
    const done = await settle(client, id);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    const got = Buffer.from(await (await client.videos.downloadContent(id)).arrayBuffer());
    assert.ok(got.equals(await bytesOf(chat.video_url)));
    // Another API key of the same server is another owner.
    assert.equal((await rejection(s2.client('vk-2').videos.retrieve(id))).status, 401);
  } finally {
    const r = await s2.stop();
    assertCleanExit(r, 'glm-free-api (after the restart)');
  }
});

test('a restart with a client\'s own token: the job waits for its client and resumes when asked', async () => {
  const dataDir = tmpDir('restart-client');
  const token = newToken('videos-own');
  const args = [...serverArgs(mock.url), '--data-dir', dataDir];
  await mock.call('POST', '/_mock/video', { polls: 1000000 });
  const s1 = await startServer(mock.url, args);
  let id;
  try {
    id = (await s1.client(token).videos.create({ prompt: '客户令牌的视频' })).id;
    assert.ok(await waitFor(async () => (await s1.client(token).videos.retrieve(id)).status === 'in_progress', 10000 * SLOW));
  } finally {
    assertCleanExit(await s1.stop(), 'glm-free-api (before the restart)');
  }
  await mock.call('POST', '/_mock/video', { polls: 2 });
  const s2 = await startServer(mock.url, args);
  try {
    const done = await settle(s2.client(token), id);
    assert.equal(done.status, 'completed', JSON.stringify(done));
  } finally {
    assertCleanExit(await s2.stop(), 'glm-free-api (after the restart)');
  }
});

test('video-max-running: a second running video of the same account waits its turn (429); chat is not blocked', async () => {
  const s = await startServer(mock.url, [...serverArgs(mock.url), '--video-max-running', '1']);
  await mock.call('POST', '/_mock/video', { polls: 1000000 });
  try {
    const token = newToken('videos-limit');
    const client = s.client(token);
    const first = await client.videos.create({ prompt: '第一个长视频' });
    const e = await rejection(client.videos.create({ prompt: '第二个长视频' }));
    assert.equal(e.status, 429);
    assert.equal(e.code, 'too_many_video_jobs');
    // No lease is held while the video renders: the account still chats.
    const chat = await client.chat.completions.create({ model: 'glm-4', messages: [{ role: 'user', content: '你好' }] });
    assert.ok(chat.choices[0].message.content.length > 0);
    await client.videos.delete(first.id);
    const again = await client.videos.create({ prompt: '第三个视频' });
    assert.equal(again.object, 'video');
  } finally {
    await mock.call('POST', '/_mock/video', { polls: 2 });
    assertCleanExit(await s.stop(), 'glm-free-api (limit)');
  }
});

test('with --state redis the video jobs are kept in the data directory (this replica) and work the same',
  { skip: haveRedis() ? false : 'redis-server is not installed' }, async () => {
    const redis = await startRedis();
    const s = await startServer(mock.url, [...serverArgs(mock.url), '--state', 'redis', '--redis-url', redis.url,
      '--redis-prefix', 'videos-e2e:']);
    try {
      const client = s.client(newToken('videos-redis'));
      const v = await client.videos.create({ prompt: 'redis 状态下的视频' });
      const done = await settle(client, v.id);
      assert.equal(done.status, 'completed', JSON.stringify(done));
      assert.equal((await client.videos.list()).data[0].id, v.id);
      assert.match(s.stderr, /video jobs are kept in .*this replica only/);
    } finally {
      assertCleanExit(await s.stop(), 'glm-free-api (redis)');
      await redis.stop();
    }
  });
