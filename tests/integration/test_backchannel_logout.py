"""OpenID Connect Back-Channel Logout 1.0: a test RP on loopback receives the logout token
when the session ends, and validates it with PyJWT against the JWKS."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode

import jwt as pyjwt
import pytest

from idp import accounts
from idp import clients as client_registry
from idp.extensions import db
from idp.models import User
from tests.helpers import TestClient as Registered

EVENT = "http://schemas.openid.net/event/backchannel-logout"


class Receiver:
    """A relying party's back-channel endpoint: records logout tokens; answers 500 to the
    first `failures` deliveries."""

    def __init__(self, failures: int = 0):
        self.tokens: list[str] = []
        self.failures = failures
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with receiver.arrived:
                    if receiver.failures > 0:
                        receiver.failures -= 1
                        self.send_response(500)
                    else:
                        receiver.tokens.append(parse_qs(body)["logout_token"][0])
                        self.send_response(200)
                        receiver.arrived.notify_all()
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.server.server_port}/backchannel"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 20) -> list[str]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.tokens) < count and time.monotonic() < deadline:
                self.arrived.wait(deadline - time.monotonic())
        return list(self.tokens)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def settings():
    return {"IDP_BACKCHANNEL_RETRY_SECONDS": 0.05}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def register(app, url: str) -> Registered:
    with app.app_context():
        row, secret = client_registry.create(
            name="rp", redirect_uris=["http://localhost:8080/cb"], logout_uris=["http://localhost:8080/bye"],
            public=False, backchannel_logout_uri=url,
        )
        db.session.commit()
        return Registered(row.client_id, secret, "http://localhost:8080/cb", False)


def validate(client, token: str, rp: Registered) -> dict:
    """What an RP does (Back-Channel Logout 1.0 §2.6), with PyJWT and the JWKS alone."""
    header = pyjwt.get_unverified_header(token)
    assert header["typ"] == "logout+jwt"
    jwks = client.get("/jwks.json").get_json()
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = pyjwt.decode(token, pyjwt.PyJWK(key).key, algorithms=[header["alg"]], audience=rp.client_id,
                          issuer="http://localhost")
    assert claims["events"] == {EVENT: {}} and "nonce" not in claims
    assert claims["sid"] and claims["sub"] and claims["jti"] and claims["exp"] - claims["iat"] <= 120
    return claims


def test_sign_out_sends_a_logout_token(app, client, actions, user, receiver):
    rp = register(app, receiver.url)
    tokens = actions.tokens(rp)
    id_token = pyjwt.decode(tokens["id_token"], options={"verify_signature": False})
    response = client.get("/logout?" + urlencode({"id_token_hint": tokens["id_token"]}))
    assert response.status_code == 200
    (token,) = receiver.wait_for(1)
    claims = validate(client, token, rp)
    assert (claims["sid"], claims["sub"]) == (id_token["sid"], id_token["sub"])


def test_a_failing_endpoint_is_retried(app, client, actions, user):
    receiver = Receiver(failures=2)
    try:
        rp = register(app, receiver.url)
        tokens = actions.tokens(rp)
        client.get("/logout?" + urlencode({"id_token_hint": tokens["id_token"]}))
        assert len(receiver.wait_for(1)) == 1 and receiver.failures == 0
    finally:
        receiver.close()


@pytest.mark.parametrize("end", ["disable", "reset_mfa", "password_change"])
def test_account_events_end_the_sessions_at_the_client(app, client, actions, user, receiver, end):
    rp = register(app, receiver.url)
    actions.tokens(rp)
    with app.app_context():
        person = db.session.get(User, user.id)
        if end == "disable":
            accounts.disable(person, actor=None)
        elif end == "reset_mfa":
            accounts.reset_mfa(person, actor=None)
        else:
            accounts.revocation.revoke_user_grants(person.id, reason="password_changed")
        db.session.commit()
    (token,) = receiver.wait_for(1)
    assert validate(client, token, rp)["sub"] == user.subject


def test_nothing_is_sent_when_the_change_rolls_back(app, client, actions, user, receiver, monkeypatch):
    rp = register(app, receiver.url)
    actions.tokens(rp)
    submitted = []
    monkeypatch.setattr(app.extensions["idp.backchannel"], "submit", submitted.append)
    with app.app_context():
        accounts.disable(db.session.get(User, user.id), actor=None)
        db.session.rollback()
        db.session.commit()  # a later commit of the same session carries nothing either
    assert submitted == []


def test_the_request_does_not_wait_for_the_client(app, client, actions, user, monkeypatch):
    """Delivery happens on the sender's thread: a sign-out returns while the client is
    still unreachable (nothing listens on the URI)."""
    rp = register(app, "http://localhost:9/backchannel")
    tokens = actions.tokens(rp)
    submitted = []
    sender = app.extensions["idp.backchannel"]
    monkeypatch.setattr(sender, "_deliver", lambda delivery: submitted.append(delivery) or False)
    assert client.get("/logout?" + urlencode({"id_token_hint": tokens["id_token"]})).status_code == 200
    sender.drain(10)
    assert len(submitted) == sender.attempts  # bounded: tried, retried, then dropped


def test_clients_without_the_uri_and_discovery(app, client, actions, user, spa):
    actions.tokens(spa)
    doc = client.get("/.well-known/openid-configuration").get_json()
    assert doc["backchannel_logout_supported"] is True and doc["backchannel_logout_session_supported"] is True
    with pytest.raises(client_registry.ClientError):
        register(app, "http://evil.example/logout")
