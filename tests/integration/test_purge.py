"""`idp purge`: what has expired goes, in batches; everything still in use stays."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, insert, select

from idp import clock
from idp.extensions import db
from idp.models import AuditEvent, AuthorizationCode, Grant, Invitation, PasswordReset, RefreshToken, SigningKey
from idp.security.tokens import token_hash

DAY = 86400


def _purge(app, *args: str) -> dict:  # noqa: ANN001
    result = app.test_cli_runner().invoke(args=["purge", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _grant(gid: str, user_id: int, expires_at: int, tokens: int) -> None:
    now = clock.now()
    db.session.execute(insert(Grant), [{
        "id": gid, "user_id": user_id, "client_id": "c", "scope": "openid", "auth_time": now, "acr": "pwd",
        "amr": ["pwd"], "sid": None, "created_at": now - 40 * DAY, "expires_at": expires_at,
    }])
    db.session.execute(insert(RefreshToken), [{
        "token_hash": token_hash(f"{gid}-{i}"), "grant_id": gid, "client_id": "c", "scope": "openid",
        "issued_at": now, "rotated_at": now if i < tokens - 1 else None,
    } for i in range(tokens)])


def _code(name: str, user_id: int, expires_at: int, used: bool = False) -> None:
    db.session.execute(insert(AuthorizationCode), [{
        "code_hash": token_hash(name), "client_id": "c", "user_id": user_id, "redirect_uri": "http://localhost/cb",
        "scope": "openid", "nonce": None, "code_challenge": "x" * 43, "auth_time": clock.now(), "acr": "pwd",
        "amr": ["pwd"], "sid": None, "expires_at": expires_at, "used_at": expires_at - 30 if used else None,
        "grant_id": None,
    }])


@pytest.fixture
def expired_and_live(app, user):
    """Seven expired things of each kind beside the live ones that must survive."""
    now = clock.now()
    with app.app_context():
        for i in range(7):
            _code(f"old-{i}", user.id, now - 2 * 3600, used=i % 2 == 0)
            _grant(f"gone-{i}", user.id, now - 1, tokens=3)
            db.session.add(Invitation(email=f"i{i}@example.com", token_hash=token_hash(f"inv-{i}"), created_at=now - 9 * DAY,
                                      expires_at=now - DAY if i < 3 else now + DAY,
                                      used_at=now - DAY if i in (3, 4) else None, revoked_at=now if i >= 5 else None))
            db.session.add(PasswordReset(user_id=user.id, token_hash=token_hash(f"reset-{i}"), created_at=now - DAY,
                                         expires_at=now - 60 if i < 4 else now + 600,
                                         used_at=now - 30 if i >= 4 else None))
            db.session.add(AuditEvent(at=now - 400 * DAY, event="login.failed", detail={}))
        _code("fresh", user.id, now + 60)
        _code("used-recently", user.id, now - 60, used=True)  # within the margin: a replay still revokes
        _grant("live", user.id, now + DAY, tokens=4)
        db.session.add(Invitation(email="pending@example.com", token_hash=token_hash("pending"), created_at=now,
                                  expires_at=now + DAY))
        db.session.add(PasswordReset(user_id=user.id, token_hash=token_hash("open"), created_at=now, expires_at=now + 600))
        db.session.add(AuditEvent(at=now - DAY, event="login.failed", detail={}))
        db.session.commit()


def _count(model) -> int:  # noqa: ANN001
    return db.session.scalar(select(func.count()).select_from(model))


def test_expired_rows_go_in_batches_and_live_ones_stay(app, expired_and_live):
    report = _purge(app, "--batch-size", "3")
    assert {k: v for k, v in report.items() if k not in ("batches", "longest_transaction_ms")} == {
        "authorization_codes": 7, "refresh_tokens": 21, "grants": 7, "invitations": 7, "password_resets": 7,
        "signing_keys": 0, "audit_events": 7,
    }
    assert report["batches"] == 5 * 3  # five tables, seven rows each in batches of three: 3 + 3 + 1
    with app.app_context():
        assert _count(AuthorizationCode) == 2 and _count(Grant) == 1 and _count(RefreshToken) == 4
        assert _count(Invitation) == 1 and _count(PasswordReset) == 1 and _count(AuditEvent) == 2  # + the purge's own
        assert db.session.scalar(select(AuditEvent.detail).where(AuditEvent.event == "purge"))["grants"] == 7
    assert _purge(app)["grants"] == 0  # nothing left to do


def test_a_refresh_of_a_live_grant_works_after_a_purge(app, actions, user, webapp):
    tokens = actions.tokens(webapp, scope="openid offline_access")
    _purge(app)
    assert actions.token(webapp, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).status_code == 200


def test_retired_keys_past_their_grace_go(app, client, settings):
    client.get("/jwks.json")  # the keys exist
    with app.app_context():
        db.session.add(SigningKey(kid="old", alg="RS256", state="retired", public_jwk="{}", private_jwk_encrypted="x",
                                  created_at=0, activated_at=0, retired_at=clock.now() - 2 * app.config["IDP_KEY_RETIRED_GRACE"]))
        db.session.add(SigningKey(kid="recent", alg="RS256", state="retired", public_jwk="{}", private_jwk_encrypted="x",
                                  created_at=0, activated_at=0, retired_at=clock.now() - 60))
        db.session.commit()
    assert _purge(app)["signing_keys"] == 1
    with app.app_context():
        assert {k.kid for k in db.session.scalars(select(SigningKey))} >= {"recent"}
        assert db.session.get(SigningKey, "old") is None


@pytest.mark.parametrize("settings", [{"IDP_AUDIT_RETENTION_DAYS": 30}])
def test_the_audit_retention_is_configurable(app, expired_and_live, settings):
    with app.app_context():
        db.session.add(AuditEvent(at=clock.now() - 31 * DAY, event="x", detail={}))
        db.session.commit()
    assert _purge(app)["audit_events"] == 8


def test_purges_from_several_hosts_at_once_delete_each_row_once(app, expired_and_live):
    from idp import purge

    reports: list[dict] = []
    barrier = threading.Barrier(3)

    def host() -> None:  # a purge of its own, with its own connection (CliRunner is not thread-safe)
        with app.app_context():
            barrier.wait()
            reports.append(purge.run(key_grace=DAY, audit_retention_days=365, batch_size=2).deleted)

    threads = [threading.Thread(target=host) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reports) == 3
    assert sum(r["refresh_tokens"] for r in reports) == 21
    assert sum(r["grants"] for r in reports) == 7 and sum(r["audit_events"] for r in reports) == 7
    with app.app_context():
        assert _count(Grant) == 1 and _count(RefreshToken) == 4
