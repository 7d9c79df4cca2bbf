// An API that accepts the provider's access tokens, verified with npm's jose as
// RFC 9068 §4 asks: the signature against the provider's JWKS, typ at+jwt (so an ID token
// is refused), iss, aud, exp.
//
//   npm install jose@6.2.17
//   OIDC_ISSUER=http://localhost:5000 node api.mjs
//
// then GET http://localhost:5005/api/me with "Authorization: Bearer <access token>".
// API_AUDIENCE is the aud to expect (default: the issuer, as the provider's
// IDP_ACCESS_TOKEN_AUDIENCE); PORT moves the API.

import { createServer } from 'node:http';
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';

const issuer = process.env.OIDC_ISSUER.replace(/\/$/, '');
const audience = process.env.API_AUDIENCE ?? issuer;
const port = Number(process.env.PORT ?? 5005);

const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
if (discovery.issuer !== issuer) throw new Error(`discovery names issuer ${discovery.issuer}, not ${issuer}`);
// Cached, fetched again when a token names a key it does not know (a rotation).
const JWKS = createRemoteJWKSet(new URL(discovery.jwks_uri));

async function verify(token) {
  const { payload } = await jwtVerify(token, JWKS, {
    typ: 'at+jwt',
    issuer,
    audience,
    algorithms: ['RS256', 'ES256', 'EdDSA'],
    requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti'],
  });
  return payload;
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

createServer(async (req, res) => {
  if (new URL(req.url, 'http://api').pathname !== '/api/me' || req.method !== 'GET') {
    return send(res, 404, { error: 'not_found' });
  }
  const [scheme, token, ...rest] = (req.headers.authorization ?? '').split(' ');
  if (!req.headers.authorization) {
    // RFC 6750 §3.1: no credentials, no error code.
    return send(res, 401, { error: 'unauthorized' }, { 'WWW-Authenticate': 'Bearer' });
  }
  if (scheme.toLowerCase() !== 'bearer' || !token || rest.length) {
    return send(res, 400, { error: 'invalid_request' }, { 'WWW-Authenticate': 'Bearer error="invalid_request"' });
  }
  try {
    const claims = await verify(token);
    send(res, 200, { sub: claims.sub, client_id: claims.client_id, scope: claims.scope, acr: claims.acr });
  } catch (err) {
    // The provider's JWKS could not be fetched: not the token's fault.
    if (err instanceof errors.JWKSTimeout || !(err instanceof errors.JOSEError)) {
      console.error(err);
      return send(res, 503, { error: 'temporarily_unavailable' }, { 'Retry-After': '10' });
    }
    send(res, 401, { error: 'invalid_token' }, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  }
}).listen(port, '127.0.0.1', () => console.log(`listening on http://localhost:${port}`));
