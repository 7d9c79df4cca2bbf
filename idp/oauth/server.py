"""The authlib AuthorizationServer, wired to our models and grants."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer as _FlaskServer
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import Flask, Response, current_app

from ..lockout.regulator import Locked

from ..extensions import db
from ..models import Client
from . import endpoints, grants

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


class AuthorizationServer(_FlaskServer):
    def query_client(self, client_id: str) -> Client | None:
        if not client_id or len(client_id) > 64 or "\x00" in client_id:
            return None  # (a Basic header can carry what the form check cannot see)
        return db.session.query(Client).filter_by(client_id=client_id).first()

    def save_token(self, token: dict, request) -> None:  # noqa: ANN001
        """Unused: our grants store what they issue in their own transaction."""

    def authenticate_client(self, request, methods, endpoint="token"):  # noqa: ANN001, ANN201
        """Failed client authentications are limited per client_id like sign-ins, but a
        locked client_id still lets the right secret through: client_ids are public, and
        a lock anyone could set would take every sign-in to that app down. Guesses during
        the lock are refused (429) and get no answer about the secret."""
        client_id = _presented_client_id(request)
        if client_id is None:
            return super().authenticate_client(request, methods, endpoint)
        regulator = current_app.extensions["idp.regulator"]
        try:
            reservation = regulator.reserve_client(client_id)
        except Locked as locked:
            try:
                client = super().authenticate_client(request, methods, endpoint)
            except OAuth2Error:
                raise ClientLocked(locked.retry_after) from None
            return client
        client = super().authenticate_client(request, methods, endpoint)
        regulator.client_succeeded(reservation)
        return client

    def validate_requested_scope(self, scope: str | None) -> None:
        """RFC 6749 §3.3: scopes we do not know are ignored, not an error; the client's
        allowed scopes then decide (Client.get_allowed_scope)."""

    def create_oauth2_request(self, request):  # noqa: ANN001, ANN201
        if isinstance(request, StoredAuthorizationRequest):
            return request
        return super().create_oauth2_request(request)

    def handle_error_response(self, request, error) -> Response:  # noqa: ANN001
        response = super().handle_error_response(request, error)
        if response.status_code == 302:
            return response
        # RFC 6749 §5.2: errors are not cached either; a failed client authentication
        # answers 401 whichever method the client tried.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        if error.error == "invalid_client" and response.status_code != 429:
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Basic realm="idp"'
        return response


class ClientLocked(OAuth2Error):
    error = "invalid_client"
    status_code = 429

    def __init__(self, retry_after: int):
        super().__init__(description="too many failed client authentications; try again later")
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


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
