// Test OAuth2 / OpenID Connect provider for the mod_api_oauth2 test suite.
//
//   node t/provider/server.mjs [--port 18531] [--access-ttl 3600] [--refresh-ttl 86400]
//
// Issuer: http://127.0.0.1:<port>. Endpoints: /auth, /token, /me,
// /token/introspection, /token/revocation, /.well-known/openid-configuration.
// devInteractions give login (any login, any password) and consent pages;
// GET /interaction/<uid>/abort ends the flow with error=access_denied.
// Test hooks: GET /__stats, POST /__stats/reset (request counters),
// POST /__delay?endpoint=NAME&ms=N (answer that endpoint late),
// POST /__rotate_keys[?keep=1] (a new signing key, first in the JWKS; the
// old ones stay published with keep=1, else they are dropped).
// Environment overrides: AO2_PROVIDER_PORT, AO2_ACCESS_TTL, AO2_REFRESH_TTL;
// AO2_EXTRA_REDIRECTS adds redirect URIs (comma list) to api-client.

import crypto from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';
// Not exported: how the provider turns configuration.jwks into its
// keystore, called again by /__rotate_keys.
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';
// The default in-memory adapter keeps at most 1,000 entries (sessions,
// grants, codes and tokens together) and silently evicts the oldest: with
// more than a few hundred identities (make faults: 1,000) their refresh
// tokens vanish and /token answers invalid_grant. Same adapter, room for
// every identity a test run creates.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.AO2_PROVIDER_PORT || '18531' },
    'access-ttl': { type: 'string', default: process.env.AO2_ACCESS_TTL || '3600' },
    'refresh-ttl': { type: 'string', default: process.env.AO2_REFRESH_TTL || String(14 * 24 * 3600) },
    host: { type: 'string', default: '127.0.0.1' },
  },
  strict: true,
});

const port = Number.parseInt(args.port, 10);
const accessTTL = Number.parseInt(args['access-ttl'], 10);
const refreshTTL = Number.parseInt(args['refresh-ttl'], 10);
const host = args.host;
const issuer = `http://${host}:${port}`;

const log = (...parts) => {
  console.log(new Date().toISOString(), ...parts);
};

// Signing keys generated at start: tokens from a previous run are
// meaningless. The first key of the set signs.
let keyGeneration = 0;
const newSigningKey = () => {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  keyGeneration += 1;
  return {
    ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: `ao2-test-${keyGeneration}`,
  };
};
let signingKeys = [newSigningKey()];

// The test httpd's port and the extra servers' ports (t/TEST.PL sets them).
const api = `http://127.0.0.1:${process.env.AO2_HTTPD_PORT || '8529'}`;
const extraServerPorts = (process.env.AO2_SERVER_PORTS || '18541,18542,18543').split(',').filter(Boolean);

const apiRedirects = [
  `${api}/jsonapiext/oauth2/callback`,
  `${api}/badsecret/oauth2/callback`,
  // t/26_endpoint_access.t
  `${api}/guardedapi/oauth2/callback`,
  // The provider configured with issuer= alone (t/40_discovery.t).
  `${api}/discapi/oauth2/callback`,
  `${api}/lateapi/oauth2/callback`,
  // t/01_happy_path.t: auth_params= of ApiOAuth2Client.
  `${api}/paramsapi/oauth2/callback`,
  // t/23_bindings.t: issued where an unverified email is a login.
  `${api}/optapi/oauth2/callback`,
  'http://127.0.0.1:8080/jsonapiext/oauth2/callback',
  'http://localhost:8080/jsonapiext/oauth2/callback',
  // t/30_two_servers.t: two more httpd servers sharing one store.
  ...extraServerPorts.map((p) => `http://127.0.0.1:${p}/jsonapiext/oauth2/callback`),
  // More redirect URIs for api-client, comma-separated (e.g. the benchmark's
  // httpd instances on their own ports: tools/bench.sh).
  ...(process.env.AO2_EXTRA_REDIRECTS || '').split(',').map((u) => u.trim()).filter(Boolean),
];

const SHORT_ACCESS_TTL = 3;
// The API whose access tokens are JWTs (RFC 8707 resource indicator).
const JWT_RESOURCE = 'urn:ao2:test:jwt-api';
const UNDATED_CLIENTS = new Set(['undated-client']);

const storage = new LRU({ maxSize: 1_000_000 });

