// A small HTTP file server on 127.0.0.1 for the attachment and image tests:
// fixed files, redirects, slow, endless and oversized answers, and a log of
// every request it was asked (so a test can prove it was never asked).
import http from 'node:http';
import { sleep } from './harness.js';

// A 1x1 PNG.
export const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64');
// Bytes that no sniffer recognises and that are not text.
export const BLOB = Buffer.from([0x00, 0x01, 0x02, 0x03, 0xfe, 0xff, 0x10, 0x80, 0x00, 0x7f]);
export const REPORT = '季度报告\nQ3 revenue: 42\n';

// A distinct small "image" per name, so that b64_json answers can be checked.
export function imageBytes(name) {
  return Buffer.concat([PNG, Buffer.from(`#${name}`)]);
}

export class FileServer {
  constructor() {
    this.requests = [];        // { path, ts }
    this.active = 0;           // requests being answered now
    this.maxActive = 0;
    this.streams = [];         // endless/big answers: { path, bytes, closed }
    this.sockets = new Set();
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    this.base = `http://127.0.0.1:${this.port}`;
    return this;
  }

  async stop() {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  url(p) { return this.base + p; }

  hits(prefix = '') { return this.requests.filter((r) => r.path.startsWith(prefix)).length; }

  // Writes chunks of 64 KiB as fast as the client takes them, up to total
  // bytes (Infinity: endless); records how far it got.
  pump(req, res, entry, total) {
    const chunk = Buffer.alloc(65536, 0x41);
    const write = () => {
      while (!entry.closed && entry.bytes < total) {
        const n = Math.min(chunk.length, total - entry.bytes);
        entry.bytes += n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          res.once('drain', write);
          return;
        }
      }
      if (!entry.closed) res.end();
    };
    res.on('close', () => { entry.closed = true; });
    write();
  }

  async handle(req, res) {
    const u = new URL(req.url, this.base);
    const p = u.pathname;
    this.requests.push({ path: p, ts: Date.now() });
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    res.on('close', () => { this.active--; });
    const send = (status, type, body, headers = {}) => {
      res.writeHead(status, { ...(type ? { 'Content-Type': type } : {}), ...headers });
      res.end(body);
    };
    if (p === '/files/report.txt') return send(200, 'text/plain; charset=utf-8', REPORT);
    if (p === '/files/pic') return send(200, 'application/octet-stream', PNG);
    if (p === '/files/pic.png') return send(200, 'image/png', PNG);
    if (p === '/files/blob') return send(200, 'application/octet-stream', BLOB);
    if (p === '/files/empty.txt') return send(200, 'text/plain', '');
    if (p.startsWith('/img/')) return send(200, 'image/png', imageBytes(p.slice(5)));
    if (p.startsWith('/delay/')) {
      await sleep(400);
      return send(200, 'text/plain', `delayed ${p.slice(7)}\n`);
    }
    if (p === '/redirect') {
      return send(302, 'text/plain', 'moved', { Location: u.searchParams.get('to') });
    }
    if (p === '/files/big' || p === '/files/endless') {
      // big: a declared length over the cap; endless: chunked, never ends.
      const entry = { path: p, bytes: 0, closed: false };
      this.streams.push(entry);
      const total = p === '/files/big' ? 64 << 20 : Infinity;
      res.writeHead(200, { 'Content-Type': 'text/plain',
                           ...(total !== Infinity ? { 'Content-Length': String(total) } : {}) });
      return this.pump(req, res, entry, total);
    }
    if (p === '/files/slow.txt') {
      // One byte every 300 ms, forever (until the client gives up).
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      const entry = { path: p, bytes: 0, closed: false };
      this.streams.push(entry);
      res.on('close', () => { entry.closed = true; });
      while (!entry.closed) {
        res.write('x');
        entry.bytes++;
        await sleep(300);
      }
      return undefined;
    }
    return send(404, 'text/plain', 'not found');
  }
}

export async function startFileServer() {
  return new FileServer().start();
}
