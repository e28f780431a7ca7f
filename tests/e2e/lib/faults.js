// A fault-injecting proxy between the server under test and the mock, for the
// failures the mock cannot aim at one account: a 40012 or a 5xx for one
// stream call, a connection cut before any byte, an upstream that never
// answers, and a stream call held back until the test lets it go (to observe
// the order in which the server hands out accounts). Listens on 127.0.0.1.
import http from 'node:http';
import { createHash } from 'node:crypto';
import { jwtPayload } from './harness.js';

// The mock's uid of an account: md5 of its first refresh token, 24 hex digits.
export function uidOf(token) {
  return createHash('md5').update(token).digest('hex').slice(0, 24);
}

// Ready-made answers for rules.
export const FAULTS = {
  waf40012: { status: 400, type: 'application/json; charset=utf-8', body: '{"status":40012,"message":"bad request(40012)"}' },
  http502: { status: 502, type: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1></body></html>' },
  expired40103: {
    status: 401, type: 'application/json; charset=utf-8',
    body: '{"status":40103,"message":"user needs login","rid":"6f0d3c1b2a9e4c7d8b5a0f1e2d3c4b5a"}',
  },
  revoked40102: {
    status: 401, type: 'application/json; charset=utf-8',
    body: '{"status":40102,"message":"unauthorized user(40102)","rid":"0a1b2c3d4e5f40718293a4b5c6d7e8f9"}',
  },
  cut: { cut: true },     // close the connection without an answer
  stall: { stall: true }, // never answer; the caller has to give up
  park: { park: true },   // hold until release(), then forward
};

export class FaultProxy {
  constructor(target) {
    this.target = new URL(target);
    // rule(entry) -> null (forward) or one of FAULTS. Consulted once per request.
    this.rule = () => null;
    // Every request: { path, auth, token, uid, prompt, action, closed }.
    this.log = [];
    this.parked = [];
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  listen() {
    return new Promise((resolve) => {
      this.server.listen(0, '127.0.0.1', () => {
        this.url = `http://127.0.0.1:${this.server.address().port}`;
        resolve(this);
      });
    });
  }

  close() {
    for (const p of this.parked) p.res.destroy();
    this.parked = [];
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  // Stream calls seen so far (optionally since a log position).
  streams(since = 0) {
    return this.log.slice(since).filter((e) => e.path.endsWith('/assistant/stream'));
  }

  refreshes(since = 0) {
    return this.log.slice(since).filter((e) => e.path.endsWith('/user/refresh'));
  }

  // Forwards the oldest parked request; returns its log entry (or undefined).
  release() {
    let p;
    do p = this.parked.shift(); while (p && p.entry.closed);
    if (p) this.forward(p.req, p.res, p.body);
    return p?.entry;
  }

  handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const auth = req.headers.authorization ?? '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      let json = null;
      try { json = JSON.parse(body.toString('utf8')); } catch { /* not JSON */ }
      const content = json?.messages?.[0]?.content;
      const entry = {
        path: new URL(req.url, 'http://x').pathname,
        auth,
        token,
        uid: jwtPayload(token)?.uid ?? null,
        prompt: Array.isArray(content) ? content[0]?.text : content,
        action: 'forward',
        closed: false,
      };
      this.log.push(entry);
      res.on('close', () => { entry.closed = true; });
      const fault = entry.path.startsWith('/chatglm/') ? this.rule(entry) : null;
      if (!fault) {
        this.forward(req, res, body);
      } else if (fault.cut) {
        entry.action = 'cut';
        req.socket.destroy();
      } else if (fault.stall) {
        entry.action = 'stall';
      } else if (fault.park) {
        entry.action = 'park';
        this.parked.push({ req, res, body, entry });
      } else {
        entry.action = `fault ${fault.status}`;
        res.writeHead(fault.status, { 'content-type': fault.type, 'content-length': Buffer.byteLength(fault.body) });
        res.end(fault.body);
      }
    });
  }

  forward(req, res, body) {
    const up = http.request({
      host: this.target.hostname, port: this.target.port, method: req.method, path: req.url,
      headers: req.headers,
    }, (ures) => {
      res.writeHead(ures.statusCode, ures.headers);
      // A cut from the mock is passed on as a cut, not as a clean end.
      ures.on('aborted', () => res.destroy());
      ures.on('error', () => res.destroy());
      ures.pipe(res);
    });
    up.on('error', () => res.destroy());
    // The server gave up (or was cut): let the mock free the account's slot.
    res.on('close', () => { if (!res.writableFinished) up.destroy(); });
    up.end(body);
  }
}

export async function startProxy(target) {
  return new FaultProxy(target).listen();
}
