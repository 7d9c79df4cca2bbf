// A Node web app that signs people in with the provider, through npm's openid-client (v6):
// a confidential client, authorization code with PKCE (S256) and a nonce, the provider's
// endpoints from its discovery document, sign-out through its end-session endpoint.
//
//   npm install openid-client@6.8.9
//   OIDC_ISSUER=http://localhost:5000 OIDC_CLIENT_ID=… OIDC_CLIENT_SECRET=… node app.mjs
//
// then open http://localhost:5003 (APP_URL moves it). Sessions live in this process's
// memory: one process, and a restart signs everyone out of the app.

import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';

const issuer = new URL(process.env.OIDC_ISSUER);
const appUrl = new URL(process.env.APP_URL ?? 'http://localhost:5003');
const redirectUri = new URL('/callback', appUrl).href;
const postLogoutRedirectUri = new URL('/signed-out', appUrl).href;

// openid-client refuses plain http; allow it only for a provider on localhost (development).
const execute = issuer.hostname === 'localhost' ? [client.allowInsecureRequests] : [];
const config = await client.discovery(issuer, process.env.OIDC_CLIENT_ID, process.env.OIDC_CLIENT_SECRET,
  undefined, { execute });

// Cookies do not tell ports apart: on localhost the provider's and the app's would mix.
const COOKIE = 'node_app_session';
const sessions = new Map();

function sessionOf(req, res) {
  const sid = new URLSearchParams(req.headers.cookie?.replaceAll('; ', '&') ?? '').get(COOKIE);
  if (sid && sessions.has(sid)) return sessions.get(sid);
  const id = randomBytes(32).toString('base64url');
  const session = {};
  sessions.set(id, session);
  res.setHeader('Set-Cookie', `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax`);
  return session;
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, body, status = 200) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`<!doctype html><html lang="en"><meta charset="utf-8"><title>Node app</title>${body}</html>`);
}

function redirect(res, location) {
  res.writeHead(302, { Location: String(location) });
  res.end();
}

const routes = {
  '/': (req, res, session) => {
    if (!session.claims) return page(res, '<p><a id="sign-in" href="/login">Sign in</a></p>');
    page(res, `<p>Signed in as <strong id="email">${escape(session.claims.email)}</strong></p>
      <pre id="claims">${escape(JSON.stringify(session.claims, null, 2))}</pre>
      <p><a id="sign-out" href="/logout">Sign out</a></p>`);
  },

  '/login': async (req, res, session) => {
    session.pending = {
      codeVerifier: client.randomPKCECodeVerifier(),
      state: client.randomState(),
      nonce: client.randomNonce(),
    };
    redirect(res, client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid profile email',
      code_challenge: await client.calculatePKCECodeChallenge(session.pending.codeVerifier),
      code_challenge_method: 'S256',
      state: session.pending.state,
      nonce: session.pending.nonce,
    }));
  },

  '/callback': async (req, res, session) => {
    const pending = session.pending;
    if (!pending) return page(res, '<p id="error">No sign-in in progress.</p><p><a href="/">Start again</a></p>', 400);
    delete session.pending;
    // Checks state and iss (RFC 9207), exchanges the code with the secret and the PKCE
    // verifier, and verifies the ID token (signature against the JWKS, iss, aud, exp, nonce).
    const tokens = await client.authorizationCodeGrant(config, new URL(req.url, appUrl), {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    // The ID token says who signed in and how (sub, acr, amr); userinfo adds what the
    // scopes release (email, name).
    const idClaims = tokens.claims();
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
    session.claims = { ...idClaims, ...userinfo };
    session.idToken = tokens.id_token;
    redirect(res, '/');
  },

  '/logout': (req, res, session) => {
    const idToken = session.idToken;
    delete session.claims;
    delete session.idToken;
    if (!idToken) return redirect(res, '/');
    // RP-Initiated Logout 1.0: with id_token_hint the provider ends its session at once
    // and sends the browser back to the registered post_logout_redirect_uri, with state.
    session.logoutState = client.randomState();
    redirect(res, client.buildEndSessionUrl(config, {
      id_token_hint: idToken,
      post_logout_redirect_uri: postLogoutRedirectUri,
      state: session.logoutState,
    }));
  },

  '/signed-out': (req, res, session) => {
    const state = new URL(req.url, appUrl).searchParams.get('state');
    const expected = session.logoutState;
    delete session.logoutState;
    if (!expected || state !== expected) return page(res, '<p>Unexpected sign-out response.</p>', 400);
    page(res, '<p id="signed-out">You have signed out.</p><p><a id="sign-in" href="/login">Sign in again</a></p>');
  },
};

createServer(async (req, res) => {
  const route = routes[new URL(req.url, appUrl).pathname];
  if (!route || req.method !== 'GET') return page(res, '<p>Not found.</p>', 404);
  try {
    await route(req, res, sessionOf(req, res));
  } catch (err) {
    // A refused code, a bad state or a forged ID token: the sign-in fails, the app does not.
    console.error(err);
    page(res, `<p id="error">Sign-in failed: ${escape(err.message)}</p><p><a href="/">Start again</a></p>`, 400);
  }
}).listen(Number(appUrl.port || 80), '127.0.0.1', () => console.log(`listening on ${appUrl.href}`));
