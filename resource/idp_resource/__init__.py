"""A resource server's side of this provider: verify its JWT access tokens (RFC 9068) and
ask for step-up authentication when a token is not strong or recent enough (RFC 9470).

The core is framework-free and needs only the standard library and joserfc, one job per
module:

* `jwks.JwksCache` fetches and caches the provider's JWKS (RFC 7517), looking it up again
  once when a token names a key it does not know (rate-limited);
* `access_token.AccessTokenVerifier.verify` checks an access token as RFC 9068 §4 asks;
* `requirements.check_authentication` says whether the claims meet a route's `acr` / `max_age`;
* `challenges.www_authenticate` builds RFC 6750 §3 / RFC 9470 §3 challenges;
* `dpop.verify_proof` and `dpop.ProofChecker` check DPoP proofs (RFC 9449) for
  DPoP-bound tokens.

`flask_decorator.ResourceServer` wraps these for Flask (imported only when a decorated
view runs)::

    rs = ResourceServer("https://id.example.com")

    @app.get("/api/payment")
    @rs.require_token(scope="payments", acr="mfa", max_age=300)
    def payment():
        return {"sub": g.token_claims["sub"]}

It installs on its own (`pip install ./resource`, or `./resource[flask]` with Flask).
Nothing here touches the provider's database, Redis or application: a resource server sees
only what any stranger sees over HTTP (the JWKS, optionally the discovery document).
"""

from __future__ import annotations

from .access_token import ACCESS_TOKEN_TYPES, REQUIRED_CLAIMS, AccessTokenVerifier
from .challenges import www_authenticate
from .dpop import InvalidProof, ProofChecker, verify_proof
from .errors import InvalidToken, KeySetUnavailable
from .flask_decorator import ResourceServer
from .jwks import ACCEPTED_ALGS, JwksCache, fetch_json
from .requirements import Shortfall, check_authentication

__all__ = [
    "ACCEPTED_ALGS",
    "ACCESS_TOKEN_TYPES",
    "REQUIRED_CLAIMS",
    "AccessTokenVerifier",
    "InvalidProof",
    "InvalidToken",
    "JwksCache",
    "KeySetUnavailable",
    "ProofChecker",
    "ResourceServer",
    "Shortfall",
    "check_authentication",
    "fetch_json",
    "verify_proof",
    "www_authenticate",
]
