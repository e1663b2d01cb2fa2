// Stand-in for Odoo behind mod_api_oauth2's ProxyPass: answers every request
// with 200 application/json describing what it received.
//
//   node t/backend/echo.mjs [--port 18532]
//
// {"method": "GET", "path": "/jsonapiext/x", "query": {"a": "1"},
//  "headers": {"remote-user": "...", ...}, "body": "..."}
// Header names are lowercased (node does that); a header sent several times is
// joined with ", " (set-cookie: an array). "query" values repeated in the URL
// become arrays. "body" is the raw request body as a UTF-8 string.
// "raw_headers" lists [name, value] pairs exactly as received (case and
// duplicates kept), to check that no spelling of an identity header leaks.

import http from 'node:http';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.AO2_BACKEND_PORT || '18532' },
    host: { type: 'string', default: '127.0.0.1' },
  },
  strict: true,
});
const port = Number.parseInt(args.port, 10);

const log = (...parts) => console.log(new Date().toISOString(), ...parts);

// [[name, value], ...] exactly as sent (case kept, duplicates kept).
const rawPairs = (raw) => {
  const out = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i], raw[i + 1]]);
  return out;
};

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('error', (err) => log('request error:', err.message));
  req.on('end', () => {
    try {
      const url = new URL(req.url, 'http://backend.invalid');
      const query = {};
      for (const [k, v] of url.searchParams) {
        if (Object.hasOwn(query, k)) {
          query[k] = [].concat(query[k], v);
        } else {
          query[k] = v;
        }
      }
      // req.headers already has lowercased names; duplicates joined by node.
      const headers = { ...req.headers };
      const out = JSON.stringify({
        method: req.method,
        path: url.pathname,
        query,
        headers,
        body: Buffer.concat(chunks).toString('utf8'),
        raw_headers: rawPairs(req.rawHeaders),
      });
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(out),
      });
      res.end(out);
      log(`${req.method} ${url.pathname} -> 200 (user: ${headers['remote-user'] ?? '-'})`);
    } catch (err) {
      log('handler error:', err && err.stack ? err.stack : err);
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'application/json' });
      }
      res.end('{"error":"echo backend failure"}');
    }
  });
});
server.on('clientError', (err, socket) => {
  log('client error:', err.message);
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
});
server.on('error', (err) => {
  log('listen error:', err.message);
  process.exit(1);
});
process.on('uncaughtException', (err) => log('uncaughtException:', err && err.stack ? err.stack : err));
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => { log(`got ${sig}, exiting`); process.exit(0); });
}
server.listen(port, args.host, () => log(`echo backend listening on http://${args.host}:${port}`));
