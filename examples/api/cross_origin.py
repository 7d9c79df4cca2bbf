"""CORS for the browser apps that call the API (Fetch standard, "CORS protocol"): only the
origins given, never a wildcard, and the headers a DPoP client sends and must read."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, request


def allow_origins(app: Flask, origins: Iterable[str]) -> None:
    """Answer preflights and let `origins` read responses, including WWW-Authenticate: a
    browser app must see RFC 9470's challenge to step up, and RFC 9449's to learn that a
    proof was refused."""
    allowed = frozenset(o.rstrip("/") for o in origins)

    @app.after_request
    def cors(response: Response) -> Response:
        origin = request.headers.get("Origin")
        response.vary.add("Origin")
        if origin not in allowed:
            return response
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "WWW-Authenticate, DPoP-Nonce"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, DPoP, Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
        return response
