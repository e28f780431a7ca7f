// What the server sends to chatglm.cn, as the mock recorded it: headers,
// signature, tokens, the merged prompt, chat modes, agents, deletes,
// continued conversations and token refreshes.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { RateLimitError } from 'openai';
import {
  startMock, startServer, newToken, user, collect, waitFor, assertCleanExit, assertSigned,
  jwtPayload, promptOf, OBJECT_ID, DEFAULT_ASSISTANT, PATH_REFRESH, PATH_STREAM, PATH_DELETE,
  PATH_DELETE_2025, PATH_CHAT_UPLOAD, PATH_UPLOAD_2025, PATH_STOP,
} from '../lib/harness.js';
import { PLAIN } from '../lib/expected.js';

let mock;
let server;

before(async () => {
  mock = await startMock();
  server = await startServer(mock.url);
});

after(async () => {
  await server?.stop();
  await mock?.stop();
});

const PLAIN_PROMPT = '[[fixture:chat-plain]] 你好';

// The delete call for conversation id, waiting for it (it follows the answer).
async function deleteFor(mark, id) {
  return waitFor(async () => (await mock.requestsSince(mark, PATH_DELETE)).find((r) => r.json?.conversation_ids?.includes(id)));
}

describe('the upstream requests', () => {
  test('refresh and stream calls are signed and carry the browser headers and tokens', async () => {
    const token = newToken('hdr');
    const mark = await mock.mark();
    const r = await collect(await server.client(token).chat.completions.create({
      model: 'glm-4', messages: user(PLAIN_PROMPT), stream: true,
    }));
    assert.equal(r.error, null);
    assert.equal(r.content, PLAIN);

    const reqs = await mock.requestsSince(mark);
    const refresh = reqs.filter((q) => q.path === PATH_REFRESH);
    assert.equal(refresh.length, 1, 'one refresh call');
    assert.equal(refresh[0].method, 'POST');
    assert.equal(refresh[0].headers.authorization, `Bearer ${token}`, 'refresh with the refresh token');
    assertSigned(refresh[0].headers, 'refresh');

    const streams = reqs.filter((q) => q.path === PATH_STREAM);
    assert.equal(streams.length, 1, 'one stream call');
    const s = streams[0];
    const h = s.headers;
    assert.equal(s.method, 'POST');
    assertSigned(h, 'stream');
    const auth = /^Bearer (.+)$/.exec(h.authorization ?? '');
    assert.ok(auth, 'stream: authorization Bearer');
    assert.notEqual(auth[1], token, 'stream: the access token, not the refresh token');
    const claims = jwtPayload(auth[1]);
    assert.ok(claims, 'stream: the access token is the JWT the refresh returned');
    assert.equal(claims.type, 'access', 'stream: an access token');
    // The mock derives an account's uid from its first refresh token.
    const uid = createHash('md5').update(token).digest('hex').slice(0, 24);
    assert.equal(claims.uid, uid, "stream: an access token of this token's account");

    assert.equal(h['content-type'], 'application/json');
    assert.equal(h['app-name'], 'chatglm');
    assert.equal(h['x-app-platform'], 'pc');
    assert.equal(h['x-app-version'], '0.0.1');
    assert.equal(h['x-lang'], 'zh');
    assert.equal(h['sec-ch-ua-mobile'], '?0');
    assert.equal(h['sec-ch-ua-platform'], '"Windows"');
    assert.match(h['sec-ch-ua'] ?? '', /"Microsoft Edge";v="151"/);
    assert.match(h['user-agent'] ?? '', /^Mozilla\/5\.0 \(Windows NT 10\.0; .*Chrome\/151.*Edg\/151/);
    assert.equal(h['x-app-fr'], 'default');
    assert.match(h['accept-language'] ?? '', /^zh-CN/);
    assert.match(h['x-exp-groups'] ?? '', /mainchat_server_app:exp:A/);
    assert.equal(h.origin, mock.url);
    assert.equal(h.referer, `${mock.url}/main/alltoolsdetail`);
    // The account's device id: the device_id claim of its access token (spec 12.1).
    assert.equal(h['x-device-id'], claims.device_id);
    assert.match(h['x-device-id'] ?? '', /^[0-9a-f]{32}$/);
    assert.match(h['x-request-id'] ?? '', /^[0-9a-f]{32}$/);
    for (const name of ['sec-fetch-dest', 'sec-fetch-mode', 'sec-fetch-site', 'cache-control', 'pragma'])
      assert.ok(h[name], `stream: header ${name}`);

    const body = s.json;
    assert.ok(body, 'stream body is JSON');
    assert.equal(body.assistant_id, DEFAULT_ASSISTANT);
    assert.equal(body.conversation_id, '');
    assert.equal(body.messages.length, 1);
    assert.equal(body.messages[0].role, 'user');
    assert.equal(body.messages[0].content[0].type, 'text');
    assert.equal(promptOf(s), PLAIN_PROMPT + '\n', 'one message: pass-through prompt');
    assert.equal(body.project_id, '');
    assert.equal(body.chat_type, 'user_chat');
    assert.deepEqual(body.meta_data, {
      cogview: { rm_label_watermark: false }, is_test: false, input_question_type: 'xxxx', channel: '',
      draft_id: '', chat_mode: '', reasoning_effort: 'low', selected_model: 'glm-5.3', is_networking: true,
      quote_log_id: '', platform: 'pc',
    }, 'glm-4: the 2026 body, fast tier of glm-5.3');
    assert.deepEqual(Object.keys(body), ['assistant_id', 'conversation_id', 'project_id', 'chat_type', 'meta_data', 'messages']);

    const del = await deleteFor(mark, r.chunks[0].id);
    assert.ok(del, 'a delete call follows the answer');
    assertSigned(del.headers, 'delete');
    assert.equal(del.headers.authorization, h.authorization, 'delete with the same access token');
    assert.deepEqual(del.json, { conversation_ids: [r.chunks[0].id], assistant_id: DEFAULT_ASSISTANT });
  });

  test('several messages are merged into one prompt with role labels (spec 8.3)', async () => {
    const mark = await mock.mark();
    const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
    const c = await server.client(newToken('merge')).chat.completions.create({
      model: 'glm-4',
      messages: [
        { role: 'system', content: '你是一个翻译助手' },
        { role: 'user', content: '你好' },
        { role: 'assistant', content: '你好！有什么可以帮你？' },
        { role: 'user', content: [
          { type: 'text', text: '[[fixture:chat-plain]] 把这句话翻译成英文：今天天气很好' },
          { type: 'image_url', image_url: { url: png } },
        ] },
      ],
    });
    assert.equal(c.choices[0].message.content, PLAIN);
    const [s] = await mock.requestsSince(mark, PATH_STREAM);
    assert.ok(s, 'a stream call');
    assert.equal(promptOf(s),
      '<|sytstem|>\n你是一个翻译助手\n' +
      '<|user|>\n你好\n' +
      '<|assistant|>\n你好！有什么可以帮你？\n' +
      '<|sytstem|>\n关注用户最新发送文件和消息\n' +
      '<|user|>\n[[fixture:chat-plain]] 把这句话翻译成英文：今天天气很好\n' +
      '<|assistant|>\n');
  });

  test('merge mode strips markdown images and sandbox paths', async () => {
    const mark = await mock.mark();
    await server.client(newToken('strip')).chat.completions.create({
      model: 'glm-4',
      messages: [
        { role: 'assistant', content: '看这张图 ![图像](https://example.com/a.png) 和文件 /mnt/data/out.csv 完' },
        { role: 'user', content: PLAIN_PROMPT },
      ],
    });
    const [s] = await mock.requestsSince(mark, PATH_STREAM);
    assert.equal(promptOf(s), `<|assistant|>\n看这张图  和文件 \n<|user|>\n${PLAIN_PROMPT}\n<|assistant|>\n`);
  });

  // Model name and reasoning_effort -> what the mock received (spec 12.4 and the README's table).
  const ROUTES = [
    ['glm-5.3', undefined, 'glm-5.3', '', 'low'],
    ['glm-5.3-flash', undefined, 'glm-5.3-flash', '', 'low'],
    ['glm-5.3-thinking', undefined, 'glm-5.3', 'thinking', 'high'],
    ['glm-5.3-flash-thinking', undefined, 'glm-5.3-flash', 'thinking', 'high'],
    ['glm-5.3-deep-thinking', undefined, 'glm-5.3', 'deep_thinking', 'max'],
    ['glm-5.3-deepresearch', undefined, 'glm-5.3', 'deep_research', undefined],
    ['glm-4', undefined, 'glm-5.3', '', 'low'],
    ['glm-4-plus', undefined, 'glm-5.3', '', 'low'],
    ['glm-4-flash', undefined, 'glm-5.3-flash', '', 'low'],
    ['glm-4-think', undefined, 'glm-5.3', 'thinking', 'high'],
    ['glm-4-zero', undefined, 'glm-5.3', 'thinking', 'high'],
    ['glm-4-deepresearch', undefined, 'glm-5.3', 'deep_research', undefined],
    ['glm-5.3', 'none', 'glm-5.3', '', 'low'],
    ['glm-5.3', 'minimal', 'glm-5.3', '', 'low'],
    ['glm-5.3', 'low', 'glm-5.3', 'thinking', 'high'],
    ['glm-5.3', 'medium', 'glm-5.3', 'thinking', 'high'],
    ['glm-5.3-flash', 'high', 'glm-5.3-flash', 'thinking', 'high'],
    ['glm-5.3', 'xhigh', 'glm-5.3', 'deep_thinking', 'max'],
    ['glm-5.3-thinking', 'max', 'glm-5.3', 'deep_thinking', 'max'],
    ['glm-5.3-deep-thinking', 'none', 'glm-5.3', '', 'low'],
    ['glm-4-deepresearch', 'high', 'glm-5.3', 'deep_research', undefined],
  ];
  for (const [model, effort, selected, mode, upEffort] of ROUTES) {
    test(`model ${model}${effort ? ` with reasoning_effort ${effort}` : ''} sends ${selected}, chat_mode "${mode}", ${upEffort ?? 'no effort'}`, async () => {
      const mark = await mock.mark();
      const req = { model, messages: user(PLAIN_PROMPT) };
      if (effort) req.reasoning_effort = effort;
      const c = await server.client(newToken('mode')).chat.completions.create(req);
      assert.equal(c.model, model);
      const [s] = await mock.requestsSince(mark, PATH_STREAM);
      assert.equal(s.json.assistant_id, DEFAULT_ASSISTANT);
      assert.equal(s.json.meta_data.selected_model, selected);
      assert.equal(s.json.meta_data.chat_mode, mode);
      assert.equal(s.json.meta_data.reasoning_effort, upEffort);
      assert.ok(!('if_plus_model' in s.json.meta_data), 'no if_plus_model in 2026');
    });
  }

  test('an unknown reasoning_effort is a 400 naming the parameter', async () => {
    const mark = await mock.mark();
    const r = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${newToken('effort')}` },
      body: JSON.stringify({ model: 'glm-5.3', reasoning_effort: 'extreme', messages: user(PLAIN_PROMPT) }),
    });
    assert.equal(r.status, 400);
    const j = await r.json();
    assert.equal(j.error.param, 'reasoning_effort');
    assert.equal((await mock.requestsSince(mark, PATH_STREAM)).length, 0, 'nothing sent upstream');
  });

  test('an agent id as model is sent as assistant_id (and deleted with it)', async () => {
    const agent = '65c046a531d3fcb034918abe';
    const mark = await mock.mark();
    const c = await server.client(newToken('agent')).chat.completions.create({ model: agent, messages: user(PLAIN_PROMPT) });
    assert.equal(c.model, agent);
    assert.equal(c.choices[0].message.content, PLAIN);
    const [s] = await mock.requestsSince(mark, PATH_STREAM);
    assert.equal(s.json.assistant_id, agent);
    assert.equal(s.headers.referer, `${mock.url}/main/gdetail/${agent}`);
    const del = await deleteFor(mark, c.id);
    assert.ok(del, 'a delete call');
    assert.deepEqual(del.json, { conversation_ids: [c.id], assistant_id: agent });
  });

  test('a non-stream answer is followed by a delete of its conversation', async () => {
    const mark = await mock.mark();
    const c = await server.client(newToken('del')).chat.completions.create({ model: 'glm-4', messages: user(PLAIN_PROMPT) });
    assert.match(c.id, OBJECT_ID);
    const del = await deleteFor(mark, c.id);
    assert.ok(del, 'a delete call');
    assert.deepEqual(del.json, { conversation_ids: [c.id], assistant_id: DEFAULT_ASSISTANT });
    assert.equal((await mock.requestsSince(mark, PATH_DELETE)).length, 1, 'exactly one delete');
    assert.equal((await mock.requestsSince(mark, PATH_STOP)).length, 0, 'a finished answer is not stopped');
  });

  test('the returned id continues the conversation (conversation_id)', async () => {
    const client = server.client(newToken('cont'));
    const first = await client.chat.completions.create({ model: 'glm-4', messages: user(PLAIN_PROMPT) });
    const mark = await mock.mark();
    const second = await client.chat.completions.create({
      model: 'glm-4',
      conversation_id: first.id,
      messages: [{ role: 'user', content: '[[fixture:chat-plain]] 再说一遍' }, { role: 'user', content: '谢谢' }],
    });
    assert.equal(second.id, first.id, 'the same conversation id comes back');
    assert.equal(second.choices[0].message.content, PLAIN);
    const [s] = await mock.requestsSince(mark, PATH_STREAM);
    assert.equal(s.json.conversation_id, first.id, 'sent upstream');
    assert.equal(promptOf(s), '[[fixture:chat-plain]] 再说一遍\n谢谢\n', 'pass-through prompt, no role labels');

    const r = await collect(await client.chat.completions.create({
      model: 'glm-4', conversation_id: first.id, messages: user('[[fixture:chat-plain]] 第三次'), stream: true,
    }));
    assert.equal(r.error, null);
    assert.equal(r.content, PLAIN);
    assert.ok(r.chunks.every((ch) => ch.id === first.id), 'stream chunks carry the continued id');
  });
});

describe('token refresh', () => {
  test('two concurrent requests with a new token share one refresh', async () => {
    const token = newToken('coalesce');
    const client = server.client(token);
    const mark = await mock.mark();
    const results = await Promise.allSettled([
      client.chat.completions.create({ model: 'glm-4', messages: user(PLAIN_PROMPT) }),
      client.chat.completions.create({ model: 'glm-4', messages: user(PLAIN_PROMPT) }),
    ]);
    // Every refresh since the mark counts: a second one would carry the
    // rotated token, not the one the client gave.
    const refreshes = await mock.requestsSince(mark, PATH_REFRESH);
    assert.equal(refreshes.length, 1, 'exactly one refresh call');
    assert.equal(refreshes[0].headers.authorization, `Bearer ${token}`);
    // The mock allows one answer per account at a time, so one of the two may
    // be refused as busy (429); the refresh must still be shared.
    for (const res of results) {
      if (res.status === 'rejected')
        assert.ok(res.reason instanceof RateLimitError, `fulfilled or 429, got ${res.reason}`);
      else
        assert.equal(res.value.choices[0].message.content, PLAIN);
    }
    assert.ok(results.some((res) => res.status === 'fulfilled'), 'at least one answered');
  });

  test('after the access tokens expire the next request refreshes once and succeeds', async () => {
    const client = server.client(newToken('expire'));
    const c1 = await client.chat.completions.create({ model: 'glm-4', messages: user(PLAIN_PROMPT) });
    assert.equal(c1.choices[0].message.content, PLAIN);
    // A second request uses the cached access token.
    let mark = await mock.mark();
    await client.chat.completions.create({ model: 'glm-4', messages: user(PLAIN_PROMPT) });
    assert.equal((await mock.requestsSince(mark, PATH_REFRESH)).length, 0, 'the access token is cached');

    await mock.expire();
    mark = await mock.mark();
    const c2 = await client.chat.completions.create({ model: 'glm-4', messages: user(PLAIN_PROMPT) });
    assert.equal(c2.choices[0].message.content, PLAIN);
    assert.equal((await mock.requestsSince(mark, PATH_REFRESH)).length, 1, 'exactly one refresh');
    const streams = await mock.requestsSince(mark, PATH_STREAM);
    assert.ok(streams.length >= 1 && streams.length <= 2, `one refused and one good stream call (${streams.length})`);
  });

  test('with strict rotation the rotated refresh token is used next time', async () => {
    await mock.config({ strict_rotation: true });
    try {
      const token = newToken('rotate');
      const client = server.client(token);
      await client.chat.completions.create({ model: 'glm-4', messages: user(PLAIN_PROMPT) });
      await mock.expire();
      const mark = await mock.mark();
      const c = await client.chat.completions.create({ model: 'glm-4', messages: user(PLAIN_PROMPT) });
      assert.equal(c.choices[0].message.content, PLAIN);
      const [refresh] = await mock.requestsSince(mark, PATH_REFRESH);
      assert.ok(refresh, 'a refresh call');
      assert.notEqual(refresh.headers.authorization, `Bearer ${token}`, 'the rotated refresh token, not the first one');
    } finally {
      await mock.config({ strict_rotation: false });
    }
  });
});

describe('2026 tokens: exp, device_id, guests', () => {
  test("the access token is used until shortly before its JWT exp, then refreshed before it is sent", async () => {
    // A 3 s token is used for 3/4 of its life: after 4 s the server refreshes
    // first instead of sending the dead token (no 40103 round trip).
    await mock.config({ access_ttl: 3 });
    try {
      const client = server.client(newToken('exp'));
      await client.chat.completions.create({ model: 'glm-5.3', messages: user(PLAIN_PROMPT) });
      await new Promise((r) => setTimeout(r, 4000));
      const mark = await mock.mark();
      const c = await client.chat.completions.create({ model: 'glm-5.3', messages: user(PLAIN_PROMPT) });
      assert.equal(c.choices[0].message.content, PLAIN);
      const reqs = (await mock.requestsSince(mark)).filter((r) => r.path === PATH_REFRESH || r.path === PATH_STREAM);
      assert.deepEqual(reqs.map((r) => r.path), [PATH_REFRESH, PATH_STREAM], 'refresh, then one stream call');
    } finally {
      await mock.config({ access_ttl: 86400 });
    }
  });

  test('X-Device-Id is the device_id of the account, the same on every call of it', async () => {
    const token = newToken('dev');
    const mark = await mock.mark();
    const client = server.client(token);
    await client.chat.completions.create({ model: 'glm-5.3', messages: user(PLAIN_PROMPT) });
    await client.chat.completions.create({ model: 'glm-5.3', messages: user(PLAIN_PROMPT) });
    const reqs = (await mock.requestsSince(mark)).filter((r) => r.path === PATH_STREAM || r.path === PATH_DELETE);
    assert.ok(reqs.length >= 2);
    const ids = new Set(reqs.map((r) => r.headers['x-device-id']));
    assert.equal(ids.size, 1, 'one device id');
    assert.equal([...ids][0], jwtPayload(reqs[0].headers.authorization.slice(7)).device_id);
  });

  test('a guest token is refused for chat with 401 guest_token and is not live on /token/check', async () => {
    const guest = newToken('guest');
    await mock.tokens(guest, 'guest');
    const mark = await mock.mark();
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${guest}` },
      body: JSON.stringify({ model: 'glm-5.3', messages: user(PLAIN_PROMPT) }),
    });
    assert.equal(res.status, 401);
    const j = await res.json();
    assert.equal(j.error.code, 'guest_token');
    assert.match(j.error.message, /guest/);
    assert.equal((await mock.requestsSince(mark, PATH_STREAM)).length, 0, 'nothing asked of the site');
    const chk = await fetch(`${server.url}/token/check`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: guest }),
    });
    const r = await chk.json();
    assert.equal(r.live, false);
    assert.equal(r.guest, true);
    assert.match(r.reason, /^guest token/);
  });
});

