"""An API that accepts the provider's access tokens, verified with PyJWT as RFC 9068 §4
asks: the signature against the provider's JWKS (PyJWKClient), typ at+jwt (so an ID token
is refused), iss, aud, exp.

    pip install Flask "PyJWT[crypto]"
    OIDC_ISSUER=http://localhost:5000 python api.py

then GET http://localhost:5004/api/me with "Authorization: Bearer <access token>".
API_AUDIENCE is the aud to expect (default: the issuer, as the provider's
IDP_ACCESS_TOKEN_AUDIENCE); PORT moves the API.
"""

import json
import os
import urllib.request

import jwt
from flask import Flask, request

ISSUER = os.environ["OIDC_ISSUER"].rstrip("/")
AUDIENCE = os.environ.get("API_AUDIENCE") or ISSUER
ALGORITHMS = ["RS256", "ES256", "EdDSA"]

with urllib.request.urlopen(f"{ISSUER}/.well-known/openid-configuration", timeout=10) as response:
    discovery = json.load(response)
if discovery["issuer"] != ISSUER:
    raise SystemExit(f"discovery names issuer {discovery['issuer']}, not {ISSUER}")
# Caches the key set; a token naming a key it does not know (a rotation) fetches it again.
jwks = jwt.PyJWKClient(discovery["jwks_uri"], lifespan=300, timeout=10)

app = Flask(__name__)


class InvalidToken(Exception):
    pass


def verify(token: str) -> dict:
    try:
        # RFC 9068 §2.1: access tokens say typ at+jwt; ID tokens (typ JWT) must not pass.
        typ = jwt.get_unverified_header(token).get("typ", "")
        if typ.lower() not in ("at+jwt", "application/at+jwt"):
            raise InvalidToken(f"typ {typ!r} is not at+jwt")
        key = jwks.get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            issuer=ISSUER,
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "client_id", "jti"]},
        )
    except jwt.PyJWKClientConnectionError:
        raise  # the provider's JWKS could not be fetched: not the token's fault
    except (jwt.InvalidTokenError, jwt.PyJWKClientError) as error:
        raise InvalidToken(str(error)) from error


def challenge(status: int, value: str, error: str):
    return {"error": error}, status, {"WWW-Authenticate": value, "Cache-Control": "no-store"}


@app.get("/api/me")
def me():
    header = request.headers.get("Authorization")
    if header is None:
        # RFC 6750 §3.1: no credentials, no error code.
        return challenge(401, "Bearer", "unauthorized")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token or " " in token:
        return challenge(400, 'Bearer error="invalid_request"', "invalid_request")
    try:
        claims = verify(token)
    except InvalidToken:
        return challenge(401, 'Bearer error="invalid_token"', "invalid_token")
    except jwt.PyJWKClientConnectionError:
        app.logger.exception("the JWKS could not be fetched")
        return {"error": "temporarily_unavailable"}, 503, {"Retry-After": "10"}
    return {key: claims.get(key) for key in ("sub", "client_id", "scope", "acr")}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", 5004)))
