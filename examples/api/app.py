"""An API protected by the provider's access tokens, with step-up for sensitive routes.

Run the provider (`make run`, at http://localhost:5000), then, from the repository root::

    python examples/api/app.py --issuer http://localhost:5000 --port 5001 \
        --cors-origin http://localhost:5173      # the browser app of examples/spa

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
person is asked only for the factor that is missing. DPoP-bound tokens (RFC 9449, the
SPA's) come as `Authorization: DPoP <token>` with a `DPoP` proof; idp_resource checks
both. See examples/README.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Runnable from a checkout without installing the package (`pip install ./resource[flask]`),
# as a script or loaded from its file.
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "resource")]

from cross_origin import allow_origins  # noqa: E402
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
    cors_origins: Sequence[str] = (),
) -> Flask:
    """The example API; `app.extensions["resource_server"]` is its ResourceServer.
    `cors_origins`: the browser apps allowed to call it (their origins)."""
    rs = ResourceServer(
        issuer, audience, jwks_uri, discover=discover, min_refetch_interval=min_refetch_interval
    )
    app = Flask("example_api")
    app.extensions["resource_server"] = rs
    allow_origins(app, cors_origins)

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
    parser.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                        help="a browser app's origin allowed to call the API (repeatable)")
    args = parser.parse_args(argv)
    app = create_app(args.issuer, args.audience, args.jwks_uri, discover=args.discover, cors_origins=args.cors_origin)
    app.run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
