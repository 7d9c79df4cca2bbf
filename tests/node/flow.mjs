#!/usr/bin/env node
// The whole life of a sign-in, as a third-party relying party written with npm's
// `openid-client` (v6) and `jose` sees it, against a running provider:
//
//   discovery -> authorization code + PKCE (hosted login page driven with fetch) -> tokens
//   -> ID token claims (signature checked by openid-client) -> access token verified with
//   jose against the JWKS (RFC 9068) -> userinfo -> refresh rotation -> reuse detection
//   -> second grant -> [confidential: introspection] -> revocation -> RP-initiated logout.
//
// Configuration: command-line options override environment variables.
//
//   --issuer / OIDC_ISSUER                                  e.g. http://localhost:5000
//   --client-id / OIDC_CLIENT_ID
//   --client-secret / OIDC_CLIENT_SECRET                    absent for a public client
//   --client-auth / OIDC_CLIENT_AUTH                        none | client_secret_basic | client_secret_post
//                                                           (default: none without a secret, else basic)
//   --redirect-uri / OIDC_REDIRECT_URI
//   --post-logout-redirect-uri / OIDC_POST_LOGOUT_REDIRECT_URI
//   --email / OIDC_EMAIL, --password / OIDC_PASSWORD        (prefer the environment for the password)
//   --audience / OIDC_AUDIENCE                              expected access-token aud (default: issuer)
//   --scope / OIDC_SCOPE                                    default "openid profile email offline_access"
//
// Prints one JSON summary on stdout. Exit status 0 when every check passed; otherwise 1, with
// the failed step and the reason on stderr (and in the summary's `failure`).

import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import * as client from 'openid-client';
import * as jose from 'jose';

// --- configuration ---------------------------------------------------------------------

const OPTIONS = {
  issuer: 'OIDC_ISSUER',
  'client-id': 'OIDC_CLIENT_ID',
  'client-secret': 'OIDC_CLIENT_SECRET',
  'client-auth': 'OIDC_CLIENT_AUTH',
  'redirect-uri': 'OIDC_REDIRECT_URI',
  'post-logout-redirect-uri': 'OIDC_POST_LOGOUT_REDIRECT_URI',
  email: 'OIDC_EMAIL',
  password: 'OIDC_PASSWORD',
  audience: 'OIDC_AUDIENCE',
  scope: 'OIDC_SCOPE',
};

function readConfig() {
  const { values } = parseArgs({
    options: Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: 'string' }])),
    strict: true,
  });
  const cfg = {};
  for (const [opt, env] of Object.entries(OPTIONS)) {
    cfg[opt] = values[opt] ?? process.env[env] ?? undefined;
    if (cfg[opt] === '') cfg[opt] = undefined;
  }
  const missing = ['issuer', 'client-id', 'redirect-uri', 'post-logout-redirect-uri', 'email', 'password']
    .filter((k) => !cfg[k]);
  if (missing.length) {
    throw new ConfigError(`missing configuration: ${missing.map((k) => `--${k} (${OPTIONS[k]})`).join(', ')}`);
  }
  cfg['client-auth'] ??= cfg['client-secret'] ? 'client_secret_basic' : 'none';
  if (!['none', 'client_secret_basic', 'client_secret_post'].includes(cfg['client-auth'])) {
    throw new ConfigError(`unsupported client auth ${cfg['client-auth']}`);
  }
  if (cfg['client-auth'] !== 'none' && !cfg['client-secret']) {
    throw new ConfigError(`${cfg['client-auth']} needs --client-secret (OIDC_CLIENT_SECRET)`);
  }
  cfg.audience ??= cfg.issuer;
  cfg.scope ??= 'openid profile email offline_access';
  return {
    issuer: cfg.issuer,
    clientId: cfg['client-id'],
    clientSecret: cfg['client-secret'],
    clientAuth: cfg['client-auth'],
    redirectUri: cfg['redirect-uri'],
    postLogoutRedirectUri: cfg['post-logout-redirect-uri'],
    email: cfg.email,
    password: cfg.password,
    audience: cfg.audience,
    scope: cfg.scope,
  };
}

