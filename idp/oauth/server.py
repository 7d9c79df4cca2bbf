"""The authlib AuthorizationServer, wired to our models and grants."""

from __future__ import annotations

import base64
import binascii
import json
from typing import NamedTuple

from authlib.integrations.flask_oauth2 import AuthorizationServer as _FlaskServer
from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Flask, Response, current_app

from ..lockout.regulator import Locked
from . import client_lookup, endpoints, grants
from .client_lookup import RegisteredClient

SCOPES_SUPPORTED = ["openid", "profile", "email", "offline_access"]


class StoredAuthorizationRequest(OAuth2Request):
    """An authorization request replayed from a pending flow after the person signed in."""

    def __init__(self, params: dict[str, str], uri: str):
        super().__init__("GET", uri)
        self.payload = BasicOAuth2Payload(params)

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data

    @property
    def form(self) -> dict[str, str]:
        return {}


class Answer(NamedTuple):
    """What the token, revocation, introspection and userinfo endpoints answer, before any
    framework wraps it: the Flask views and the WSGI layer (web/json_endpoints) send the same."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]

    def response(self) -> Response:
        response = Response(self.body, status=self.status, headers=self.headers)
        if not self.body and not any(name.lower() == "content-type" for name, _ in self.headers):
            del response.headers["Content-Type"]  # not werkzeug's text/html for an empty 401
        return response


class FormRequest(OAuth2Request):
    """A form-encoded POST, parsed from the WSGI environ without Flask's request object
    (web/json_endpoints): the same method, URI, headers and parameters authlib reads."""

    def __init__(self, method: str, uri: str, headers, items: list[tuple[str, str]]):  # noqa: ANN001
        super().__init__(method, uri, headers=headers)
        self.payload = _FormPayload(items)

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


class _FormPayload(BasicOAuth2Payload):
    def __init__(self, items: list[tuple[str, str]]):
        # The first of a repeated parameter, as werkzeug's MultiDict gives; the lists keep
        # them all (authlib's `datalist`).
        self._data = {}
        self._datalist = {}
        for key, value in items:
            self._data.setdefault(key, value)
            self._datalist.setdefault(key, []).append(value)


class AuthorizationServer(_FlaskServer):
    def query_client(self, client_id: str) -> RegisteredClient | None:
        return client_lookup.find(client_id)

    def save_token(self, token: dict, request) -> None:  # noqa: ANN001
        """Unused: our grants store what they issue in their own transaction."""

    def authenticate_client(self, request, methods, endpoint="token"):  # noqa: ANN001, ANN201
        """Only failed client authentications are charged to the client_id's counter: a
        256-bit secret cannot be guessed, so a correct one costs no round trip to Redis, and
        a lock (which anyone could set, client_ids being public) never keeps the right
        secret out. A wrong secret while the counter is locked gets 429, not an answer."""
        _check_basic_credentials(request.headers)
        try:
            return super().authenticate_client(request, methods, endpoint)
        except OAuth2Error as error:
            client_id = _presented_client_id(request) if error.error == "invalid_client" else None
            if client_id is None:
                raise
            try:
                current_app.extensions["idp.regulator"].client_failed(client_id)
            except Locked as locked:
                raise ClientLocked(locked.retry_after) from None
            raise

    def validate_requested_scope(self, scope: str | None) -> None:
        """RFC 6749 §3.3: scopes we do not know are ignored, not an error; the client's
        allowed scopes then decide (Client.get_allowed_scope)."""

    def create_oauth2_request(self, request):  # noqa: ANN001, ANN201
        if isinstance(request, (StoredAuthorizationRequest, FormRequest)):
            return request
        return super().create_oauth2_request(request)

    def handle_response(self, status_code: int, payload, headers) -> Answer:  # noqa: ANN001
        body = json.dumps(payload) if isinstance(payload, dict) else (payload or "")
        return Answer(status_code, body.encode() if isinstance(body, str) else body, list(headers))

    def handle_error_response(self, request, error) -> Answer:  # noqa: ANN001
        answer = super().handle_error_response(request, error)
        if answer.status == 302:
            return answer
        # RFC 6749 §5.2: errors are not cached either; a failed client authentication
        # answers 401 whichever method the client tried.
        headers = [(k, v) for k, v in answer.headers if k.lower() not in ("cache-control", "pragma")]
        headers += [("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        status = answer.status
        if error.error == "invalid_client" and status != 429:
            status = 401
            headers = [(k, v) for k, v in headers if k.lower() != "www-authenticate"]
            headers.append(("WWW-Authenticate", 'Basic realm="idp"'))
        return Answer(status, answer.body, headers)


class ClientLocked(OAuth2Error):
    error = "invalid_client"
    status_code = 429

    def __init__(self, retry_after: int):
        super().__init__(description="too many failed client authentications; try again later")
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


def _check_basic_credentials(headers) -> None:  # noqa: ANN001
    """RFC 7617 §2.1: our credentials are UTF-8; authlib fails on anything else, and on a
    scheme followed by blanks alone."""
    header = headers.get("Authorization") or ""
    parts = header.split(None, 1)
    if " " in header and len(parts) < 2:
        raise InvalidClientError(description="the Authorization header has a scheme but no credentials")
    if not parts or parts[0].lower() != "basic":
        return
    try:
        base64.b64decode(parts[1]).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidClientError(description="the Basic credentials are not UTF-8") from None
    except binascii.Error:
        return  # not base64: authlib sees no credentials, and says so


def _presented_client_id(request) -> str | None:  # noqa: ANN001
    """The client_id of a request that presents a secret (public clients have none to guess)."""
    client_id, secret = extract_basic_authorization(request.headers)
    if client_id and secret:
        return client_id[:64]
    form = request.form
    if form.get("client_id") and form.get("client_secret"):
        return form["client_id"][:64]
    return None


def create_server(app: Flask) -> AuthorizationServer:
    server = AuthorizationServer()
    server.init_app(app)
    server.scopes_supported = SCOPES_SUPPORTED
    server.register_grant(grants.AuthorizationCodeGrant)
    server.register_grant(grants.RefreshTokenGrant)
    server.register_grant(grants.ClientCredentialsGrant)
    server.register_endpoint(endpoints.RevocationEndpoint)
    server.register_endpoint(endpoints.IntrospectionEndpoint)
    server.register_endpoint(endpoints.EndSessionEndpoint)
    return server
