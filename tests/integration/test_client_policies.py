"""Per-client token policies: the refresh grace window (by client type), optional PKCE for
confidential clients that use a nonce, and refresh tokens only with offline_access."""

from __future__ import annotations

import json

import pytest

from idp import clock
from idp import clients as client_registry
from idp.extensions import db
from tests.helpers import Pkce, claims, query
from tests.helpers import TestClient as Registered


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def register(app, *, public: bool = False, **options) -> Registered:
    """A client registered the way the CLI and the console do (clients.create's defaults)."""
    with app.app_context():
        row, secret = client_registry.create(
            name="rp", redirect_uris=["http://localhost:8080/cb"], logout_uris=["http://localhost:8080/bye"],
            public=public, **options,
        )
        db.session.commit()
        return Registered(row.client_id, secret, "http://localhost:8080/cb", public)


def refresh(actions, c: Registered, token: str):
    return actions.token(c, grant_type="refresh_token", refresh_token=token)


# --- the refresh grace window ------------------------------------------------------------

def test_default_grace_is_by_client_type(app):
    assert client_registry.refresh_grace(False, None) == client_registry.CONFIDENTIAL_REFRESH_GRACE == 30
    assert client_registry.refresh_grace(True, None) == 0
    assert client_registry.refresh_grace(True, 10) == 10
    for public, seconds in ((True, 11), (False, 61), (False, -1)):
        with pytest.raises(client_registry.ClientError):
            client_registry.refresh_grace(public, seconds)


def test_parallel_refreshes_of_a_confidential_client_keep_the_grant(app, client, actions, user, monkeypatch):
    """mod_auth_openidc's workers refresh at once with one token: both get the same
    successor, both access tokens work, and the session goes on refreshing."""
    rp = register(app)
    first = actions.tokens(rp)
    a = refresh(actions, rp, first["refresh_token"]).get_json()
    b = refresh(actions, rp, first["refresh_token"]).get_json()
    assert a["refresh_token"] == b["refresh_token"]
    for body in (a, b):
        assert client.get("/userinfo", headers=bearer(body["access_token"])).status_code == 200
    later = clock.now() + 29
    monkeypatch.setattr(clock, "now", lambda: later)
    assert refresh(actions, rp, first["refresh_token"]).get_json()["refresh_token"] == a["refresh_token"]
    assert refresh(actions, rp, a["refresh_token"]).status_code == 200


def test_after_the_grace_a_reuse_still_ends_the_grant(app, client, actions, user, monkeypatch):
    rp = register(app)
    first = actions.tokens(rp)
    successor = refresh(actions, rp, first["refresh_token"]).get_json()
    later = clock.now() + 31
    monkeypatch.setattr(clock, "now", lambda: later)
    reuse = refresh(actions, rp, first["refresh_token"])
    assert reuse.status_code == 400 and reuse.get_json()["error"] == "invalid_grant"
    assert refresh(actions, rp, successor["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_a_public_client_rotates_strictly_by_default(app, client, actions, user):
    spa = register(app, public=True)
    first = actions.tokens(spa)
    successor = refresh(actions, spa, first["refresh_token"]).get_json()
    assert refresh(actions, spa, first["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert client.get("/userinfo", headers=bearer(successor["access_token"])).status_code == 401


def test_a_grace_replay_needs_the_clients_secret(app, client, actions, user):
    rp = register(app)
    first = actions.tokens(rp)
    refresh(actions, rp, first["refresh_token"])
    thief = Registered(rp.client_id, "not-the-secret", rp.redirect_uri, False)
    assert refresh(actions, thief, first["refresh_token"]).status_code == 401


# --- PKCE optional for confidential clients with a nonce ---------------------------------

def _code_without_pkce(actions, c: Registered, **params) -> str:
    return actions.code(c, None, code_challenge=None, code_challenge_method=None, **params)


def test_optional_pkce_signs_in_with_a_nonce(app, client, actions, user):
    rp = register(app, pkce_required=False)
    code = _code_without_pkce(actions, rp, nonce="n-42")
    response = actions.token(rp, grant_type="authorization_code", code=code, redirect_uri=rp.redirect_uri)
    assert response.status_code == 200, response.get_json()
    assert claims(client, response.get_json()["id_token"])["nonce"] == "n-42"


def test_optional_pkce_without_a_nonce_is_refused(app, client, actions, user):
    rp = register(app, pkce_required=False)
    response = actions.authorize(rp, code_challenge=None, code_challenge_method=None, nonce=None)
    assert response.status_code == 302
    assert query(response.location)["error"] == "invalid_request"


def test_a_verifier_for_a_code_without_challenge_is_refused(app, actions, user):
    """RFC 9700 §2.1.1: the PKCE downgrade (challenge stripped, verifier sent) fails."""
    rp = register(app, pkce_required=False)
    code = _code_without_pkce(actions, rp, nonce="n-1")
    response = actions.exchange(rp, code, Pkce())
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_optional_pkce_still_checks_a_challenge_that_was_sent(app, actions, user):
    rp = register(app, pkce_required=False)
    code = actions.code(rp, Pkce())
    response = actions.token(rp, grant_type="authorization_code", code=code, redirect_uri=rp.redirect_uri)
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_pkce_stays_required_by_default_and_for_public_clients(app, actions, user):
    for c in (register(app), register(app, public=True)):
        response = actions.authorize(c, code_challenge=None, code_challenge_method=None)
        assert query(response.location)["error"] == "invalid_request"
    with pytest.raises(client_registry.ClientError):
        register(app, public=True, pkce_required=False)


def test_the_cli_registers_the_policies(app):
    runner = app.test_cli_runner()
    made = runner.invoke(args=[
        "clients", "create", "--name", "apache", "--redirect-uri", "https://app.example/redirect_uri",
        "--pkce", "optional", "--json",
    ])
    assert made.exit_code == 0, made.output
    client_id = json.loads(made.output)["client_id"]
    with app.app_context():
        row = client_registry.find(client_id)
        assert (row.pkce_required, row.refresh_grace_seconds, row.refresh_tokens_always) == (False, 30, False)
    refused = runner.invoke(args=[
        "clients", "create", "--name", "spa", "--public", "--redirect-uri", "http://localhost:3000/cb",
        "--pkce", "optional",
    ])
    assert refused.exit_code == 2 and "PKCE is always required" in refused.output
    public = runner.invoke(args=[
        "clients", "create", "--name", "spa", "--public", "--redirect-uri", "http://localhost:3000/cb",
        "--refresh-grace-seconds", "20",
    ])
    assert public.exit_code == 2 and "0 to 10 seconds" in public.output


# --- refresh tokens only with offline_access (OIDC Core §11) ------------------------------

def test_no_refresh_token_without_offline_access(app, actions, user, spa, webapp):
    for c in (spa, webapp):
        body = actions.tokens(c, scope="openid profile email")
        assert "refresh_token" not in body and body["access_token"] and body["id_token"]


def test_a_client_not_registered_for_offline_access_gets_none(app, actions, user):
    c = register(app, scope="openid profile email")
    body = actions.tokens(c, scope="openid offline_access")
    assert "refresh_token" not in body and body["scope"] == "openid"


def test_a_client_registered_to_always_get_one(app, actions, user):
    c = register(app, refresh_tokens_always=True)
    body = actions.tokens(c, scope="openid email")
    assert body["refresh_token"] and refresh(actions, c, body["refresh_token"]).status_code == 200
