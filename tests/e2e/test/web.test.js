// The web page at / (issue 19), in Debian's headless Chromium driven by
// puppeteer-core: chat (streamed, stopped), token check, accounts and
// figures, against the server and the mock on loopback. Every request the
// page makes is watched: one to another host, or a console error, fails.
// A screenshot of each state goes to $WEB_SCREENSHOTS (default build/web-screenshots).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';
import { REPO, WRAP, assertCleanExit, newToken, startMock, startServer, waitFor } from '../lib/harness.js';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.WEB_SCREENSHOTS || path.join(REPO, 'build/web-screenshots');
// Under valgrind (GLM_WRAP) everything is many times slower.
const T = WRAP.length ? 120000 : 30000;
const PAGE_MAX = 51200; // the page, its style sheet and its script, in bytes
const fp = (token) => createHash('sha256').update(token).digest('hex').slice(0, 6);

let mock, server, prefixed, browser;
// Pages a failed test left open (with a stream, say) are closed after it.
const pages = new Set();
afterEach(async () => {
  for (const p of pages) if (!p.isClosed()) await p.close().catch(() => {});
  pages.clear();
});

before(async () => {
  assert.ok(fs.existsSync(CHROMIUM),
            `${CHROMIUM} is missing: the web page tests need Debian's chromium ` +
            '(scripts/install-deps.sh --test installs it; CHROMIUM=<path> points elsewhere)');
  fs.mkdirSync(SHOTS, { recursive: true });
  mock = await startMock();
  server = await startServer(mock.url);
  prefixed = await startServer(mock.url, ['--url-prefix', '/glm']);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in CI: Chromium's sandbox needs user namespaces it may not have.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--lang=en-US',
           '--no-first-run', '--no-default-browser-check', '--disable-extensions'],
    protocolTimeout: T * 3,
    timeout: T,
  });
});

after(async () => {
  if (browser) await browser.close();
});

// A page of srv's with every request, console error and page error watched.
async function open(srv, { lang, viewport } = {}) {
  const page = await browser.newPage();
  pages.add(page);
  page.setDefaultTimeout(T);
  await page.setViewport(viewport || { width: 900, height: 800 });
  const seen = { foreign: [], errors: [], requests: [] };
  await page.setRequestInterception(true);
  page.on('request', (r) => {
    const u = r.url();
    seen.requests.push(`${r.method()} ${u}`);
    if (u.startsWith('data:') || u.startsWith(srv.base + '/')) {
      if (page.onRequest && page.onRequest(r)) return;
      r.continue();
    } else {
      seen.foreign.push(u);
      r.abort();
    }
  });
  page.on('console', (m) => { if (m.type() === 'error') seen.errors.push(m.text()); });
  page.on('pageerror', (e) => seen.errors.push(String(e)));
  if (lang) {
    await page.evaluateOnNewDocument((l) => {
      Object.defineProperty(navigator, 'languages', { get: () => [l] });
      Object.defineProperty(navigator, 'language', { get: () => l });
    }, lang);
  }
  await page.goto(srv.url + '/', { waitUntil: 'load' });
  page.seen = seen;
  return page;
}

function clean(page) {
  assert.deepEqual(page.seen.foreign, [], 'no request to another host');
  assert.deepEqual(page.seen.errors, [], 'no console error');
}

const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
const text = (page, sel) => page.$eval(sel, (e) => e.textContent);
const lastAnswer = '#log .msg.assistant:last-child';

async function chat(page, prompt) {
  const before = await page.$$eval('#log .msg.assistant', (l) => l.length);
  await page.type('#prompt', prompt);
  await page.click('#send');
  await page.waitForFunction((n) => document.querySelectorAll('#log .msg.assistant').length > n, {}, before);
}

