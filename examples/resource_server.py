"""An API protected by the provider's access tokens, with step-up for sensitive routes.

Run the provider (`make run`, at http://localhost:5000), then, from the repository root::

    python examples/resource_server.py --issuer http://localhost:5000 --port 5001

and call it with an access token from the provider's token endpoint::

    curl -i -H "Authorization: Bearer $AT" http://127.0.0.1:5001/api/profile
    curl -i -H "Authorization: Bearer $AT" http://127.0.0.1:5001/api/admin
    curl -i -X POST -H "Authorization: Bearer $AT" http://127.0.0.1:5001/api/payment

Routes:

* `GET /api/profile`: any valid token;
* `GET /api/admin`: a token whose sign-in reached `acr` mfa (or phr);
* `POST /api/payment`: mfa, and a sign-in at most 300 seconds old.

A token that falls short gets RFC 9470's challenge, for instance::

    HTTP/1.1 401 UNAUTHORIZED
    WWW-Authenticate: Bearer error="insufficient_user_authentication",
        error_description="A stronger authentication is required", acr_values="mfa"

and the client asks the provider again with `acr_values=mfa` (and `max_age=300`): the
person is asked only for the factor that is missing. See examples/README.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Runnable from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask, g  # noqa: E402

from idp_resource import ResourceServer  # noqa: E402

#: Seconds a payment may follow the sign-in (RFC 9470 max_age).
PAYMENT_MAX_AGE = 300


def create_app(
    issuer: str,
    audience: str | None = None,
    jwks_uri: str | None = None,
    *,
    discover: bool = False,
    min_refetch_interval: float = 10,
) -> Flask:
    """The example API; `app.extensions["resource_server"]` is its ResourceServer."""
    rs = ResourceServer(
        issuer, audience, jwks_uri, discover=discover, min_refetch_interval=min_refetch_interval
    )
    app = Flask("resource_server")
    app.extensions["resource_server"] = rs

    def who() -> dict:
        claims = g.token_claims
        return {k: claims.get(k) for k in ("sub", "client_id", "scope", "acr", "amr", "auth_time")}

    @app.get("/api/profile")
    @rs.require_token()
    def profile() -> dict:
        return who()

    @app.get("/api/admin")
    @rs.require_token(acr="mfa")
    def admin() -> dict:
        return {**who(), "admin": True}

    @app.post("/api/payment")
    @rs.require_token(acr="mfa", max_age=PAYMENT_MAX_AGE)
    def payment() -> dict:
        return {**who(), "payment": "accepted"}

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuer", default="http://localhost:5000", help="the provider's issuer URL")
    parser.add_argument("--audience", default=None, help="expected aud (default: the issuer)")
    parser.add_argument("--jwks-uri", default=None, help="default: ISSUER/jwks.json")
    parser.add_argument("--discover", action="store_true", help="take jwks_uri from the discovery document")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    args = parser.parse_args(argv)
    app = create_app(args.issuer, args.audience, args.jwks_uri, discover=args.discover)
    app.run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
