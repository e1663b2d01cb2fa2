// TLS in front of the test provider, for the benchmark's peer modules:
// mod_auth_openidc accepts only an https:// introspection endpoint.
//
//   node bench/https-proxy.mjs --port 28534 --target http://127.0.0.1:28531 \
//        --cert cert.pem --key key.pem
//
// Forwards every request (method, path, headers, body) to the target and
// streams the answer back. Listens on 127.0.0.1 only.

import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    target: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
  },
  strict: true,
});
for (const k of ['port', 'target', 'cert', 'key']) {
  if (!args[k]) {
    console.error(`https-proxy: --${k} is required`);
    process.exit(2);
  }
}

const target = new URL(args.target);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const log = (...parts) => console.log(new Date().toISOString(), ...parts);

const server = https.createServer({
  cert: fs.readFileSync(args.cert),
  key: fs.readFileSync(args.key),
}, (req, res) => {
  const headers = { ...req.headers, host: target.host };
  const up = http.request({
    host: target.hostname,
    port: target.port,
    method: req.method,
    path: req.url,
    headers,
    agent,
  }, (upRes) => {
    res.writeHead(upRes.statusCode, upRes.headers);
    upRes.pipe(res);
  });
  up.on('error', (err) => {
    log(`upstream error: ${err.message}`);
    if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'application/json' });
    res.end('{"error":"bad_gateway"}');
  });
  req.pipe(up);
});
server.keepAliveTimeout = 30000;
server.on('error', (err) => {
  log('listen error:', err.message);
  process.exit(1);
});
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
  process.on(sig, () => { log(`got ${sig}, exiting`); process.exit(0); });
}
server.listen(Number.parseInt(args.port, 10), args.host,
  () => log(`https proxy on https://${args.host}:${args.port} -> ${target.origin}`));