async function api(srv, p, body, token) {
  const res = await fetch(srv.url + p, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const s = await res.text();
  let json = null;
  try { json = JSON.parse(s); } catch { /* not JSON */ }
  return { res, json, text: s };
}

describe('GET / and the page files', () => {
  test('a browser gets the page with a CSP that allows this server only; the files stay within 50 KB', async () => {
    let total = 0, all = '';
    for (const p of ['/', '/web/app.css', '/web/app.js']) {
      const res = await fetch(server.url + p, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
      assert.equal(res.status, 200, p);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /(^|; )default-src 'none'(;|$)/, `${p}: ${csp}`);
      for (const d of ['script-src', 'style-src', 'connect-src'])
        assert.match(csp, new RegExp(`(^|; )${d} 'self'(;|$)`), `${p}: ${d} is 'self' only`);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /https?:|\*|unsafe-inline|unsafe-eval/, `${p}: no other origin in ${csp}`);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      const bytes = Buffer.from(await res.arrayBuffer());
      total += bytes.length;
      all += bytes.toString('utf8');
    }
    assert.ok(total <= PAGE_MAX, `the page is ${total} bytes, over ${PAGE_MAX}`);
    assert.doesNotMatch(all, /https?:\/\//, 'no absolute URL in the page, its style or its script');
  });

  test('other clients get the short welcome text at /, as before, and the JSON routes are unchanged', async () => {
    for (const accept of [undefined, 'application/json', '*/*']) {
      const res = await fetch(server.url + '/', { headers: accept ? { accept } : {} });
      const body = await res.text();
      assert.equal(res.status, 200);
      assert.match(body, /It is running/, `Accept ${accept}`);
      assert.equal(res.headers.get('content-security-policy'), null);
      assert.equal(res.headers.get('vary'), 'Accept');
    }
    const m = await api(server, '/v1/models');
    assert.equal(m.res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(m.json.object, 'list');
  });

  test('both READMEs show the page and say how to reach it', () => {
    const png = fs.readFileSync(path.join(REPO, 'docs/web-page.png'));
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.ok(png.length < 200 * 1024, `docs/web-page.png is ${png.length} bytes`);
    for (const f of ['README.md', 'README.zh-CN.md']) {
      const md = fs.readFileSync(path.join(REPO, f), 'utf8');
      assert.match(md, /!\[[^\]]*\]\(docs\/web-page\.png\)/, `${f} shows the screenshot`);
      assert.ok(md.includes('http://127.0.0.1:8000/>'), `${f} gives the page's address`);
    }
  });

  test('under --url-prefix the page and its files are served there and point there', async () => {
    const res = await fetch(prefixed.url + '/', { headers: { accept: 'text/html' } });
    const html = await res.text();
    assert.equal(res.status, 200);
    assert.match(html, /src="\/glm\/web\/app\.js"/);
    assert.match(html, /href="\/glm\/web\/app\.css"/);
    assert.match(html, /data-prefix="\/glm"/);
    assert.equal((await fetch(prefixed.url + '/web/app.js')).status, 200);
    assert.equal((await fetch(prefixed.base + '/web/app.js')).status, 404, 'not outside the prefix');
    const page = await open(prefixed);
    await page.waitForFunction(() => document.querySelectorAll('#model option').length > 0);
    assert.equal(await text(page, '#baseurl'), `${prefixed.url}/v1`);
    clean(page);
    await page.close();
  });
});

describe('the page in Chromium', () => {
  const token = newToken('web');

  test('try it: pick a model, send a prompt, see the streamed answer with its reasoning', async () => {
    const page = await open(server);
    await page.type('#key', token);
    await page.waitForFunction(() => [...document.querySelectorAll('#model option')].some((o) => o.value === 'glm-4-think'));
    await page.select('#model', 'glm-4-think');
    await chat(page, 'hello there');
    await page.waitForSelector(`${lastAnswer}[data-state="done"]`);
    const upstream = async () => (await mock.requests()).filter((r) => r.path.endsWith('/assistant/stream')).pop().json;
    // What the model name turns into upstream (assistant, mode, model, effort).
    const choice = (j) => JSON.stringify([j.assistant_id, j.meta_data?.chat_mode, j.selected_model ?? j.meta_data?.selected_model,
                                          j.reasoning_effort ?? j.meta_data?.reasoning_effort]);
    const sent = choice(await upstream());
    // The same question through the API, not streamed: the same answer.
    const want = await api(server, '/v1/chat/completions',
                           { model: 'glm-4-think', messages: [{ role: 'user', content: 'hello there' }] }, token);
    assert.equal(want.res.status, 200, want.text);
    const msg = want.json.choices[0].message;
    assert.ok(msg.content.length > 0 && msg.reasoning_content.length > 0);
    assert.equal(await text(page, `${lastAnswer} .answer`), msg.content);
    assert.equal(await text(page, `${lastAnswer} .think`), msg.reasoning_content);
    assert.equal(await page.$eval(`${lastAnswer} details`, (d) => !d.hidden && !d.open), true,
                 'the reasoning is folded above the answer');
    assert.equal(sent, choice(await upstream()), 'the model picked went upstream');
    await shot(page, '1-chat-answer');
    // The key is not stored unless asked.
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    clean(page);
    await page.close();
  });

  test('try it: search citations are listed, drawn images shown as links (nothing loaded from elsewhere)', async () => {
    const page = await open(server);
    await page.type('#key', token);
    await chat(page, '搜索今天的天气');
    await page.waitForSelector(`${lastAnswer}[data-state="done"]`);
    const sources = await page.$$eval(`${lastAnswer} .sources a`, (l) => l.map((a) => a.href));
    assert.ok(sources.length >= 1, 'citations');
    assert.ok(sources.every((u) => /^https?:\/\//.test(u)));
    await chat(page, '画一只猫');
    await page.waitForSelector(`${lastAnswer}[data-state="done"]`);
    const images = await page.$$eval(`${lastAnswer} .images a`, (l) => l.map((a) => a.href));
    assert.ok(images.length >= 1 && images.every((u) => /\.png$/.test(u)), JSON.stringify(images));
    assert.doesNotMatch(await text(page, `${lastAnswer} .answer`), /!\[/, 'no markdown left over');
    await shot(page, '2-chat-search-drawing');
    clean(page);
    await page.close();
  });

  test('try it: stop cancels a long answer, and the server cancels the upstream', async () => {
    const page = await open(server);
    await page.type('#key', newToken('stop')); // an account of its own: its stream stays open
    // The mock sends the start of the answer, then holds the stream open until the client leaves.
    await chat(page, '[[scenario:stall-mid]] go on');
    await page.waitForFunction((s) => document.querySelector(s).textContent.includes('智谱清言'), {}, `${lastAnswer} .answer`);
    assert.equal(await page.$eval(lastAnswer, (e) => e.dataset.state), 'streaming');
    assert.ok(await waitFor(async () => (await mock.stats()).streams_open >= 1, T), 'the upstream stream is open');
    await shot(page, '3-chat-streaming');
    await page.click('#stop');
    await page.waitForSelector(`${lastAnswer}[data-state="stopped"]`);
    const closed = await waitFor(async () => (await mock.stats()).streams_open === 0, T);
    assert.ok(closed, 'the mock saw the upstream request cancelled');
    assert.equal(await page.$eval('#send', (b) => b.disabled), false, 'ready for the next question');
    await shot(page, '4-chat-stopped');
    clean(page);
    await page.close();
  });

  test('try it: tool calls in the deltas are shown as tool calls', async () => {
    const page = await open(server);
    await page.type('#key', token);
    const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'glm-4', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    // The stream of an OpenAI tool call, answered in the page's place.
    page.onRequest = (r) => {
      if (!r.url().endsWith('/v1/chat/completions')) return false;
      r.respond({
        status: 200, contentType: 'text/event-stream',
        body: chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }) +
              chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }) +
              chunk({ tool_calls: [{ index: 0, function: { arguments: '"Beijing"}' } }] }) +
              chunk({}, 'tool_calls') + 'data: [DONE]\n\n',
      });
      return true;
    };
    await chat(page, 'weather?');
    await page.waitForSelector(`${lastAnswer}[data-state="done"]`);
    assert.equal(await text(page, `${lastAnswer} .tool`), 'Tool call: get_weather({"city":"Beijing"})');
    assert.match(await text(page, `${lastAnswer} .meta`), /tool_calls/);

    // Through the server: the request gets a tool list on its way (the page
    // has no field for one), the model writes a call, the server streams it
    // as tool_calls deltas.
    const name = `web${Date.now()}`;
    await mock.call('POST', '/_mock/script', { name, replies: [{ text: '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>', chunk: 7 }] });
    page.onRequest = (r) => {
      if (!r.url().endsWith('/v1/chat/completions')) return false;
      const body = JSON.parse(r.postData());
      body.tools = [{ type: 'function', function: { name: 'get_weather', description: 'The weather of a city',
                      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
      r.continue({ postData: JSON.stringify(body) });
      return true;
    };
    await page.click('#clear');
    await chat(page, `[[script:${name}]] the weather in Paris?`);
    await page.waitForSelector(`${lastAnswer}[data-state="done"]`);
    assert.equal(await text(page, `${lastAnswer} .tool`), 'Tool call: get_weather({"city":"Paris"})');
    assert.match(await text(page, `${lastAnswer} .meta`), /tool_calls/);
    await shot(page, '4b-chat-tool-call');
    clean(page);
    await page.close();
  });

  test('check a token: live, dead and guest, each in words with what to do', async () => {
    const guest = newToken('guest');
    await mock.tokens(guest, 'guest');
    const page = await open(server);
    await page.click('[data-tab="check"]');
    const cases = [[newToken('live'), 'live', /^Live$/], [`dead-${newToken('x')}`, 'dead', /^Dead$/], [guest, 'guest', /^Guest$/]];
    for (const [tok, verdict, head] of cases) {
      await page.$eval('#token', (e) => { e.value = ''; });
      await page.type('#token', tok);
      await page.click('#checkbtn');
      await page.waitForSelector(`#verdict[data-verdict="${verdict}"]`);
      assert.match(await text(page, '#verdict h3'), head);
      const words = await text(page, '#verdict');
      assert.ok(!words.includes(tok), 'the token is not echoed');
      if (verdict !== 'live') assert.match(words, /chatglm_refresh_token/, 'says what to do next');
      await shot(page, `5-check-${verdict}`);
    }
    clean(page);
    await page.close();
  });

  test('accounts: the table shows a busy and a dead account, and the figures are drawn', async () => {
    const busy = newToken('busy');
    const dead = newToken('dead');
    const ask = (tok) => api(server, '/v1/chat/completions', { model: 'glm-4', messages: [{ role: 'user', content: 'hi' }] }, tok);
    assert.equal((await ask(dead)).res.status, 200);
    await mock.tokens(dead, 'dead');
    assert.equal((await api(server, '/token/check', { token: dead })).json.live, false);
    await mock.tokens(busy, 'busy');
    const b = await ask(busy);
    assert.equal(b.res.status, 429, b.text);

    const page = await open(server);
    await page.type('#key', token);
    await page.click('[data-tab="accounts"]');
    await page.waitForFunction((a, c) => {
      const ids = [...document.querySelectorAll('#acc tbody code')].map((e) => e.textContent);
      return ids.includes(a) && ids.includes(c);
    }, {}, fp(busy), fp(dead));
    const rows = await page.$$eval('#acc tbody tr', (l) => l.map((tr) => ({
      id: tr.querySelector('code')?.textContent, state: tr.dataset.state, text: tr.textContent,
      cells: [...tr.children].map((td) => td.textContent),
    })));
    const head = await page.$$eval('#acc thead th', (l) => l.map((th) => th.textContent));
    assert.deepEqual(head.slice(0, 5), ['Account', 'State', 'In flight', 'Successes', 'Failures']);
    const d = rows.find((r) => r.id === fp(dead));
    assert.equal(d.state, 'dead');
    assert.match(d.text, /dead/);
    assert.match(d.text, /token check/, 'with the reason');
    const bz = rows.find((r) => r.id === fp(busy));
    assert.ok(['cooling', 'ok'].includes(bz.state), bz.state);
    assert.match(bz.cells[1], /busy|10061/, 'the state says why');
    if (bz.state === 'cooling') assert.match(bz.cells[1], /^cooling/);
    // The figures: two samples make a rate; the answers of this file show.
    await page.waitForFunction(() => /^\d/.test(document.getElementById('v-queue').textContent));
    await page.waitForFunction(() => /^\d/.test(document.getElementById('v-apm').textContent), { timeout: T + 10000 });
    const drawn = await page.$eval('#c-apm', (c) => c.width > 0 && c.toDataURL().length > 200);
    assert.ok(drawn, 'the chart is drawn');
    assert.match(await text(page, '#accupdated'), /^Updated /);
    await shot(page, '6-accounts');
    clean(page);
    await page.close();
  });

  test('accounts: fields a later server adds (cooling time, cause, quota) show, missing ones do not break the table', async () => {
    const page = await open(server);
    let answer = { status: 200, body: { object: 'list', data: [
      { id: 'aaaaaa', state: 'cooling', reason: 'chatglm.cn says the account is busy', cause: 'busy', cooling_left: 4.2,
        since: 1, in_flight: 0, last_used: 0, successes: 3, failures: 1, configured: true, token_left_percent: 42, shiny: 'new' },
      { id: 'bbbbbb', state: 'dead', reason: 'refresh refused', recheck_in: 1800 },
      { id: 'cccccc' },
    ] } };
    page.onRequest = (r) => {
      if (!r.url().endsWith('/v1/accounts')) return false;
      r.respond({ status: answer.status, contentType: 'application/json', body: JSON.stringify(answer.body) });
      return true;
    };
    await page.click('[data-tab="accounts"]');
    await page.waitForSelector('#acc[data-count="3"]');
    const head = await page.$$eval('#acc thead th', (l) => l.map((th) => th.textContent));
    assert.deepEqual(head, ['Account', 'State', 'In flight', 'Successes', 'Failures', 'Quota', 'Last used', 'More']);
    const rows = await page.$$eval('#acc tbody tr', (l) => l.map((tr) => [...tr.children].map((td) => td.textContent)));
    assert.match(rows[0][1], /^cooling · 5 s left/);
    assert.match(rows[0][1], /busy: chatglm\.cn says the account is busy/);
    assert.equal(rows[0][5], '42');
    assert.equal(rows[0][7], 'shiny: new');
    assert.match(rows[1][1], /^dead · re-checked in 30 min/);
    assert.equal(rows[2][0], 'cccccc');
    // Without the key the server would refuse: the page says what to do.
    answer = { status: 401, body: { error: { message: 'the account list needs one of this server\'s API keys' } } };
    await page.waitForSelector('#accnote:not([hidden])', { timeout: T + 10000 });
    assert.match(await text(page, '#accnote'), /API keys/);
    assert.deepEqual(page.seen.foreign, []);
    assert.deepEqual(page.seen.errors.filter((e) => !/status of 401/.test(e)), [], 'no console error but the 401 itself');
    await page.close();
  });

  test('the key is kept in local storage only when asked; Chinese for a Chinese browser; fits a phone', async () => {
    let page = await open(server);
    await page.type('#key', 'sk-kept');
    await page.click('#remember');
    assert.equal(await page.evaluate(() => localStorage.getItem('glm-free-api.key')), 'sk-kept');
    await page.reload({ waitUntil: 'load' });
    assert.equal(await page.$eval('#key', (e) => e.value), 'sk-kept');
    await page.click('#remember');
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'unticked: forgotten');
    clean(page);
    await page.close();

    page = await open(server, { lang: 'zh-CN', viewport: { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 2 } });
    assert.equal(await text(page, '[data-tab="chat"]'), '试用');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    await page.type('#key', token);
    await chat(page, '你好');
    await page.waitForSelector(`${lastAnswer}[data-state="done"]`);
    assert.match(await text(page, `${lastAnswer} .meta`), /^完成/);
    const fits = await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    assert.ok(fits, 'no sideways scrolling on a phone');
    await shot(page, '7-phone-zh');
    clean(page);
    await page.close();
  });
});

test('the servers and the mock exit cleanly on SIGTERM', { timeout: T * 2 }, async () => {
  if (browser) { await browser.close(); browser = null; }
  assertCleanExit(await server.stop(), 'glm-free-api');
  assertCleanExit(await prefixed.stop(), 'glm-free-api --url-prefix');
  assertCleanExit(await mock.stop(), 'mock-chatglm');
});
