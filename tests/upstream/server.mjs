// An upstream OpenID provider for the tests: it plays "Google" (panva's node-oidc-provider,
// a real, certified implementation, not a mock).
//
//   node server.mjs fixtures.json
//
// fixtures.json (written by tests/upstream/__init__.py): port, issuer, clients, accounts
// ({sub, email, email_verified, name, amr, acr}), claims_in_id_token (Google puts email in
// the ID token; false: the claims come from userinfo only, as OIDC Core 5.4 prefers).
// The sign-in page takes an email only: who the person is at the upstream is the test's
// choice, and the upstream's own password is none of our business.
import crypto from 'node:crypto';
import http from 'node:http';
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const fixtures = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = new Map(fixtures.accounts.map((a) => [a.email, a]));
const bySub = new Map(fixtures.accounts.map((a) => [a.sub, a]));

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomBytes(6).toString('hex'), alg: 'RS256', use: 'sig' };

const provider = new Provider(fixtures.issuer, {
  clients: fixtures.clients,
  jwks: { keys: [jwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  conformIdTokenClaims: !fixtures.claims_in_id_token,
  // acr, amr and auth_time in every ID token, as Okta and Entra ID send them (Google sends none).
  claims: { acr: null, amr: null, auth_time: null, openid: ['sub', 'acr', 'amr', 'auth_time'], email: ['email', 'email_verified'], profile: ['name'] },
  scopes: ['openid', 'email', 'profile'],
  acrValues: ['urn:upstream:pwd', 'http://schemas.openid.net/pape/policies/2007/06/multi-factor'],
  features: { devInteractions: { enabled: false }, userinfo: { enabled: true } },
  pkce: { required: () => true },
  async findAccount(ctx, sub) {
    const account = bySub.get(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, email: account.email, email_verified: account.email_verified, name: account.name };
      },
    };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});
provider.proxy = false;

const handle = provider.callback();
http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      res.statusCode = err.statusCode || 500;
      res.end(String(err.message || err));
    });
    return;
  }
  handle(req, res);
}).listen(fixtures.port, '127.0.0.1', () => console.log(`upstream listening on ${fixtures.issuer}`));

process.on('SIGTERM', () => process.exit(0));

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.end(page(details.uid, ''));
    return;
  }
  const form = new URLSearchParams(await readBody(req));
  const account = accounts.get(String(form.get('email') || '').trim().toLowerCase());
  if (!account) {
    res.statusCode = 401;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(page(details.uid, 'No such account here.'));
    return;
  }
  const { params } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: account.sub, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  const grantId = await grant.save();
  const login = { accountId: account.sub };
  if (account.amr) login.amr = account.amr;
  if (account.acr) login.acr = account.acr;
  await provider.interactionFinished(req, res, { login, consent: { grantId } }, { mergeWithLastSubmission: false });
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

function page(uid, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Upstream sign-in</title></head>
<body><main><h1>Sign in at the upstream</h1>${error ? `<p role="alert" id="upstream-error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}" id="upstream-form">
<label>Email <input id="upstream-email" name="email" type="email" autocomplete="username" required></label>
<button type="submit" id="upstream-submit">Continue</button></form></main></body></html>`;
}