class ConfigError extends Error {}

// --- assertions and steps --------------------------------------------------------------

class AssertionFailed extends Error {}

function check(condition, message, detail) {
  if (!condition) {
    throw new AssertionFailed(detail === undefined ? message : `${message}: ${JSON.stringify(detail)}`);
  }
}

const summary = { ok: false, steps: [] };
let currentStep = 'start';

async function step(name, fn) {
  currentStep = name;
  const started = performance.now();
  const result = await fn();
  summary.steps.push({ name, ms: Math.round(performance.now() - started) });
  return result;
}

/** Runs `fn`, which must fail with an OAuth error; returns {status, error}. */
async function expectOAuthError(fn, what) {
  try {
    await fn();
  } catch (err) {
    if (err instanceof client.ResponseBodyError) {
      return { status: err.status, error: err.error, kind: 'ResponseBodyError' };
    }
    if (err instanceof client.WWWAuthenticateChallengeError) {
      const challenge = err.cause?.[0] ?? {};
      return {
        status: err.status,
        error: challenge.parameters?.error,
        scheme: challenge.scheme,
        kind: 'WWWAuthenticateChallengeError',
      };
    }
    if (err instanceof client.AuthorizationResponseError) {
      return { error: err.error, kind: 'AuthorizationResponseError', state: err.cause?.get?.('state') };
    }
    throw new AssertionFailed(`${what}: expected an OAuth error response, got ${err?.name}: ${err?.message}`);
  }
  throw new AssertionFailed(`${what}: expected an error, but the request succeeded`);
}

// --- a browser, just enough of one: manual redirects and a cookie jar ------------------------

class Browser {
  constructor() {
    this.cookies = new Map();
    this.loginPagesSeen = 0;
  }

  cookieHeader() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let expired = false;
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=');
        const key = k.trim().toLowerCase();
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v.trim()) <= Date.now()) expired = true;
      }
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(url, { method = 'GET', form } = {}) {
    const headers = { accept: 'text/html,application/json;q=0.9' };
    if (this.cookies.size) headers.cookie = this.cookieHeader();
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const response = await fetch(url, { method, headers, body, redirect: 'manual' });
    this.store(response);
    const text = await response.text();
    return { url: String(url), status: response.status, location: response.headers.get('location'), text, response };
  }

  /**
   * Follows the front channel from `start` until the provider redirects to `target`
   * (the client's redirect URI or post-logout URI), signing in on the hosted login page if
   * it is shown. Returns the final URL (what the client's callback would receive).
   */
  async navigate(start, target, credentials) {
    let url = new URL(start);
    let next = { method: 'GET' };
    for (let hop = 0; hop < 12; hop++) {
      const res = await this.request(url, next);
      next = { method: 'GET' };
      if ([301, 302, 303, 307, 308].includes(res.status)) {
        check(res.location, `${res.status} without Location from ${url}`);
        const to = new URL(res.location, url);
        if (sameEndpoint(to, target)) return to;
        url = to;
        continue;
      }
      check(res.status === 200, `unexpected ${res.status} from ${url}`, res.text.slice(0, 500));
      const form = findForm(res.text, 'password');
      check(form && credentials, `page at ${url} is neither a redirect nor a login form`, res.text.slice(0, 500));
      this.loginPagesSeen += 1;
      check(form.fields.csrf_token, 'the login form has no csrf_token field');
      url = new URL(form.action || '', url);
      next = {
        method: (form.method || 'post').toUpperCase(),
        form: { ...form.fields, email: credentials.email, password: credentials.password },
      };
    }
    throw new AssertionFailed(`too many redirects starting at ${start}`);
  }
}

function sameEndpoint(url, target) {
  const t = new URL(target);
  return url.origin === t.origin && url.pathname === t.pathname;
}

