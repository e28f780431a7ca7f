// glm-free-api's page: try a model, check a token, watch the accounts.
// Plain JavaScript, no library; it talks to this server only (the page's
// Content-Security-Policy allows nothing else).
'use strict';
(function () {
  var P = document.documentElement.getAttribute('data-prefix') || '';
  var $ = function (id) { return document.getElementById(id); };
  var STORE = 'glm-free-api.key';

  // ---- text, English and Chinese ------------------------------------------
  var T = {
    en: {
      tabChat: 'Try it', tabCheck: 'Check a token', tabAccounts: 'Accounts',
      keyLabel: 'Token or API key', keyHint: "chatglm_refresh_token, or this server's API key",
      remember: 'Remember in this browser', keyNote: 'Sent only to this server, as the Authorization header.',
      model: 'Model', newChat: 'New chat', promptHint: 'Ask something (Ctrl+Enter sends)',
      send: 'Send', stop: 'Stop', streaming: 'answering…', done: 'done', stopped: 'stopped',
      failed: 'failed', reasoning: 'Reasoning', toolCall: 'Tool call', images: 'Image',
      sources: 'Sources', noKey: 'Put a token (or this server\'s API key) in the field at the top first.',
      modelsFailed: 'Could not load the models: {0}', finish: 'finish: {0}',
      checkIntro: 'Paste a chatglm_refresh_token: this server asks chatglm.cn whether it still works.',
      check: 'Check', checking: 'Checking…', tokenEmpty: 'Paste a token first.',
      vLive: 'Live', vLiveDo: 'chatglm.cn accepted this token. Use it as the API key of any OpenAI client (several accounts: token1,token2), or try it on the first tab.',
      vDead: 'Dead', vDeadDo: 'chatglm.cn refused this token: it was revoked or has expired. Log in to chatglm.cn in a browser and copy a fresh chatglm_refresh_token cookie (developer tools → Application → Cookies).',
      vGuest: 'Guest', vGuestDo: 'This is a visitor\'s token, not a logged-in account: it has a small quota. Log in to chatglm.cn and copy the chatglm_refresh_token of your account.',
      vError: 'Could not check', vErrorDo: 'The site did not answer as expected; try again in a moment.',
      vKey: 'This server has API keys: put one in the field at the top first.',
      site: 'The server says: {0}',
      chartApm: 'Answers per minute', chartErr: 'Errors per minute', chartQueue: 'Queue length',
      accKey: 'The account list needs one of this server\'s API keys: put it in the field at the top.',
      accLoopback: 'Without API keys the account list is shown only on the server\'s own machine (loopback). Open this page there, or set api-keys.',
      accNone: 'No account yet: the pool fills as tokens are used.', accFailed: 'Could not load the accounts: {0}',
      metricsKey: '/metrics needs an API key (or metrics-public = true).',
      updated: 'Updated {0}; refreshed every few seconds.',
      cAccount: 'Account', cState: 'State', cFlight: 'In flight', cOk: 'Successes', cFail: 'Failures',
      cQuota: 'Quota', cUsed: 'Last used', cMore: 'More', configured: 'configured',
      ok: 'ok', cooling: 'cooling', dead: 'dead', left: '{0} left', recheck: 're-checked in {0}', ago: '{0} ago', never: 'never',
      footer: 'An OpenAI-compatible API for chatglm.cn. Base URL for clients:'
    },
    zh: {
      tabChat: '试用', tabCheck: '检查令牌', tabAccounts: '账号',
      keyLabel: '令牌或 API 密钥', keyHint: 'chatglm_refresh_token，或本服务的 API 密钥',
      remember: '在本浏览器中记住', keyNote: '只发送给本服务（Authorization 请求头）。',
      model: '模型', newChat: '新对话', promptHint: '输入问题（Ctrl+Enter 发送）',
      send: '发送', stop: '停止', streaming: '回答中…', done: '完成', stopped: '已停止',
      failed: '失败', reasoning: '思考过程', toolCall: '工具调用', images: '图片',
      sources: '来源', noKey: '请先在顶部填写令牌（或本服务的 API 密钥）。',
      modelsFailed: '无法加载模型列表：{0}', finish: '结束原因：{0}',
      checkIntro: '粘贴 chatglm_refresh_token：本服务会向 chatglm.cn 询问它是否仍然有效。',
      check: '检查', checking: '检查中…', tokenEmpty: '请先粘贴令牌。',
      vLive: '有效', vLiveDo: 'chatglm.cn 接受了这个令牌。可把它作为任何 OpenAI 客户端的 API 密钥（多个账号：token1,token2），或在“试用”页试一试。',
      vDead: '已失效', vDeadDo: 'chatglm.cn 拒绝了这个令牌：它已被注销或过期。请在浏览器中登录 chatglm.cn，重新复制 chatglm_refresh_token Cookie（开发者工具 → 应用 → Cookie）。',
      vGuest: '访客', vGuestDo: '这是访客令牌，不是已登录的账号，额度很小。请登录 chatglm.cn 后复制你账号的 chatglm_refresh_token。',
      vError: '无法检查', vErrorDo: '网站的回答不符合预期，请稍后再试。',
      vKey: '本服务设置了 API 密钥：请先在顶部填写。',
      site: '服务返回：{0}',
      chartApm: '每分钟回答数', chartErr: '每分钟错误数', chartQueue: '排队长度',
      accKey: '账号列表需要本服务的 API 密钥：请在顶部填写。',
      accLoopback: '未设置 API 密钥时，账号列表只对本机（回环地址）开放。请在服务器本机打开本页，或设置 api-keys。',
      accNone: '还没有账号：使用令牌后账号池会逐渐填充。', accFailed: '无法加载账号：{0}',
      metricsKey: '/metrics 需要 API 密钥（或设置 metrics-public = true）。',
      updated: '更新于 {0}，每隔几秒自动刷新。',
      cAccount: '账号', cState: '状态', cFlight: '进行中', cOk: '成功', cFail: '失败',
      cQuota: '额度', cUsed: '最近使用', cMore: '其他', configured: '配置文件',
      ok: '正常', cooling: '冷却中', dead: '已失效', left: '剩余 {0}', recheck: '{0}后重新检查', ago: '{0}前', never: '从未',
      footer: 'chatglm.cn 的 OpenAI 兼容接口。客户端的 Base URL：'
    }
  };
  var langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
  var lang = /^zh/i.test(langs[0] || '') ? 'zh' : 'en';
  function t(k, a) {
    var s = T[lang][k] !== undefined ? T[lang][k] : T.en[k];
    return a === undefined ? s : s.replace(/\{0\}/g, a);
  }
  function each(sel, fn) { Array.prototype.forEach.call(document.querySelectorAll(sel), fn); }
  function applyLang() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    each('[data-t]', function (e) { e.textContent = t(e.getAttribute('data-t')); });
    each('[data-tp]', function (e) { e.placeholder = t(e.getAttribute('data-tp')); });
    $('lang').textContent = lang === 'zh' ? 'English' : '中文';
    if (lastVerdict) showVerdict.apply(null, lastVerdict);
    if (lastAccounts) drawAccounts(lastAccounts);
  }

  // el('tag', {attr: v}, child...) with text children as text nodes (never HTML).
  function el(tag, attrs) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  function duration(s) {
    s = Math.max(0, Math.ceil(s));
    if (s < 120) return s + ' s';
    if (s < 7200) return Math.round(s / 60) + ' min';
    return Math.round(s / 3600) + ' h';
  }

  // ---- the key field --------------------------------------------------------
  var key = $('key'), remember = $('remember');
  function saveKey() {
    try {
      if (remember.checked && key.value) localStorage.setItem(STORE, key.value);
      else localStorage.removeItem(STORE);
    } catch (e) { /* storage off: nothing kept */ }
  }
  try {
    var saved = localStorage.getItem(STORE);
    if (saved) { key.value = saved; remember.checked = true; }
  } catch (e) { /* storage off */ }
  key.addEventListener('input', saveKey);
  remember.addEventListener('change', saveKey);
  function headers(json) {
    var h = {};
    var k = key.value.trim();
    if (k) h.Authorization = 'Bearer ' + k;
    if (json) h['Content-Type'] = 'application/json';
    return h;
  }
  // fetch + JSON: resolves {status, json} (json null when the body is not JSON).
  function call(method, path, body) {
    return fetch(P + path, {
      method: method, headers: headers(body !== undefined), cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (s) {
        var j = null;
        try { j = JSON.parse(s); } catch (e) { /* not JSON */ }
        return { status: r.status, json: j, text: s };
      });
    });
  }
  function errText(r) {
    return r.json && r.json.error && r.json.error.message ? r.json.error.message : 'HTTP ' + r.status;
  }

  // ---- tabs -------------------------------------------------------------------
  var current = '';
  function show(tab) {
    if (!$('tab-' + tab)) tab = 'chat';
    current = tab;
    each('#tabs button', function (b) { b.setAttribute('aria-selected', b.getAttribute('data-tab') === tab); });
    each('.tab', function (s) { s.hidden = s.id !== 'tab-' + tab; });
    if (location.hash !== '#' + tab) history.replaceState(null, '', '#' + tab);
    if (tab === 'accounts') poll();
  }
  each('#tabs button', function (b) {
    b.addEventListener('click', function () { show(b.getAttribute('data-tab')); });
  });

  // ---- try it: models and the chat -------------------------------------------
  var model = $('model'), log = $('log'), promptBox = $('prompt');
  var sendBtn = $('send'), stopBtn = $('stop'), state = $('chatstate');
  var messages = [], ctl = null;

  function loadModels() {
    call('GET', '/v1/models').then(function (r) {
      if (r.status !== 200 || !r.json || !Array.isArray(r.json.data)) throw new Error(errText(r));
      var want = model.value || 'glm-4';
      model.textContent = '';
      r.json.data.forEach(function (m) { model.appendChild(el('option', { value: m.id }, m.id)); });
      if (r.json.data.some(function (m) { return m.id === want; })) model.value = want;
    }).catch(function (e) { state.textContent = t('modelsFailed', e.message); });
  }

  // Links in the answer: markdown images and links, and bare http(s) URLs.
  var LINK = /!\[([^\]]*)\]\(([^)\s]+)\)|\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)|(https?:\/\/[^\s)）\]>"]+)/g;
  function safeUrl(u) { return /^https?:\/\//i.test(u) ? u : null; }
  function sameOrigin(u) { return u.indexOf('data:image/') === 0 || u.indexOf(location.origin + '/') === 0; }

  function renderAnswer(m) {
    var text = m.content, box = m.answer, images = [], sources = [], seen = {};
    box.textContent = '';
    var at = 0, x;
    LINK.lastIndex = 0;
    while ((x = LINK.exec(text))) {
      if (x.index > at) box.appendChild(document.createTextNode(text.slice(at, x.index)));
      at = LINK.lastIndex;
      if (x[2] !== undefined) {
        images.push({ alt: x[1], url: x[2] });
        if (text[at] === '\n') at++;
        continue;
      }
      var url = safeUrl(x[4] || x[5]);
      if (!url) { box.appendChild(document.createTextNode(x[0])); continue; }
      box.appendChild(el('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, x[3] || url));
      if (!seen[url]) {
        seen[url] = 1;
        // "检索 title(url)": the search results the site cites.
        var line = text.slice(text.lastIndexOf('\n', x.index) + 1, x.index);
        var title = x[3] || line.replace(/^\s*(检索|搜索|Search(ed)?)\s*/i, '').replace(/[(（]\s*$/, '').trim();
        sources.push({ url: url, title: title || url });
      }
    }
    if (at < text.length) box.appendChild(document.createTextNode(text.slice(at)));

    m.images.textContent = '';
    images.forEach(function (im, i) {
      var label = t('images') + ' ' + (i + 1) + (im.alt ? ': ' + im.alt : '');
      // Pictures on another host are links: the page loads nothing from elsewhere.
      if (sameOrigin(im.url)) m.images.appendChild(el('img', { src: im.url, alt: label }));
      else if (safeUrl(im.url)) m.images.appendChild(el('a', { href: im.url, target: '_blank', rel: 'noopener noreferrer', class: 'image' }, label + ' ↗'));
    });
    m.sources.textContent = '';
    m.sources.hidden = !sources.length;
    sources.forEach(function (s) {
      m.sources.appendChild(el('li', null, el('a', { href: s.url, target: '_blank', rel: 'noopener noreferrer' }, s.title)));
    });
  }

  function render(m) {
    var atEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 60;
    m.timer = 0;
    m.details.hidden = !m.reasoning;
    m.think.textContent = m.reasoning;
    m.summary.textContent = t('reasoning') + (m.reasoning ? ' (' + m.reasoning.length + ')' : '');
    renderAnswer(m);
    m.tools.textContent = '';
    m.toolCalls.forEach(function (c) {
      if (c) m.tools.appendChild(el('div', { class: 'tool' }, el('b', null, t('toolCall') + ': ' + (c.name || '?')), '(' + c.args + ')'));
    });
    m.meta.textContent = m.state === 'streaming' ? t('streaming')
      : t(m.state) + (m.finish ? ' · ' + t('finish', m.finish) : '') + (m.error ? ' · ' + m.error : '');
    m.meta.className = 'meta' + (m.state === 'failed' ? ' error' : '');
    m.el.setAttribute('data-state', m.state);
    if (atEnd) window.scrollTo(0, document.body.scrollHeight);
  }
  function later(m) { if (!m.timer) m.timer = setTimeout(function () { render(m); }, 50); }

  function newAnswer() {
    var m = { content: '', reasoning: '', toolCalls: [], state: 'streaming', finish: '', error: '', timer: 0 };
    m.summary = el('summary');
    m.think = el('div', { class: 'think' });
    m.details = el('details', { class: 'reasoning' }, m.summary, m.think);
    m.answer = el('div', { class: 'answer' });
    m.tools = el('div', { class: 'tools' });
    m.images = el('div', { class: 'images' });
    m.sources = el('ol', { class: 'sources' });
    m.meta = el('div', { class: 'meta' });
    m.el = el('div', { class: 'msg assistant' }, m.details, m.answer, m.tools, m.images, m.sources, m.meta);
    log.appendChild(m.el);
    render(m);
    return m;
  }

  function onChunk(m, j) {
    if (j.error) throw new Error(j.error.message || 'error');
    var c = j.choices && j.choices[0];
    if (!c) return;
    var d = c.delta || c.message || {};
    if (typeof d.reasoning_content === 'string') m.reasoning += d.reasoning_content;
    if (typeof d.content === 'string') m.content += d.content;
    (d.tool_calls || []).forEach(function (tc, n) {
      var i = typeof tc.index === 'number' ? tc.index : n;
      var call_ = m.toolCalls[i] || (m.toolCalls[i] = { name: '', args: '' });
      if (tc.function && tc.function.name) call_.name = tc.function.name;
      if (tc.function && typeof tc.function.arguments === 'string') call_.args += tc.function.arguments;
    });
    if (c.finish_reason) m.finish = c.finish_reason;
    later(m);
  }

  // Reads an event stream; calls on(json) for each data line. Resolves at [DONE] or the end.
  function readStream(body, on) {
    var reader = body.getReader(), dec = new TextDecoder(), buf = '';
    function pump() {
      return reader.read().then(function (x) {
        if (x.done) return;
        buf += dec.decode(x.value, { stream: true });
        var i;
        while ((i = buf.indexOf('\n')) >= 0) {
          var line = buf.slice(0, i).replace(/\r$/, '');
          buf = buf.slice(i + 1);
          if (line.indexOf('data:') !== 0) continue;
          var data = line.slice(5).trim();
          if (data === '[DONE]') { reader.cancel().catch(function () {}); return; }
          var j;
          try { j = JSON.parse(data); } catch (e) { continue; }
          on(j);
        }
        return pump();
      });
    }
    return pump();
  }

  function busy(on) {
    sendBtn.disabled = on;
    stopBtn.disabled = !on;
    state.textContent = on ? t('streaming') : '';
  }

  function send() {
    var text = promptBox.value.trim();
    if (!text || ctl) return;
    if (!key.value.trim()) { state.textContent = t('noKey'); key.focus(); return; }
    messages.push({ role: 'user', content: text });
    log.appendChild(el('div', { class: 'msg user' }, text));
    promptBox.value = '';
    var m = newAnswer();
    var c = ctl = new AbortController();
    busy(true);
    fetch(P + '/v1/chat/completions', {
      method: 'POST', headers: headers(true), signal: c.signal, cache: 'no-store',
      body: JSON.stringify({ model: model.value || 'glm-4', messages: messages, stream: true })
    }).then(function (r) {
      if (r.ok) return readStream(r.body, function (j) { onChunk(m, j); });
      return r.text().then(function (s) {
        var j = null;
        try { j = JSON.parse(s); } catch (e) { /* not JSON */ }
        throw new Error(errText({ status: r.status, json: j }));
      });
    }).then(function () {
      m.state = 'done';
    }, function (e) {
      if (c.signal.aborted) m.state = 'stopped';
      else { m.state = 'failed'; m.error = e.message; }
    }).then(function () {
      clearTimeout(m.timer);
      render(m);
      if (m.content) messages.push({ role: 'assistant', content: m.content });
      else if (m.state === 'failed') messages.pop();
      if (ctl === c) { ctl = null; busy(false); }
    });
  }
  sendBtn.addEventListener('click', send);
  stopBtn.addEventListener('click', function () { if (ctl) ctl.abort(); });
  promptBox.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(); }
  });
  $('clear').addEventListener('click', function () {
    if (ctl) ctl.abort();
    messages = [];
    log.textContent = '';
  });

  // ---- check a token ------------------------------------------------------------
  var verdict = $('verdict'), lastVerdict = null;
  function showVerdict(kind, detail) {
    lastVerdict = [kind, detail];
    var head = { live: 'vLive', dead: 'vDead', guest: 'vGuest', error: 'vError', key: 'vError', busy: 'checking' }[kind];
    var todo = { live: 'vLiveDo', dead: 'vDeadDo', guest: 'vGuestDo', error: 'vErrorDo', key: 'vKey' }[kind];
    verdict.hidden = false;
    verdict.setAttribute('data-verdict', kind);
    verdict.textContent = '';
    verdict.appendChild(el('h3', null, t(head)));
    if (todo) verdict.appendChild(el('p', null, t(todo)));
    // The server's own words where they add something (they are in English).
    if (detail && kind !== 'live' && kind !== 'guest') verdict.appendChild(el('p', { class: 'muted' }, t('site', detail)));
  }
  function check() {
    var tok = $('token').value.trim();
    if (!tok) { showVerdict('error', t('tokenEmpty')); return; }
    showVerdict('busy');
    $('checkbtn').disabled = true;
    call('POST', '/token/check', { token: tok }).then(function (r) {
      var j = r.json;
      if (r.status === 200 && j && typeof j.live === 'boolean')
        showVerdict(j.guest ? 'guest' : j.live ? 'live' : 'dead', j.reason);
      else if (r.status === 401) showVerdict('key', errText(r));
      else showVerdict('error', errText(r));
    }).catch(function (e) { showVerdict('error', e.message); })
      .then(function () { $('checkbtn').disabled = false; });
  }
  $('checkbtn').addEventListener('click', check);

  // ---- accounts and figures ----------------------------------------------------
  var lastAccounts = null, pollTimer = 0, samples = [];
  var KNOWN = { id: 1, state: 1, reason: 1, cause: 1, cooling_left: 1, recheck_in: 1, in_flight: 1, successes: 1,
    failures: 1, last_used: 1, since: 1, configured: 1 };
  var isQuota = function (k) { return /quota|left_percent|remaining|balance/i.test(k); };
  // Seconds of cooling left, from whichever field the server gives.
  function coolingLeft(a, now) {
    for (var k in a) {
      var v = a[k];
      if (typeof v !== 'number' || isQuota(k)) continue;
      if (/left|retry_after|cooldown/i.test(k)) return v;
      if (/until|_at$|wake/i.test(k) && v > 1e9) return (v > 1e12 ? v / 1000 : v) - now;
    }
    return null;
  }
  function show1(v) { return v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v); }

  function drawAccounts(list) {
    var now = Date.now() / 1000;
    var head = $('acc').tHead, body = $('acc').tBodies[0];
    head.textContent = '';
    body.textContent = '';
    $('acc').setAttribute('data-count', list.length);
    var quota = list.some(function (a) { return Object.keys(a).some(isQuota); });
    var more = list.some(function (a) { return Object.keys(a).some(function (k) { return !KNOWN[k] && !isQuota(k); }); });
    var cols = [['cAccount'], ['cState'], ['cFlight', 'n'], ['cOk', 'n'], ['cFail', 'n']];
    if (quota) cols.push(['cQuota']);
    cols.push(['cUsed']);
    if (more) cols.push(['cMore']);
    head.appendChild(el.apply(null, ['tr', null].concat(cols.map(function (c) { return el('th', { class: c[1] }, t(c[0])); }))));
    if (!list.length) { body.appendChild(el('tr', null, el('td', { colspan: cols.length, class: 'muted' }, t('accNone')))); return; }
    list.forEach(function (a) {
      var st = String(a.state || '?');
      var left = st === 'cooling' ? coolingLeft(a, now) : null;
      var cause = a.cause && a.cause !== 'new' && a.cause !== st ? a.cause : '';
      var why = (cause ? cause + (a.reason && a.reason !== st ? ': ' : '') : '') + (a.reason && a.reason !== st ? a.reason : '');
      var stateCell = el('td', null, el('span', { class: 'state ' + st }, T.en[st] ? t(st) : st),
        left !== null && left > 0 ? ' · ' + t('left', duration(left)) : null,
        st === 'dead' && a.recheck_in > 0 ? ' · ' + t('recheck', duration(a.recheck_in)) : null,
        why ? el('div', { class: 'muted' }, why) : null);
      var row = [el('td', null, el('code', null, show1(a.id)), a.configured ? el('div', { class: 'muted' }, t('configured')) : null), stateCell,
        el('td', { class: 'n' }, show1(a.in_flight)), el('td', { class: 'n' }, show1(a.successes)), el('td', { class: 'n' }, show1(a.failures))];
      if (quota) row.push(el('td', null, Object.keys(a).filter(isQuota).map(function (k) { return show1(a[k]); }).join(' · ')));
      row.push(el('td', null, a.last_used ? t('ago', duration(now - a.last_used)) : t('never')));
      if (more) row.push(el('td', { class: 'muted' }, Object.keys(a).filter(function (k) { return !KNOWN[k] && !isQuota(k); })
        .map(function (k) { return k + ': ' + show1(a[k]); }).join('; ')));
      body.appendChild(el.apply(null, ['tr', { 'data-state': st }].concat(row)));
    });
  }
  function note(id, text) { $(id).hidden = !text; $(id).textContent = text || ''; }

  function loadAccounts() {
    return call('GET', '/v1/accounts').then(function (r) {
      if (r.status === 200 && r.json && Array.isArray(r.json.data)) {
        note('accnote', '');
        lastAccounts = r.json.data;
        drawAccounts(lastAccounts);
        $('accupdated').textContent = t('updated', new Date().toLocaleTimeString());
        return;
      }
      lastAccounts = null;
      $('acc').tHead.textContent = '';
      $('acc').tBodies[0].textContent = '';
      note('accnote', r.status === 401 ? t('accKey') : r.status === 403 ? t('accLoopback') : t('accFailed', errText(r)));
    }).catch(function (e) { note('accnote', t('accFailed', e.message)); });
  }

  // Prometheus text: [{name, labels, value}].
  function parseMetrics(text) {
    var out = [];
    text.split('\n').forEach(function (l) {
      var x = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(l);
      if (!x) return;
      var labels = {};
      (x[2] || '').replace(/(\w+)="((?:[^"\\]|\\.)*)"/g, function (_, k, v) { labels[k] = v; });
      out.push({ name: x[1], labels: labels, value: parseFloat(x[3]) });
    });
    return out;
  }
  var ANSWER_ROUTES = { '/v1/chat/completions': 1, '/v1/images/generations': 1 };
  function loadMetrics() {
    return fetch(P + '/metrics', { headers: headers(), cache: 'no-store' }).then(function (r) {
      if (r.status === 401) { note('metricsnote', t('metricsKey')); return; }
      if (!r.ok) throw new Error('HTTP ' + r.status);
      return r.text().then(function (s) {
        note('metricsnote', '');
        var m = parseMetrics(s), ok = 0, bad = 0, queue = 0;
        m.forEach(function (x) {
          if (x.name === 'glm_http_requests_total' && ANSWER_ROUTES[x.labels.route]) {
            if (+x.labels.status < 400) ok += x.value; else bad += x.value;
          } else if (x.name === 'glm_queue_length') queue = x.value;
        });
        var now = Date.now(), prev = samples[samples.length - 1];
        var s1 = { t: now, ok: ok, bad: bad, queue: queue, apm: null, epm: null };
        if (prev && now > prev.t) {
          var min = (now - prev.t) / 60000;
          s1.apm = Math.max(0, ok - prev.ok) / min;
          s1.epm = Math.max(0, bad - prev.bad) / min;
        }
        samples.push(s1);
        if (samples.length > 60) samples.shift();
        chart('apm', 'apm', '#2f5bd3');
        chart('err', 'epm', '#b42318');
        chart('queue', 'queue', '#a15c00');
      });
    }).catch(function (e) { note('metricsnote', e.message); });
  }
  function chart(id, field, color) {
    var c = $('c-' + id), pts = samples.map(function (s) { return s[field]; }).filter(function (v) { return v !== null; });
    var last = pts[pts.length - 1];
    $('v-' + id).textContent = last === undefined ? '–' : last < 10 && last % 1 ? last.toFixed(1) : String(Math.round(last));
    var dpr = window.devicePixelRatio || 1, w = c.clientWidth * dpr, h = c.clientHeight * dpr;
    if (!w || !h) return;
    c.width = w;
    c.height = h;
    var g = c.getContext('2d');
    g.clearRect(0, 0, w, h);
    g.fillStyle = getComputedStyle(c).borderTopColor;
    g.fillRect(0, h - dpr, w, dpr);
    if (!pts.length) return;
    var max = Math.max.apply(null, pts.concat([1])), step = w / Math.max(59, pts.length - 1);
    var x0 = w - step * (pts.length - 1);
    g.beginPath();
    pts.forEach(function (v, i) {
      var x = x0 + i * step, y = h - 2 * dpr - (v / max) * (h - 6 * dpr);
      if (i) g.lineTo(x, y); else g.moveTo(x, y);
    });
    g.strokeStyle = color;
    g.lineWidth = 2 * dpr;
    g.stroke();
    g.lineTo(w, h);
    g.lineTo(x0, h);
    g.closePath();
    g.globalAlpha = 0.15;
    g.fillStyle = color;
    g.fill();
    g.globalAlpha = 1;
  }

  // Every few seconds while the accounts tab is open and the page is visible.
  function poll() {
    clearTimeout(pollTimer);
    if (current !== 'accounts' || document.hidden) return;
    Promise.all([loadAccounts(), loadMetrics()]).then(function () {
      if (current === 'accounts') pollTimer = setTimeout(poll, 3000);
    });
  }
  document.addEventListener('visibilitychange', poll);

  // ---- start ------------------------------------------------------------------
  $('lang').addEventListener('click', function () { lang = lang === 'zh' ? 'en' : 'zh'; applyLang(); });
  $('baseurl').textContent = location.origin + P + '/v1';
  applyLang();
  loadModels();
  key.addEventListener('change', loadModels);
  show(location.hash.slice(1));
})();
