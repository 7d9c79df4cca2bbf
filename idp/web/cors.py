"""CORS for the endpoints a browser app calls (token, revocation, userinfo): only the
origins of public clients' registered redirect URIs, never a wildcard. The authorization
endpoint has none: it is navigated to, not fetched."""

from __future__ import annotations

from flask import Response, request

from ..oauth import client_lookup


def _allow(origin: str) -> list[tuple[str, str]]:
    return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]


def for_client(origin: str | None, client_id: str | None) -> list[tuple[str, str]]:
    """Token and revocation: the origin must belong to the client named in the request."""
    if origin and client_id:
        client = client_lookup.find(client_id)
        if client is not None and origin in client.cors_origins:
            return _allow(origin)
    return []


def for_token(origin: str | None, claims: dict | None) -> list[tuple[str, str]]:
    """Userinfo: the origin must belong to the client the access token was issued to (or,
    for a refusal that names no client, to some public client, so the app can read it)."""
    if origin and claims:
        client = client_lookup.find(claims.get("client_id"))
        if client is not None and origin in client.cors_origins:
            return _allow(origin)
    elif origin and _any_public_client_has(origin):
        return _allow(origin)
    return [("Vary", "Origin")]


def _any_public_client_has(origin: str) -> bool:
    return origin in client_lookup.public_origins()


def preflight() -> Response:
    response = Response(status=204)
    origin = request.headers.get("Origin")
    if origin and _any_public_client_has(origin):
        response.headers.update(_allow(origin))
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, DPoP"
        response.headers["Access-Control-Max-Age"] = "600"
    return response
