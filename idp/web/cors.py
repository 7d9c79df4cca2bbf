"""CORS for the endpoints a browser app calls (token, revocation, userinfo): only the
origins of public clients' registered redirect URIs, never a wildcard. The authorization
endpoint has none: it is navigated to, not fetched."""

from __future__ import annotations

from flask import Response, request

from ..oauth import client_lookup


def _allow(response: Response, origin: str) -> Response:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"
    return response


def for_client(response: Response) -> Response:
    """Token and revocation: the origin must belong to the client named in the request."""
    origin = request.headers.get("Origin")
    client_id = request.form.get("client_id")
    if origin and client_id:
        client = client_lookup.find(client_id)
        if client is not None and origin in client.cors_origins:
            return _allow(response, origin)
    return response


def for_token(response: Response, claims: dict | None) -> Response:
    """Userinfo: the origin must belong to the client the access token was issued to (or,
    for a refusal that names no client, to some public client, so the app can read it)."""
    origin = request.headers.get("Origin")
    if origin and claims:
        client = client_lookup.find(claims.get("client_id"))
        if client is not None and origin in client.cors_origins:
            return _allow(response, origin)
    elif origin and _any_public_client_has(origin):
        return _allow(response, origin)
    response.headers["Vary"] = "Origin"
    return response


def _any_public_client_has(origin: str) -> bool:
    return origin in client_lookup.public_origins()


def preflight() -> Response:
    response = Response(status=204)
    origin = request.headers.get("Origin")
    if origin and _any_public_client_has(origin):
        _allow(response, origin)
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, DPoP"
        response.headers["Access-Control-Max-Age"] = "600"
    return response
