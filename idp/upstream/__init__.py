"""The client side of OpenID Connect, for signing people in at an upstream provider (Google,
or any OIDC provider): discovery, the authorization request (code, PKCE S256, state, nonce),
the response's `iss` (RFC 9207), the token exchange, and the ID token checked against the
provider's JWKS. No Flask request or session here: idp.authn.upstream decides what a
verified identity may do, idp.web.upstream carries the browser."""