const configuration = {
  adapter: (model) => new MemoryAdapter(model, storage),
  clients: [
    {
      client_id: 'api-client',
      client_secret: 'api-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: apiRedirects,
    },
    {
      client_id: 'post-client',
      client_secret: 'post-secret',
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [`${api}/seedapi/oauth2/callback`],
    },
    {
      // Its access tokens live SHORT_ACCESS_TTL seconds: expiry tests.
      client_id: 'short-client',
      client_secret: 'short-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [`${api}/shorttoken/oauth2/callback`],
    },
    {
      // A second client of the API (t/23_bindings.t): its tokens are not
      // api-client's.
      client_id: 'b-client',
      client_secret: 'b-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [`${api}/apib/oauth2/callback`],
    },
    {
      // Some other application of the same provider (t/23_bindings.t): the
      // module never handles its callback, the test reads the code.
      client_id: 'foreign-client',
      client_secret: 'foreign-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [`${api}/foreign/callback`],
    },
    {
      // Its token answers carry no expires_in (UNDATED_CLIENTS below).
      client_id: 'undated-client',
      client_secret: 'undated-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [`${api}/undated/oauth2/callback`],
    },
    {
      // Its access tokens are RFC 9068 JWTs for JWT_RESOURCE (the default
      // resource of the jwt-* clients): validated locally (t/42_jwt_access.t).
      client_id: 'jwt-client',
      client_secret: 'jwt-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: apiRedirects,
    },
    {
      // The same, its JWT access tokens live SHORT_ACCESS_TTL seconds.
      client_id: 'jwt-short',
      client_secret: 'jwt-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: apiRedirects,
    },
    {
      // Resource server: only authenticates to the introspection endpoint.
      client_id: 'rs-client',
      client_secret: 'rs-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
  ],
  jwks: { keys: signingKeys },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
  },
  scopes: ['openid', 'offline_access', 'email'],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: id.includes('@') ? id : `${id}@example.com`,
          // Logins starting with "unverified" have an unverified email.
          email_verified: !id.startsWith('unverified'),
        };
      },
    };
  },
  features: {
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => (
        oneOf || (client.clientId.startsWith('jwt-') ? JWT_RESOURCE : undefined)
      ),
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resource, client) => {
        if (resource !== JWT_RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: 'openid email api',
          audience: JWT_RESOURCE,
          accessTokenFormat: 'jwt',
          accessTokenTTL: client.clientId === 'jwt-short' ? SHORT_ACCESS_TTL : accessTTL,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
  },
  pkce: { required: () => true },
  rotateRefreshToken: () => true,
  // A refresh token whenever offline_access was granted (needs prompt=consent).
  issueRefreshToken: async (ctx, client, code) => (
    client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access')
  ),
  ttl: {
    AccessToken: (ctx, token, client) => (
      token.resourceServer?.accessTokenTTL
      || (client && client.clientId === 'short-client' ? SHORT_ACCESS_TTL : accessTTL)
    ),
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: () => refreshTTL,
    Grant: 14 * 24 * 3600,
    Interaction: 3600,
    Session: 14 * 24 * 3600,
  },
};

const provider = new Provider(issuer, configuration);
provider.proxy = false;

// ---- request counters for the tests -------------------------------------
const counterNames = ['token', 'introspection', 'revocation', 'userinfo', 'auth', 'discovery', 'jwks'];
const stats = Object.fromEntries(counterNames.map((n) => [n, 0]));
const routeOf = {
  '/token': 'token',
  '/token/introspection': 'introspection',
  '/token/revocation': 'revocation',
  '/me': 'userinfo',
  '/auth': 'auth',
  '/.well-known/openid-configuration': 'discovery',
  '/jwks': 'jwks',
};

// oidc-provider accepts client_secret_basic and client_secret_post
// interchangeably for any client with a secret. The test provider is strict:
// each client must use the method it is registered with, so that a module
// configured with the wrong auth= is caught.
const authMethodOf = Object.fromEntries(
  configuration.clients.map((c) => [c.client_id, c.token_endpoint_auth_method]),
);
const clientAuthRoutes = new Set(['/token', '/token/introspection', '/token/revocation']);

