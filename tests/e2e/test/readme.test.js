// The READMEs' commands, run as a reader would: the quick start's `make run`
// serves (against the mock upstream), then every example marked
//   <!-- readme-test: /regex the output must match/ -->   (a sh block)
//   <!-- readme-test: node -->                             (an ES module)
// runs against it, with 127.0.0.1:8000 replaced by the real port and a fresh
// token in CHATGLM_REFRESH_TOKEN. README.md and README.zh-CN.md must carry
// the same examples.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO, startMock, newToken, sleep, waitFor } from '../lib/harness.js';
import { PLAIN } from '../lib/expected.js';

const READMES = ['README.md', 'README.zh-CN.md'];

// [{ kind: 'sh'|'node', expect: RegExp|null, code }] in file order.
function examples(file) {
  const text = fs.readFileSync(path.join(REPO, file), 'utf8');
  const out = [];
  const re = /<!-- readme-test: (node|\/(.*)\/) -->\n```(\w+)\n([\s\S]*?)```/g;
  for (const m of text.matchAll(re)) {
    out.push(m[1] === 'node'
      ? { kind: 'node', expect: null, lang: m[3], code: m[4] }
      : { kind: 'sh', expect: new RegExp(m[2]), lang: m[3], code: m[4] });
  }
  return out;
}

function firstBlock(file) {
  const text = fs.readFileSync(path.join(REPO, file), 'utf8');
  return text.match(/```sh\n([\s\S]*?)```/)[1];
}

function run(cmd, args, opts) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30000, maxBuffer: 16 << 20, ...opts }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

function refused(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

describe('README examples', () => {
  let mock;
  let make;
  let port;
  let log = '';
  let dataDir;

  before(async () => {
    mock = await startMock();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'glm-readme-'));
    // The quick start's first command, as written, with flags through ARGS.
    make = spawn('make', ['run', `ARGS=--host 127.0.0.1 --port 0 --upstream ${mock.url} --data-dir ${dataDir}`],
      { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    make.stdout.on('data', (d) => { log += d; });
    make.stderr.on('data', (d) => { log += d; });
    port = await waitFor(() => Number(log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/)?.[1] ?? 0), 300000, 50);
    assert.ok(port, `make run serves:\n${log}`);
  });

  after(async () => {
    if (make && make.exitCode === null) {
      process.kill(-make.pid, 'SIGTERM'); // make and the server it started
      await Promise.race([new Promise((r) => make.on('exit', r)), sleep(15000)]);
    }
    if (port) assert.ok(await waitFor(() => refused(port), 5000), 'the server stopped');
    await mock?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('the quick start has the two commands, in both languages', () => {
    for (const f of READMES) {
      const block = firstBlock(f);
      assert.match(block, /^make run\b/m, f);
      assert.match(block, /^make test\b/m, f);
    }
  });

  test('both READMEs carry the same examples and sections', () => {
    const [en, zh] = READMES.map((f) => examples(f));
    assert.ok(en.length >= 8, `examples marked in README.md (found ${en.length})`);
    assert.deepEqual(zh.map((e) => e.code), en.map((e) => e.code));
    assert.deepEqual(zh.map((e) => String(e.expect)), en.map((e) => String(e.expect)));
    const heads = (f) => fs.readFileSync(path.join(REPO, f), 'utf8').split('\n')
      .filter((l) => /^#{2,3} /.test(l)).map((l) => l.match(/^#+/)[0]);
    assert.deepEqual(heads(READMES[1]), heads(READMES[0]), 'the same section structure');
    // Every deploy file is documented in both.
    for (const f of READMES) {
      const text = fs.readFileSync(path.join(REPO, f), 'utf8');
      for (const d of ['deploy/Dockerfile', 'deploy/docker-compose.yml', 'deploy/glm-free-api.service',
        'deploy/nginx.conf', 'deploy/glm-free-api.conf.example'])
        assert.ok(text.includes(d), `${f} mentions ${d}`);
    }
  });

  for (const [i, ex] of examples('README.md').entries()) {
    const title = ex.kind === 'node' ? 'the Node SDK example' : ex.code.split('\n')[0].replace(/\s*\\$/, '');
    test(`example ${i + 1}: ${title}`, async () => {
      assert.ok(ex.code.includes('http://127.0.0.1:8000'), 'uses the default address');
      const code = ex.code.replaceAll('http://127.0.0.1:8000', `http://127.0.0.1:${port}`);
      const env = { ...process.env, CHATGLM_REFRESH_TOKEN: newToken('readme') };
      let r;
      if (ex.kind === 'node') {
        // Next to node_modules, so that `import 'openai'` resolves.
        const file = path.join(REPO, 'tests/e2e', `.readme-example-${process.pid}-${i}.mjs`);
        fs.writeFileSync(file, code);
        try {
          r = await run(process.execPath, [file], { env });
        } finally {
          fs.rmSync(file, { force: true });
        }
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `${PLAIN}\n`);
      } else {
        assert.equal(ex.lang, 'sh');
        r = await run('bash', ['-euo', 'pipefail', '-c', code], { env });
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, ex.expect);
        assert.doesNotMatch(r.stdout, /"error":\{/);
      }
    });
  }
});