describe('POST /token/check', () => {
  const check = async (token) => {
    const res = await fetch(`${server.url}/token/check`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }),
    });
    assert.equal(res.status, 200);
    return res.json();
  };

  test('a live token is live, and the check really asks the site', async () => {
    const token = newToken('check');
    const mark = await mock.mark();
    const r = await check(token);
    assert.equal(r.live, true);
    const [refresh] = await mock.requestsSince(mark, PATH_REFRESH);
    assert.ok(refresh, 'a refresh call');
    assert.equal(refresh.headers.authorization, `Bearer ${token}`);
  });

  test('a dead token is not live', async () => {
    const r = await check(`dead-${newToken('check')}`);
    assert.equal(r.live, false);
  });
});

describe('--upstream-era 2025', () => {
  let old;
  before(async () => { old = await startServer(mock.url, ['--upstream-era', '2025']); });
  after(async () => { await old?.stop(); });

  test('restores the 2025 body: if_plus_model, chat_mode zero, no model choice', async () => {
    for (const [model, effort, mode] of [['glm-4', undefined, undefined], ['glm-4-think', undefined, 'zero'],
                                         ['glm-4', 'high', 'zero'], ['glm-4-zero', 'none', undefined]]) {
      const mark = await mock.mark();
      const req = { model, messages: user(PLAIN_PROMPT) };
      if (effort) req.reasoning_effort = effort;
      await old.client(newToken('era')).chat.completions.create(req);
      const [s] = await mock.requestsSince(mark, PATH_STREAM);
      const meta = s.json.meta_data;
      assert.deepEqual(Object.keys(s.json), ['assistant_id', 'conversation_id', 'messages', 'meta_data']);
      assert.equal(meta.if_plus_model, true);
      assert.equal(meta.chat_mode, mode, `${model} ${effort}`);
      assert.ok(!('selected_model' in meta) && !('reasoning_effort' in meta) && !('cogview' in meta));
    }
  });

  test('restores the 2025 upload (file_upload, not signed, the result as the item) and delete calls', async () => {
    const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
    const mark = await mock.mark();
    const c = await old.client(newToken('era-up')).chat.completions.create({
      model: 'glm-4', messages: [{ role: 'user', content: [{ type: 'text', text: PLAIN_PROMPT }, { type: 'image_url', image_url: { url: png } }] }],
    });
    const reqs = await mock.requestsSince(mark);
    const ups = reqs.filter((r) => r.path === PATH_UPLOAD_2025);
    assert.equal(ups.length, 1, 'one file_upload');
    assert.equal(reqs.filter((r) => r.path === PATH_CHAT_UPLOAD).length, 0, 'no chat_upload');
    assert.ok(!('x-sign' in ups[0].headers), 'file_upload is not signed');
    const [s] = reqs.filter((r) => r.path === PATH_STREAM);
    const item = s.json.messages[0].content[1].image[0];
    assert.equal(item.image_url, item.file_url, 'the 2025 item: the upload result with image_url');
    assert.ok('source_id' in item);
    const del = await waitFor(async () => (await mock.requestsSince(mark, PATH_DELETE_2025)).find((r) => r.json?.conversation_id === c.id));
    assert.deepEqual(del.json, { assistant_id: DEFAULT_ASSISTANT, conversation_id: c.id });
    assert.equal((await mock.requestsSince(mark, PATH_DELETE)).length, 0, 'no bulk_delete');
  });
});

test('glm-free-api exits cleanly on SIGTERM (exit 0, no sanitizer report)', async () => {
  assertCleanExit(await server.stop(), 'glm-free-api');
});

test('mock-chatglm exits cleanly on SIGTERM', async () => {
  assertCleanExit(await mock.stop(), 'mock-chatglm');
});