async function readRawBody(req, limit = 56 * 1024) {
  const chunks = [];
  let n = 0;
  for await (const chunk of req) {
    n += chunk.length;
    if (n > limit) throw new Error('request entity too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function strictClientAuth(ctx) {
  let used;
  let clientId;
  const authz = ctx.get('authorization');
  if (/^basic /i.test(authz)) {
    used = 'client_secret_basic';
    const decoded = Buffer.from(authz.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    const rawId = (i === -1 ? decoded : decoded.slice(0, i)).replace(/\+/g, ' ');
    try {
      clientId = decodeURIComponent(rawId);
    } catch {
      clientId = rawId;
    }
  }
  if (ctx.is('application/x-www-form-urlencoded')) {
    // Parse here; oidc-provider then reuses ctx.req.body (it logs a one-time
    // notice about an "already parsed request body").
    const raw = await readRawBody(ctx.req);
    ctx.req.body = Buffer.from(raw, 'utf8');
    const form = new URLSearchParams(raw);
    if (!used && form.has('client_secret')) {
      used = 'client_secret_post';
      clientId = form.get('client_id');
    }
  }
  const registered = authMethodOf[clientId];
  if (used && registered && used !== registered) {
    log(`strict client auth: ${clientId} used ${used}, registered ${registered}`);
    ctx.status = 401;
    ctx.set('WWW-Authenticate', 'Basic realm="ao2-test-provider"');
    ctx.type = 'application/json';
    ctx.body = JSON.stringify({
      error: 'invalid_client',
      error_description: `client authentication failed (this client must use ${registered})`,
    });
    return false;
  }
  return true;
}

const delays = {};

provider.use(async (ctx, next) => {
  const started = Date.now();
  if (ctx.path === '/__stats' && ctx.method === 'GET') {
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(stats);
    return;
  }
  if (ctx.path === '/__stats/reset' && ctx.method === 'POST') {
    for (const n of counterNames) stats[n] = 0;
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(stats);
    return;
  }
  if (ctx.path === '/__delay' && ctx.method === 'POST') {
    // POST /__delay?endpoint=token&ms=300: that endpoint answers late
    // (concurrency and timeout tests); ms=0 ends it.
    const name = ctx.query.endpoint;
    const ms = Number.parseInt(ctx.query.ms, 10);
    if (!counterNames.includes(name) || !(ms >= 0 && ms <= 60000)) {
      ctx.status = 400;
      return;
    }
    delays[name] = ms;
    ctx.type = 'application/json';
    ctx.body = JSON.stringify(delays);
    return;
  }
  if (ctx.path === '/__rotate_keys' && ctx.method === 'POST') {
    signingKeys = [newSigningKey(), ...(ctx.query.keep === '1' ? signingKeys : [])];
    initializeKeystore.call(provider, { keys: signingKeys });
    ctx.type = 'application/json';
    ctx.body = JSON.stringify({ kids: signingKeys.map((k) => k.kid) });
    log(`signing keys now ${signingKeys.map((k) => k.kid).join(', ')}`);
    return;
  }
  const counter = routeOf[ctx.path];
  if (counter) stats[counter] += 1;
  if (counter && delays[counter] > 0) {
    await new Promise((resolve) => { setTimeout(resolve, delays[counter]); });
  }
  try {
    if (ctx.method === 'POST' && clientAuthRoutes.has(ctx.path)) {
      let ok;
      try {
        ok = await strictClientAuth(ctx);
      } catch (err) {
        log(`strict client auth: ${err.message}`);
        ctx.status = 400;
        ctx.type = 'application/json';
        ctx.body = JSON.stringify({ error: 'invalid_request', error_description: 'could not read the request body' });
        return;
      }
      if (!ok) return;
    }
    await next();
    // Some providers send no expires_in: so does this one for these clients.
    if (ctx.path === '/token' && ctx.body && typeof ctx.body === 'object'
        && UNDATED_CLIENTS.has(ctx.oidc?.client?.clientId)) {
      delete ctx.body.expires_in;
    }
  } finally {
    log(`${ctx.method} ${ctx.path} -> ${ctx.status} (${Date.now() - started} ms)`);
  }
});

// ---- logging -------------------------------------------------------------
for (const ev of [
  'authorization.error', 'grant.error', 'introspection.error', 'revocation.error',
  'userinfo.error', 'end_session.error', 'backchannel.error', 'registration_read.error',
]) {
  provider.on(ev, (ctx, err) => {
    log(`event ${ev}: ${err.error || err.name}: ${err.error_description || err.message}${
      err.error_detail ? ` (${err.error_detail})` : ''}`);
  });
}
provider.on('server_error', (ctx, err) => {
  log('event server_error:', err && err.stack ? err.stack : err);
});
provider.on('grant.success', () => log('event grant.success'));
provider.on('grant.revoked', (ctx, grantId) => log(`event grant.revoked ${grantId}`));

process.on('uncaughtException', (err) => log('uncaughtException:', err && err.stack ? err.stack : err));
process.on('unhandledRejection', (err) => log('unhandledRejection:', err && err.stack ? err.stack : err));

const stop = (sig) => {
  log(`got ${sig}, exiting`);
  process.exit(0);
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGHUP', () => stop('SIGHUP'));

const server = provider.listen(port, host, () => {
  log(`oidc-provider listening, issuer ${issuer}, access TTL ${accessTTL}s, refresh TTL ${refreshTTL}s`);
});
server.on('error', (err) => {
  log('listen error:', err.message);
  process.exit(1);
});
