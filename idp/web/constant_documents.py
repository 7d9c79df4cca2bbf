"""Discovery and the JWKS, answered before Flask.

They are the same bytes for every caller, and relying parties and resource servers fetch
them on every start and on every unknown `kid`. Through Flask (request context, session,
hooks) a discovery request cost three times what a bare Flask route does (issue 8); here it
is a dictionary lookup and an ETag comparison. A request this layer does not recognise
exactly (another method, a query string) goes on to the Flask views, which answer the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from flask import Flask
from werkzeug.http import parse_etags

from .middleware import ENDPOINT


class Document(NamedTuple):
    body: bytes
    etag: str
    max_age: int


def discovery(app: Flask) -> Document:
    body, etag = app.extensions["idp.discovery"]
    return Document(body, etag, 3600)


def jwks(app: Flask) -> Document:
    snap = app.extensions["idp.keys"].snapshot()
    # Short enough that a resource server sees the next key long before it signs anything,
    # and stops trusting a revoked one within a minute (issue 9, item 14).
    return Document(snap.jwks_body, snap.jwks_etag, 60)


DOCUMENTS: dict[str, Callable[[Flask], Document]] = {
    "/.well-known/openid-configuration": discovery,
    "/.well-known/oauth-authorization-server": discovery,
    "/jwks.json": jwks,
}


def headers(document: Document, not_modified: bool) -> list[tuple[str, str]]:
    """What both this layer and the Flask views send with a document."""
    sent = [
        ("ETag", f'"{document.etag}"'),
        ("Cache-Control", f"public, max-age={document.max_age}"),
        ("Access-Control-Allow-Origin", "*"),
    ]
    if not not_modified:
        sent += [("Content-Type", "application/json"), ("Content-Length", str(len(document.body)))]
    return sent


def not_modified(document: Document, if_none_match: str | None) -> bool:
    # RFC 9110 §13.1.2: If-None-Match uses the weak comparison.
    return bool(if_none_match) and parse_etags(if_none_match).contains_weak(document.etag)


class ConstantDocuments:
    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], app: Flask):
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        load = DOCUMENTS.get(path)
        method = environ.get("REQUEST_METHOD")
        if load is None or method not in ("GET", "HEAD") or environ.get("QUERY_STRING"):
            return self.wsgi_app(environ, start_response)
        try:
            with self.app.app_context():  # the key cache may reload from the database
                document = load(self.app)
        except Exception:  # noqa: BLE001 - Flask's error handling answers it (a 503 page)
            return self.wsgi_app(environ, start_response)
        environ[ENDPOINT] = path
        unchanged = not_modified(document, environ.get("HTTP_IF_NONE_MATCH"))
        start_response("304 NOT MODIFIED" if unchanged else "200 OK", headers(document, unchanged))
        return [] if unchanged or method == "HEAD" else [document.body]
