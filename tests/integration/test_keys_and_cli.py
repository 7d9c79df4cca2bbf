"""Signing-key rotation and the `idp` command line (INTERFACE.md)."""

import json

import pytest
from joserfc import jws, jwt as jose_jwt
from joserfc.jwk import KeySet

from idp.extensions import db
from idp.models import Client, SigningKey
from tests.helpers import claims


def jwks(client):
    return client.get("/jwks.json").get_json()["keys"]


def header_kid(token):
    return jws.extract_compact(token.encode()).headers()["kid"]


def rotate(app, *args):
    result = app.test_cli_runner().invoke(args=["keys", "rotate", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_rotation_never_breaks_a_resource_server(app, client, actions, user, spa):
    before_keys = jwks(client)
    old_token = actions.tokens(spa)["access_token"]
    old_kid = header_kid(old_token)
    next_kid = [k["kid"] for k in before_keys if k["kid"] != old_kid][0]
    rotated = rotate(app)
    # The key that now signs was already published before the rotation.
    assert rotated["kid"] == next_kid
    after_keys = jwks(client)
    assert {old_kid, next_kid} <= {k["kid"] for k in after_keys}
    assert len(after_keys) == 3  # retired, active, next
    new_token = actions.tokens(spa)["access_token"]
    assert header_kid(new_token) == next_kid
    # A resource server with the JWKS it fetched *before* the rotation verifies the new token…
    assert jose_jwt.decode(new_token, KeySet.import_key_set({"keys": before_keys}), algorithms=["RS256"])
    # …and one with the new JWKS still verifies the old token.
    assert claims(client, old_token)["sub"] == user.subject


def test_a_reload_imports_only_the_keys_that_changed(app, client, actions, user, spa, monkeypatch):
    """Importing an RSA private key costs tens of milliseconds with the GIL held: the
    periodic reload must not pay it for a key it already has, and must for a new one."""
    cache = app.extensions["idp.keys"]
    imported = []
    real = cache._import_private
    monkeypatch.setattr(cache, "_import_private", lambda row: imported.append(row.kid) or real(row))
    first = header_kid(actions.tokens(spa)["access_token"])
    imported.clear()
    cache.clear()  # what a version bump or the refresh period does
    assert header_kid(actions.tokens(spa)["access_token"]) == first
    assert imported == []
    rotated = rotate(app)
    assert header_kid(actions.tokens(spa)["access_token"]) == rotated["kid"]
    assert imported == [rotated["kid"]]


def test_retired_keys_leave_after_the_grace_period(app, client, monkeypatch):
    from idp import clock

    first = {k["kid"] for k in jwks(client)}
    rotate(app)
    later = clock.now() + 86400 + 10
    monkeypatch.setattr(clock, "now", lambda: later)
    rotate(app)
    kids = {k["kid"] for k in jwks(client)}
    assert len(first & kids) == 1  # the retired one of the first pair is gone, its next is retired now


@pytest.mark.parametrize("alg, kty", [("ES256", "EC"), ("EdDSA", "OKP")])
def test_other_algorithms_can_be_rotated_in(app, client, alg, kty):
    rotate(app, "--alg", alg)
    assert any(k["kty"] == kty and k["alg"] == alg for k in jwks(client))


@pytest.mark.parametrize("settings", [{"IDP_SIGNING_ALG": "ES256"}, {"IDP_SIGNING_ALG": "EdDSA"}])
def test_signing_with_es256_or_eddsa(client, actions, user, spa, settings):
    alg = settings["IDP_SIGNING_ALG"]
    assert client.get("/.well-known/openid-configuration").get_json()["id_token_signing_alg_values_supported"] == [alg]
    body = actions.tokens(spa)
    assert jws.extract_compact(body["id_token"].encode()).headers()["alg"] == alg
    assert claims(client, body["id_token"])["sub"] == user.subject
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]}).status_code == 200


def test_private_keys_are_encrypted_at_rest(app, client):
    jwks(client)
    with app.app_context():
        rows = db.session.query(SigningKey).all()
        assert rows
        for row in rows:
            assert row.private_jwk_encrypted.startswith("v1.")
            assert '"d"' not in row.private_jwk_encrypted


def test_keys_list_json(app, client):
    jwks(client)
    result = app.test_cli_runner().invoke(args=["keys", "list", "--json"])
    listed = json.loads(result.output)["keys"]
    assert sorted(k["state"] for k in listed) == ["active", "next"]


def test_clients_create_json(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=[
        "clients", "create", "--name", "web", "--redirect-uri", "https://app.example/cb",
        "--redirect-uri", "https://app.example/cb2", "--post-logout-redirect-uri", "https://app.example/",
        "--min-acr", "mfa", "--refresh-grace-seconds", "5", "--json",
    ])
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert set(created) == {"client_id", "client_secret"} and len(created["client_secret"]) >= 43
    with app.app_context():
        row = db.session.query(Client).filter_by(client_id=created["client_id"]).one()
        assert row.client_secret_hash != created["client_secret"]
        assert row.check_client_secret(created["client_secret"])
        assert row.min_acr == "mfa" and row.refresh_grace_seconds == 5
        assert row.redirect_uris == ["https://app.example/cb", "https://app.example/cb2"]
    public = json.loads(runner.invoke(args=[
        "clients", "create", "--name", "spa", "--redirect-uri", "http://localhost:3000/cb", "--public", "--json",
    ]).output)
    assert set(public) == {"client_id"}


@pytest.mark.parametrize("uri", ["http://app.example/cb", "https://app.example/cb#frag", "/relative", "javascript:alert(1)"])
def test_clients_create_refuses_bad_redirect_uris(app, uri):
    result = app.test_cli_runner().invoke(args=["clients", "create", "--name", "x", "--redirect-uri", uri, "--json"])
    assert result.exit_code != 0
    with app.app_context():
        assert db.session.query(Client).count() == 0


def test_users_create(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "Erin@Example.com", "--password-stdin", "--json"], input="a long passphrase\n")
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert created["email"] == "erin@example.com"
    again = runner.invoke(args=["users", "create", "erin@example.com", "--password-stdin"], input="x\n")
    assert again.exit_code != 0
    page = client.get("/login")
    from tests.helpers import csrf_token

    response = client.post("/login", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "email": "erin@example.com", "password": "a long passphrase",
    })
    assert response.status_code == 303
