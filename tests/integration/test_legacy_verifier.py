"""Lazy migration from a system that will not export its hashes: a small legacy service on
loopback answers whether an email and password are right (as a Cognito InitiateAuth adapter
would). The first sign-in migrates; the second does not ask the old system; a wrong password
is counted by the lockout; the service's failures fail closed; the password goes nowhere
else and is never logged."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from idp.extensions import db
from idp.models import AuditEvent, User
from tests.helpers import make_user

PASSWORD = "the password from before"
TOKEN = "adapter-shared-secret"


class Legacy:
    """The old system: knows one person's password; records every call."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.mode = "normal"  # normal | error | slow | redirect | garbage
        self.redirect_to: str | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.calls.append({"body": body, "auth": self.headers.get("Authorization"), "path": self.path})
                if owner.mode == "slow":
                    threading.Event().wait(3)
                if owner.mode == "redirect":
                    self.send_response(307)
                    self.send_header("Location", owner.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, answer = 200, {"valid": body == {"email": "old@example.com", "password": PASSWORD}}
                if owner.mode == "error":
                    status, answer = 500, {"error": "down"}
                if owner.mode == "garbage":
                    answer = {"valid": "perhaps"}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/verify"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def legacy():
    service = Legacy()
    yield service
    service.stop()


@pytest.fixture
def settings(legacy):
    return {"IDP_LEGACY_VERIFIER_URL": legacy.url, "IDP_LEGACY_VERIFIER_TOKEN": TOKEN, "IDP_LEGACY_VERIFIER_TIMEOUT": 1,
            "IDP_LOCKOUT_THRESHOLD": 3}


@pytest.fixture
def imported(app):
    """Imported without a hash (as `idp users import` does for a row without one)."""
    person = make_user(app, "old@example.com")
    with app.app_context():
        db.session.execute(User.__table__.update().values(password_hash=None, legacy_password=True))
        db.session.commit()
    return person


def sign_in(actions, password: str = PASSWORD):
    return actions.login("/login?next=/account", "old@example.com", password)


def stored(app) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "old@example.com"))
        db.session.expunge(user)
        return user


def test_the_first_sign_in_migrates_and_the_second_does_not_ask(app, client, actions, legacy, imported):
    assert sign_in(actions).status_code == 303
    assert legacy.calls == [{"body": {"email": "old@example.com", "password": PASSWORD},
                             "auth": f"Bearer {TOKEN}", "path": "/verify"}]
    user = stored(app)
    assert not user.legacy_password and app.extensions["idp.passwords"].verify(user.password_hash, PASSWORD)
    client.post("/account/sign-out", data={"csrf_token": _csrf(client)})
    assert sign_in(actions).status_code == 303
    assert len(legacy.calls) == 1  # our own hash answered


def _csrf(client) -> str:
    from tests.helpers import csrf_token

    return csrf_token(client.get("/login").get_data(as_text=True))


def test_a_wrong_password_is_counted_by_the_lockout(app, actions, legacy, imported):
    for _ in range(3):
        assert sign_in(actions, "wrong").status_code == 401
    assert len(legacy.calls) == 3
    locked = sign_in(actions)  # the right one, during the lockout: refused, the old system not asked
    assert locked.status_code == 429 and "Retry-After" in locked.headers
    assert len(legacy.calls) == 3
    assert stored(app).legacy_password


@pytest.mark.parametrize("mode", ["error", "slow", "garbage", "redirect"])
def test_failures_of_the_old_system_fail_closed_and_charge_nobody(app, actions, legacy, imported, mode):
    other = Legacy()  # where a redirect would send the password, if one were followed
    legacy.mode, legacy.redirect_to = mode, other.url
    try:
        for _ in range(4):  # more than the threshold: none of these counts
            response = sign_in(actions)
            assert response.status_code == 503 and response.headers["Retry-After"]
        assert other.calls == []
    finally:
        other.stop()
    assert stored(app).legacy_password and stored(app).password_hash is None
    legacy.mode = "normal"
    assert sign_in(actions).status_code == 303


def test_the_password_is_never_logged_or_audited(app, actions, legacy, imported, caplog):
    caplog.set_level(logging.DEBUG)
    legacy.mode = "error"
    sign_in(actions)
    legacy.mode = "normal"
    sign_in(actions, "wrong guess here")
    sign_in(actions)
    text = caplog.text
    assert PASSWORD not in text and "wrong guess here" not in text
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent)))
    audit = json.dumps([e.detail for e in events])
    assert PASSWORD not in audit and "wrong guess here" not in audit
    assert {"login.legacy_verifier_unavailable", "login.failed", "password.migrated"} <= {e.event for e in events}


def test_people_with_a_hash_never_reach_the_old_system(app, actions, legacy, user):
    assert actions.login("/login?next=/account").status_code == 303
    assert actions.login("/login?next=/account", password="nope").status_code == 401
    assert legacy.calls == []


def test_without_a_verifier_the_imported_person_cannot_sign_in_by_password(app, imported):
    from tests.helpers import Actions

    app.extensions["idp.legacy_verifier"] = None
    assert Actions(app.test_client()).login("/login?next=/account", "old@example.com", PASSWORD).status_code == 401


def test_production_refuses_a_plain_http_verifier():
    from pathlib import Path

    from idp.settings import ConfigError, finalize

    config = {"IDP_ENV": "production", "IDP_ISSUER": "https://idp.example", "SECRET_KEY": "k", "IDP_DATA_KEYS": "t1:" + "A" * 43,
              "IDP_SMTP_URL": "smtp://x", "IDP_SIGNING_ALG": "RS256", "IDP_CODE_TTL": 60, "IDP_LOCKOUT_THRESHOLD": 5,
              "IDP_LEGACY_VERIFIER_URL": "http://127.0.0.1:9/verify"}
    with pytest.raises(ConfigError, match="IDP_LEGACY_VERIFIER_URL"):
        finalize(config, Path("/nonexistent"))
