// A provider that misbehaves on demand, for t/faults: in front of the test
// provider, it forwards every request as is ("pass") or fails in one way.
//
//   node t/backend/faultop.mjs --port P --control C --upstream http://127.0.0.1:U
//
// POST http://127.0.0.1:C/mode?m=NAME[&ms=N] switches the mode:
//   pass     forward to the upstream provider
//   refuse   stop listening on P (connections are refused) until another mode
//   hang     accept, read the request, never answer
//   slow     answer 500 after ms milliseconds (default 8000)
//   500      answer 500 with an HTML body
//   garbage  answer 200 application/json with bytes that are not JSON
//   huge     answer 200 application/json with 8 MB of a JSON string
//   reset    destroy the connection after reading the request
// GET http://127.0.0.1:C/stats -> {"requests": N, "forwarded": N} (since the
// last mode switch). In no mode but pass does the upstream see anything, so
// a rotating refresh token is never used up by a failed call.

import http from 'node:http';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    control: { type: 'string' },
    upstream: { type: 'string' },
  },
  strict: true,
});
const port = Number.parseInt(args.port, 10);
const controlPort = Number.parseInt(args.control, 10);
const upstream = new URL(args.upstream);
const modes = ['pass', 'refuse', 'hang', 'slow', '500', 'garbage', 'huge', 'reset'];
let mode = 'pass';
let slowMs = 8000;
let stats = { requests: 0, forwarded: 0 };
const hanging = new Set();

const log = (...parts) => console.log(new Date().toISOString(), ...parts);

const forward = (req, res, body) => {
  const up = http.request(
    {
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: upstream.host },
    },
    (upRes) => {
      res.writeHead(upRes.statusCode, upRes.headers);
      upRes.pipe(res);
    },
  );
  up.on('error', (err) => {
    log('upstream error:', err.message);
    res.destroy();
  });
  up.end(body);
  stats.forwarded += 1;
};

const answer = (req, res, body) => {
  stats.requests += 1;
  switch (mode) {
    case 'pass':
      return forward(req, res, body);
    case 'hang':
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return undefined;
    case 'slow': {
      const t = setTimeout(() => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('late');
      }, slowMs);
      res.on('close', () => clearTimeout(t));
      return undefined;
    }
    case '500':
      res.writeHead(500, { 'content-type': 'text/html' });
      return res.end('<html><body>Internal Server Error</body></html>');
    case 'garbage':
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{"access_token": "x", \u0000\u00ff garbage <<<');
    case 'huge':
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"access_token": "');
      res.write('a'.repeat(8 * 1024 * 1024));
      return res.end('"}');
    case 'reset':
      return req.socket.destroy();
    default:
      return res.destroy();
  }
};

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => answer(req, res, Buffer.concat(chunks)));
});
server.keepAliveTimeout = 1000;

let listening = false;
const listen = () =>
  new Promise((resolve) => {
    if (listening) return resolve();
    server.listen(port, '127.0.0.1', () => {
      listening = true;
      resolve();
    });
  });
const unlisten = () =>
  new Promise((resolve) => {
    if (!listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
    listening = false;
  });

const control = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/mode' && req.method === 'POST') {
    const m = url.searchParams.get('m');
    if (!modes.includes(m)) {
      res.writeHead(400);
      return res.end(`modes: ${modes.join(', ')}`);
    }
    for (const h of hanging) h.destroy();
    hanging.clear();
    mode = m;
    slowMs = Number.parseInt(url.searchParams.get('ms') || '8000', 10);
    stats = { requests: 0, forwarded: 0 };
    await (mode === 'refuse' ? unlisten() : listen());
    log('mode', mode);
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ mode }));
  }
  if (url.pathname === '/stats' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ mode, ...stats }));
  }
  res.writeHead(404);
  return res.end();
});

await listen();
control.listen(controlPort, '127.0.0.1', () =>
  log(`faultop on ${port} (control ${controlPort}) in front of ${upstream.href}`),
);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
