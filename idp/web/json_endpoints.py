"""The endpoints that machines call on every request (token, revocation, introspection,
userinfo), answered before Flask.

Through Flask a token request paid about 160 µs for the framework alone (request context,
session, CSRF and NUL hooks, werkzeug's form and URL parsing, the Response object), a
quarter of a `client_credentials` request including its RS256 signature (issue 8). Here the
WSGI environ becomes authlib's request directly, inside an application context (the
database session, the caches), and authlib's answer goes out as it is.

Only the ordinary shape is taken: a POST of a form with a Content-Length within the limit
(or a GET of userinfo), no query string, no NUL. Anything else (chunked, too large, another
content type, a query string, malformed text) goes on to the Flask views, which call the
same functions and add the same error handling. An exception raised in here is answered by the app's own error
handlers (a lost database is 503, anything unexpected 500 and logged), so both ways in
answer alike.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from flask import Flask
from werkzeug.http import HTTP_STATUS_CODES

from .. import metrics
from ..oauth import userinfo as userinfo_endpoint
from ..oauth.server import Answer, AuthorizationServer, FormRequest
from . import cors
from .middleware import ENDPOINT

_FORM = "application/x-www-form-urlencoded"


def token(server: AuthorizationServer, request: Any = None, *, origin: str | None, client_id: str | None,
          grant_type: str | None) -> Answer:
    """POST /token (request None: Flask's current request)."""
    # Before the grant runs: the lookup may read Redis or the database, and on PostgreSQL a
    # refresh's rotation commits inside the grant; a failure after it would leave the app a
    # rotated token whose retry is a reuse (oauth.grants).
    allowed = cors.for_client(origin, client_id)
    answer = _with(server.create_token_response(request), allowed)
    if answer.status == 200:
        metrics.token_issued(grant_type)
    return answer


def revocation(server: AuthorizationServer, request: Any = None, *, origin: str | None, client_id: str | None) -> Answer:
    """POST /revoke (RFC 7009)."""
    allowed = cors.for_client(origin, client_id)  # before the revocation commits, as for a token
    return _with(server.create_endpoint_response("revocation", request), allowed)


def introspection(server: AuthorizationServer, request: Any = None) -> Answer:
    """POST /introspect (RFC 7662): never cached, whatever it says."""
    answer = server.create_endpoint_response("introspection", request)
    headers = [(k, v) for k, v in answer.headers if k.lower() != "cache-control"]
    return Answer(answer.status, answer.body, [*headers, ("Cache-Control", "no-store")])


def userinfo(headers, method: str, form_token: str | None) -> Answer:  # noqa: ANN001
    """GET or POST /userinfo (OIDC Core §5.3)."""
    scheme, value = userinfo_endpoint.presented_token(headers.get("Authorization", ""), form_token)
    answer, claims = userinfo_endpoint.answer(scheme, value, headers, method)
    return _with(answer, cors.for_token(headers.get("Origin"), claims))


def _with(answer: Answer, headers: list[tuple[str, str]]) -> Answer:
    return Answer(answer.status, answer.body, [*answer.headers, *headers]) if headers else answer


class RequestHeaders:
    """The request's headers as authlib, the DPoP check and CORS read them, straight from
    the environ: werkzeug's EnvironHeaders walks the whole environ for `len()` and
    `getlist()`, which authlib and the DPoP check call on every request. A header sent twice
    arrives joined by the server (PEP 3333), as it does through EnvironHeaders."""

    __slots__ = ("environ",)

    def __init__(self, environ: dict[str, Any]):
        self.environ = environ

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.upper().replace("-", "_")
        return self.environ.get(key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key, default)

    def getlist(self, name: str) -> list[str]:
        value = self.get(name)
        return [] if value is None else [value]

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __bool__(self) -> bool:
        return True


class Parsed(NamedTuple):
    """A request as this layer took it from the environ."""

    method: str
    uri: str
    headers: RequestHeaders
    items: list[tuple[str, str]]

    def oauth2(self) -> FormRequest:
        return FormRequest(self.method, self.uri, self.headers, self.items)


def _form_token(server: AuthorizationServer, parsed: Parsed) -> Answer:
    request = parsed.oauth2()
    form = request.form
    return token(server, request, origin=parsed.headers.get("Origin"), client_id=form.get("client_id"),
                 grant_type=form.get("grant_type"))


def _form_revocation(server: AuthorizationServer, parsed: Parsed) -> Answer:
    request = parsed.oauth2()
    return revocation(server, request, origin=parsed.headers.get("Origin"), client_id=request.form.get("client_id"))


def _form_introspection(server: AuthorizationServer, parsed: Parsed) -> Answer:
    return introspection(server, parsed.oauth2())


def _userinfo(server: AuthorizationServer, parsed: Parsed) -> Answer:
    form_token = next((value for key, value in parsed.items if key == "access_token"), None)
    return userinfo(parsed.headers, parsed.method, form_token)


ROUTES: dict[tuple[str, str], Callable[[AuthorizationServer, Parsed], Answer]] = {
    ("POST", "/token"): _form_token,
    ("POST", "/revoke"): _form_revocation,
    ("POST", "/introspect"): _form_introspection,
    ("POST", "/userinfo"): _userinfo,
    ("GET", "/userinfo"): _userinfo,
}


def _form_items(environ: dict[str, Any], limit: int | None) -> list[tuple[str, str]] | None:
    """The parameters of an ordinary form POST, or None for anything Flask should see."""
    if environ.get("QUERY_STRING") or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    mimetype, _, options = environ.get("CONTENT_TYPE", "").partition(";")
    if mimetype.strip().lower() != _FORM or (options.strip() and options.strip().lower() != "charset=utf-8"):
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if length < 0 or (limit is not None and length > limit):
        return None
    body = environ["wsgi.input"].read(length) if length else b""
    # Flask may still need the body (a fall-through): it reads the same bytes again.
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        items = parse_qsl(body.decode("ascii"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None  # werkzeug's tolerant decoding decides what it means
    if any("\x00" in k or "\x00" in v for k, v in items):
        return None  # Flask's hook answers 400
    return items


class JsonEndpoints:
    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], app: Flask):
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        route = ROUTES.get((method, path))
        if route is None:
            return self.wsgi_app(environ, start_response)
        if method == "GET":
            bodiless = environ.get("CONTENT_LENGTH") in (None, "", "0") and not environ.get("HTTP_TRANSFER_ENCODING")
            items = [] if bodiless and not environ.get("QUERY_STRING") else None
        else:
            items = _form_items(environ, self.app.config["MAX_CONTENT_LENGTH"])
        if items is None:
            return self.wsgi_app(environ, start_response)
        environ[ENDPOINT] = path
        headers = RequestHeaders(environ)
        uri = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST') or environ.get('SERVER_NAME', '')}{path}"
        with self.app.app_context():
            try:
                server = self.app.extensions["idp.authorization_server"]
                answer = route(server, Parsed(method, uri, headers, items))
            except Exception as exc:  # noqa: BLE001 - the app's own handlers answer it
                return self._error(environ, start_response, exc)
        sent = [*answer.headers, ("Content-Length", str(len(answer.body)))]
        start_response(f"{answer.status} {HTTP_STATUS_CODES.get(answer.status, 'UNKNOWN').upper()}", sent)
        return [answer.body]

    def _error(self, environ: dict[str, Any], start_response: Callable[..., Any], exc: Exception) -> Iterable[bytes]:
        with self.app.request_context(environ):
            response = self.app.make_response(self.app.handle_user_exception(exc))
            return response(environ, start_response)

