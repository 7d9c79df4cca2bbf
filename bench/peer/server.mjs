// The benchmark's peer: panva's node-oidc-provider, configured as close to our provider as
// it allows (see bench/README.md, "What is configured equivalently").
//
//   PEER_FIXTURES=fixtures.json node server.mjs
//
// fixtures.json (written by bench/fixtures.py): port, issuer, workers, redis_url (absent:
// the provider's in-memory adapter, single process only), jwks (private RS256 and ES256
// keys), clients, accounts (argon2id hashes), resources (indicator -> signing alg), ttl.
// With workers > 1 the primary forks that many processes (node:cluster), which share the
// port and, through the Redis adapter, every session, code, token and grant.
import cluster from 'node:cluster';
import http from 'node:http';
import { readFileSync } from 'node:fs';

import argon2 from 'argon2';
import Provider, { errors } from 'oidc-provider';

import { redisAdapterFactory } from './redis_adapter.mjs';

const fixtures = JSON.parse(readFileSync(process.env.PEER_FIXTURES, 'utf8'));

if (cluster.isPrimary && fixtures.workers > 1) {
  runPrimary();
} else {
  runWorker();
}

function runPrimary() {
  let stopping = false;
  for (let i = 0; i < fixtures.workers; i += 1) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    console.error(`peer worker ${worker.process.pid} died (${signal || code}); stopping`);
    stop(1);
  });
  const stop = (code = 0) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    setTimeout(() => process.exit(code), 200).unref();
  };
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
}

function runWorker() {
  const accountsById = new Map(fixtures.accounts.map((a) => [a.id, a]));
  const accountsByEmail = new Map(fixtures.accounts.map((a) => [a.email, a]));
  const provider = new Provider(fixtures.issuer, configuration(accountsById));
  const handle = provider.callback();

  const server = http.createServer((req, res) => {
    if (req.url.startsWith('/interaction/')) {
      interaction(provider, accountsByEmail, req, res).catch((err) => {
        res.statusCode = err.statusCode || 500;
        res.end(String(err.message || err));
      });
      return;
    }
    handle(req, res);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(fixtures.port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}

function configuration(accountsById) {
  const resources = fixtures.resources; // indicator -> alg
  return {
    adapter: fixtures.redis_url ? redisAdapterFactory(fixtures.redis_url) : undefined,
    clients: fixtures.clients,
    jwks: { keys: fixtures.jwks },
    async findAccount(ctx, id) {
      const account = accountsById.get(id);
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: account.email, email_verified: true, name: account.name };
        },
      };
    },
    // What our userinfo releases per scope (idp/web/oauth.py, claims_for).
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'api'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // Any confidential client may introspect, as with ours (RFC 7662 §2.1 leaves it open).
      introspection: { enabled: true, allowedPolicy: async (ctx, client) => client.clientAuthMethod !== 'none' },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      // RFC 8707 + RFC 9068: an access token for a registered resource is a signed JWT.
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx, indicator) {
          const alg = resources[indicator];
          if (!alg) throw new errors.InvalidTarget();
          return {
            scope: 'api',
            audience: indicator,
            accessTokenTTL: fixtures.ttl.access,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg } },
          };
        },
      },
    },
    responseTypes: ['code'],
    pkce: { required: () => true },
    // Ours rotates every refresh token on every use and issues one with every code.
    rotateRefreshToken: true,
    async issueRefreshToken(ctx, client) {
      return client.grantTypeAllowed('refresh_token');
    },
    ttl: {
      AccessToken: fixtures.ttl.access,
      ClientCredentials: fixtures.ttl.access,
      AuthorizationCode: fixtures.ttl.code,
      IdToken: fixtures.ttl.access,
      RefreshToken: fixtures.ttl.refresh,
      Grant: fixtures.ttl.refresh,
      Session: fixtures.ttl.session,
      Interaction: fixtures.ttl.flow,
    },
    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    // Our paths, so that both servers take the same requests (the paths are cosmetic).
    routes: {
      authorization: '/authorize',
      token: '/token',
      userinfo: '/userinfo',
      jwks: '/jwks.json',
      introspection: '/introspect',
      revocation: '/revoke',
    },
  };
}

// The sign-in page: one password step that settles both of the provider's prompts (login
// and consent), as our provider's password page does for a person without a second factor.
async function interaction(provider, accountsByEmail, req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.end(loginPage(details.uid, details.params.login_hint || '', ''));
    return;
  }
  const form = new URLSearchParams(await readBody(req));
  const account = accountsByEmail.get(String(form.get('email') || '').trim().toLowerCase());
  const ok = account ? await argon2.verify(account.password_hash, String(form.get('password') || '')) : false;
  if (!ok) {
    res.statusCode = 401;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(loginPage(details.uid, '', 'Incorrect email or password.'));
    return;
  }
  const { params } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: account.id, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  if (params.resource) grant.addResourceScope(params.resource, 'api');
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, {
    login: { accountId: account.id, acr: 'pwd', amr: ['pwd'] },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 8192) reject(Object.assign(new Error('body too large'), { statusCode: 413 }));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, email, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><main><h1>Sign in</h1>${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Email <input name="email" type="email" value="${escape(email)}" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></main></body></html>`;
}