function decodeEntities(s) {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attributes(tag) {
  const attrs = {};
  const re = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g;
  const inner = tag.replace(/^<\w+/, '').replace(/\/?>$/, '');
  for (const m of inner.matchAll(re)) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

/** The first form that has an input named `field`: its action, method and hidden fields. */
function findForm(html, field) {
  for (const m of html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/gi)) {
    const inputs = [...m[1].matchAll(/<input\b[^>]*>/gi)].map((i) => attributes(i[0]));
    if (!inputs.some((a) => a.name === field)) continue;
    const formAttrs = attributes(m[0].match(/^<form\b[^>]*>/i)[0]);
    const fields = {};
    for (const a of inputs) {
      if (a.name && (a.type || '').toLowerCase() === 'hidden') fields[a.name] = a.value ?? '';
    }
    return { action: formAttrs.action, method: formAttrs.method, fields };
  }
  return null;
}

// --- the flow ----------------------------------------------------------------------------

function clientAuthentication(cfg) {
  switch (cfg.clientAuth) {
    case 'client_secret_basic':
      return client.ClientSecretBasic(cfg.clientSecret);
    case 'client_secret_post':
      return client.ClientSecretPost(cfg.clientSecret);
    default:
      return client.None();
  }
}

async function authorize(config, cfg, browser, extra = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirectUri,
    scope: cfg.scope,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  const seenBefore = browser.loginPagesSeen;
  const callback = await browser.navigate(url, cfg.redirectUri, { email: cfg.email, password: cfg.password });
  return { callback, verifier, state, nonce, loginPageShown: browser.loginPagesSeen > seenBefore };
}

async function codeGrant(config, auth) {
  return client.authorizationCodeGrant(config, auth.callback, {
    pkceCodeVerifier: auth.verifier,
    expectedState: auth.state,
    expectedNonce: auth.nonce,
    idTokenExpected: true,
  });
}

async function main() {
  const cfg = readConfig();
  Object.assign(summary, { issuer: cfg.issuer, client_id: cfg.clientId, client_auth: cfg.clientAuth });
  const confidential = cfg.clientAuth !== 'none';
  const browser = new Browser();
  const now = () => Math.floor(Date.now() / 1000);

  // 1. Discovery (OIDC Discovery 1.0, RFC 8414).
  const { config, metadata } = await step('discovery', async () => {
    const raw = await (await fetch(new URL('/.well-known/openid-configuration', cfg.issuer))).json();
    check(raw.issuer === cfg.issuer, 'discovery issuer differs from the configured issuer', raw.issuer);
    const idAlg = raw.id_token_signing_alg_values_supported?.[0] ?? 'RS256';
    const config = await client.discovery(
      new URL(cfg.issuer),
      cfg.clientId,
      { id_token_signed_response_alg: idAlg },
      clientAuthentication(cfg),
      { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
    );
    const metadata = config.serverMetadata();
    for (const endpoint of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri',
      'revocation_endpoint', 'introspection_endpoint', 'end_session_endpoint']) {
      check(typeof metadata[endpoint] === 'string', `discovery lacks ${endpoint}`);
    }
    check(metadata.code_challenge_methods_supported?.includes('S256'), 'S256 not advertised');
    check(metadata.token_endpoint_auth_methods_supported?.includes(cfg.clientAuth),
      `token endpoint does not advertise ${cfg.clientAuth}`, metadata.token_endpoint_auth_methods_supported);
    summary.id_token_signing_alg = idAlg;
    return { config, metadata };
  });
  const JWKS = jose.createRemoteJWKSet(new URL(metadata.jwks_uri));

  // 2. Authorization code with PKCE S256, through the hosted login page.
  const first = await step('authorize', async () => {
    const auth = await authorize(config, cfg, browser);
    check(auth.loginPageShown, 'a browser without a session was not asked to sign in');
    check(auth.callback.searchParams.get('iss') === cfg.issuer, 'authorization response iss (RFC 9207)',
      auth.callback.searchParams.get('iss'));
    return auth;
  });

  // 3. Token request; openid-client checks the ID token (signature against the JWKS, since
  //    non-repudiation checks are on; iss, aud, azp, exp, iat, nonce, at_hash).
  const tokens = await step('token', async () => {
    const t = await codeGrant(config, first);
    check(t.token_type?.toLowerCase() === 'bearer', 'token_type', t.token_type);
    check(typeof t.access_token === 'string' && typeof t.refresh_token === 'string' && t.id_token,
      'token response lacks access, refresh or ID token', Object.keys(t));
    check(Number.isInteger(t.expires_in) && t.expires_in > 0, 'expires_in', t.expires_in);
    return t;
  });

  // 4. ID token claims.
  const idClaims = await step('id_token_claims', async () => {
    const c = tokens.claims();
    const header = jose.decodeProtectedHeader(tokens.id_token);
    check(c.iss === cfg.issuer && c.aud === cfg.clientId, 'ID token iss/aud', { iss: c.iss, aud: c.aud });
    check(c.nonce === first.nonce, 'ID token nonce');
    check(typeof c.acr === 'string' && metadata.acr_values_supported?.includes(c.acr),
      'ID token acr missing or not advertised', c.acr);
    check(c.acr === 'pwd', 'a password-only sign-in must be acr pwd', c.acr);
    check(Array.isArray(c.amr) && c.amr.includes('pwd'), 'ID token amr must be an array with pwd', c.amr);
    check(Number.isInteger(c.auth_time) && c.auth_time <= c.iat && c.auth_time > now() - 300,
      'ID token auth_time', { auth_time: c.auth_time, iat: c.iat });
    check(typeof c.sid === 'string' && c.sid.length > 0, 'ID token sid', c.sid);
    summary.id_token = { alg: header.alg, kid: header.kid, acr: c.acr, amr: c.amr, auth_time: c.auth_time, sid: c.sid, sub: c.sub };
    return c;
  });

  // 5. The access token as a resource server sees it: RFC 9068 with jose.
  const verifyAccessToken = async (token) => {
    const { payload, protectedHeader } = await jose.jwtVerify(token, JWKS, {
      issuer: cfg.issuer,
      audience: cfg.audience,
      typ: 'at+jwt',
      requiredClaims: ['iss', 'exp', 'aud', 'sub', 'client_id', 'iat', 'jti'],
    });
    return { payload, protectedHeader };
  };
  await step('access_token_jose', async () => {
    const { payload, protectedHeader } = await verifyAccessToken(tokens.access_token);
    check(protectedHeader.typ === 'at+jwt', 'access token typ', protectedHeader.typ);
    check(payload.client_id === cfg.clientId, 'access token client_id', payload.client_id);
    check(payload.sub === idClaims.sub, 'access token sub differs from ID token sub');
    check(String(payload.scope ?? '').split(' ').includes('openid'), 'access token scope', payload.scope);
    // RFC 9068 §2.2.1: authentication information as in the ID token.
    check(payload.acr === idClaims.acr && payload.auth_time === idClaims.auth_time
      && JSON.stringify(payload.amr) === JSON.stringify(idClaims.amr),
      'access token acr/amr/auth_time differ from the ID token',
      { acr: payload.acr, amr: payload.amr, auth_time: payload.auth_time });
    summary.access_token = {
      typ: protectedHeader.typ, alg: protectedHeader.alg, kid: protectedHeader.kid, aud: payload.aud,
      client_id: payload.client_id, scope: payload.scope, lifetime: payload.exp - payload.iat,
    };
  });

  // 6. UserInfo (OIDC Core 5.3); openid-client checks sub against the ID token's.
  await step('userinfo', async () => {
    const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
    check(info.sub === idClaims.sub, 'userinfo sub');
    check(info.email === cfg.email.toLowerCase(), 'userinfo email', info.email);
    summary.userinfo = info;
  });

  // 7. Refresh: a new refresh token every time (rotation), and OIDC Core 12.2 for the ID token.
  const refreshed = await step('refresh', async () => {
    const r = await client.refreshTokenGrant(config, tokens.refresh_token);
    check(typeof r.refresh_token === 'string' && r.refresh_token !== tokens.refresh_token,
      'refresh did not rotate the refresh token');
    check(r.access_token && r.access_token !== tokens.access_token, 'refresh gave no new access token');
    await verifyAccessToken(r.access_token);
    const c = r.claims();
    if (c) {
      check(c.iss === idClaims.iss && c.sub === idClaims.sub && c.aud === idClaims.aud,
        'refreshed ID token iss/sub/aud (OIDC Core 12.2)', c);
      check(c.auth_time === idClaims.auth_time, 'refreshed ID token auth_time must be the original one (OIDC Core 12.2)',
        { original: idClaims.auth_time, refreshed: c.auth_time });
    }
    summary.refresh = { rotated: true, id_token: Boolean(c) };
    return r;
  });

  // 8. The old refresh token again: invalid_grant, and (RFC 9700 §4.14.2) the family is gone.
  await step('refresh_token_reuse', async () => {
    const reuse = await expectOAuthError(() => client.refreshTokenGrant(config, tokens.refresh_token),
      'reusing a rotated refresh token');
    check(reuse.error === 'invalid_grant' && reuse.status === 400, 'reuse must answer 400 invalid_grant', reuse);
    const successor = await expectOAuthError(() => client.refreshTokenGrant(config, refreshed.refresh_token),
      'the successor of a reused refresh token (RFC 9700 §4.14.2)');
    check(successor.error === 'invalid_grant', 'the successor must be revoked after reuse', successor);
    summary.refresh.reuse_error = reuse.error;
    summary.refresh.family_revoked = true;
  });

  // 9. A second grant in the same browser session (single sign-on allowed, not required).
  const second = await step('second_grant', async () => {
    const auth = await authorize(config, cfg, browser);
    const t = await codeGrant(config, auth);
    summary.second_grant = { login_page_shown: auth.loginPageShown };
    return t;
  });

  // 10. Introspection (RFC 7662): confidential clients only.
  const introspect = async (token, hint) => client.tokenIntrospection(config, token, { token_type_hint: hint });
  if (confidential) {
    await step('introspection_active', async () => {
      const at = await introspect(second.access_token, 'access_token');
      check(at.active === true, 'a live access token must introspect active', at);
      check(at.client_id === cfg.clientId && at.sub === idClaims.sub, 'introspection client_id/sub', at);
      check(Number.isInteger(at.exp) && at.exp > now(), 'introspection exp', at.exp);
      const rt = await introspect(second.refresh_token, 'refresh_token');
      check(rt.active === true, 'a live refresh token must introspect active', rt);
      check(rt.client_id === cfg.clientId, 'refresh token introspection client_id', rt);
      summary.introspection = { access_token: at, refresh_token: rt };
    });
  } else {
    await step('introspection_refused_for_public_client', async () => {
      const refused = await expectOAuthError(() => introspect(second.access_token, 'access_token'),
        'introspection by a public client');
      check(refused.status === 401 && (refused.error === 'invalid_client' || refused.scheme === 'basic'),
        'introspection without client credentials must be refused with 401 invalid_client', refused);
      summary.introspection = { public_client_refused: refused };
    });
  }

  // 11. Revocation (RFC 7009): access token, then refresh token.
  const third = await step('refresh_before_revocation', async () => client.refreshTokenGrant(config, second.refresh_token));
  await step('revoke_access_token', async () => {
    await client.tokenRevocation(config, second.access_token, { token_type_hint: 'access_token' });
    const denied = await expectOAuthError(() => client.fetchUserInfo(config, second.access_token, idClaims.sub),
      'userinfo with a revoked access token');
    check(denied.status === 401 && denied.error === 'invalid_token', 'userinfo must answer 401 invalid_token', denied);
    if (confidential) {
      const at = await introspect(second.access_token, 'access_token');
      check(at.active === false, 'a revoked access token must introspect inactive', at);
      check(Object.keys(at).length === 1, 'an inactive token should be described by active:false alone (RFC 7662 §2.2)', at);
    }
    summary.revocation = { access_token: true };
  });
  await step('revoke_refresh_token', async () => {
    await client.tokenRevocation(config, third.refresh_token, { token_type_hint: 'refresh_token' });
    const refresh = await expectOAuthError(() => client.refreshTokenGrant(config, third.refresh_token),
      'refresh with a revoked refresh token');
    check(refresh.error === 'invalid_grant', 'a revoked refresh token must give invalid_grant', refresh);
    // RFC 7009 §2.1: revoking a refresh token SHOULD end the access tokens of its grant.
    const denied = await expectOAuthError(() => client.fetchUserInfo(config, third.access_token, idClaims.sub),
      'userinfo with an access token of a revoked grant');
    check(denied.status === 401, 'userinfo must answer 401 for an access token of a revoked grant', denied);
    if (confidential) {
      const rt = await introspect(third.refresh_token, 'refresh_token');
      check(rt.active === false, 'a revoked refresh token must introspect inactive', rt);
      const at = await introspect(third.access_token, 'access_token');
      check(at.active === false, 'an access token of a revoked grant must introspect inactive', at);
      summary.introspection.after_revocation = { access_token: at, refresh_token: rt };
    }
    // RFC 7009 §2.2: an unknown token is not an error.
    await client.tokenRevocation(config, `not-a-token-${randomUUID()}`);
    summary.revocation.refresh_token = true;
    summary.revocation.unknown_token_ok = true;
  });

  // 12. RP-initiated logout with id_token_hint, a registered post_logout_redirect_uri and state.
  await step('end_session', async () => {
    const state = client.randomState();
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: second.id_token,
      post_logout_redirect_uri: cfg.postLogoutRedirectUri,
      state,
    });
    const res = await browser.request(url);
    check([302, 303].includes(res.status) && res.location, 'end session must redirect',
      { status: res.status, body: res.text.slice(0, 300) });
    const to = new URL(res.location, url);
    check(sameEndpoint(to, cfg.postLogoutRedirectUri), 'end session redirected elsewhere', res.location);
    check(to.searchParams.get('state') === state, 'end session redirect must carry state', res.location);
    summary.logout = { status: res.status, location: res.location };
  });

  // 13. The OP session is over: prompt=none must now fail with login_required.
  await step('after_logout', async () => {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: cfg.redirectUri,
      scope: cfg.scope,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      prompt: 'none',
    });
    const callback = await browser.navigate(url, cfg.redirectUri, null);
    const err = await expectOAuthError(
      () => client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }),
      'prompt=none after logout');
    check(err.error === 'login_required', 'prompt=none after logout must answer login_required', err);
    summary.logout.prompt_none_after = err.error;
  });

  summary.ok = true;
}

try {
  await main();
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
} catch (err) {
  const detail = err instanceof AssertionFailed || err instanceof ConfigError
    ? err.message
    : `${err?.name ?? 'Error'}${err?.code ? ` [${err.code}]` : ''}: ${err?.message}${
      err?.cause ? ` (cause: ${JSON.stringify(err.cause, (k, v) => (v instanceof Map ? Object.fromEntries(v) : v))})` : ''}`;
  summary.failure = { step: currentStep, message: detail };
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  process.stderr.write(`flow.mjs FAILED at step "${currentStep}": ${detail}\n`);
  if (!(err instanceof AssertionFailed) && err?.stack) process.stderr.write(err.stack + '\n');
  process.exitCode = 1;
}
