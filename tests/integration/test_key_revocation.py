"""Issue 9, item 14: a leaked signing key is revoked with `idp keys revoke KID` (or the
console): it leaves the JWKS at once, and every process of ours, and the resource-server
helper, refuse what it signed. Our own endpoints also refuse access tokens longer-lived
than the configured lifetime, or whose jti names no live grant."""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from idp import clock, create_app
from idp.oauth import jwt
from idp.resource import AccessTokenVerifier, InvalidToken, JwksCache
from tests.conftest import TEST_CONFIG
from tests.integration.test_admin import admin, post, sign_in  # noqa: F401  (fixture)
from tests.integration.test_resource_helper import ISSUER, FakeMonotonic, ProviderJwks


def basic(c) -> dict:  # noqa: ANN001
    return {"Authorization": "Basic " + base64.b64encode(f"{c.client_id}:{c.secret}".encode()).decode()}


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def revoke(app, kid: str):  # noqa: ANN201
    return app.test_cli_runner().invoke(args=["keys", "revoke", kid, "--json"])


def published(client) -> set[str]:
    return {k["kid"] for k in client.get("/jwks.json").get_json()["keys"]}


def introspect(client, webapp, token: str) -> dict:
    return client.post("/introspect", data={"token": token}, headers=basic(webapp)).get_json()


def test_revoking_the_active_key(app, client, actions, user, spa, webapp):
    tokens = actions.tokens(spa)
    leaked = kid_of(tokens["access_token"])
    helper = AccessTokenVerifier(ISSUER, ISSUER, JwksCache(ISSUER + "/jwks.json", fetch=ProviderJwks(client),
                                                             monotonic=(monotonic := FakeMonotonic())))
    assert helper.verify(tokens["access_token"])
    result = revoke(app, leaked)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["revoked"] == leaked and answer["active"] != leaked
    assert leaked not in published(client)
    # Our endpoints refuse it at once.
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).status_code == 401
    assert introspect(client, webapp, tokens["access_token"]) == {"active": False}
    assert client.get("/logout?id_token_hint=" + tokens["id_token"]).status_code == 400
    # The helper, as soon as its copy of the JWKS is older than its ttl.
    monotonic.t += helper.jwks.ttl
    with pytest.raises(InvalidToken):
        helper.verify(tokens["access_token"])
    # Signing goes on with the promoted key, whose tokens work everywhere.
    fresh = actions.tokens(spa)
    assert kid_of(fresh["access_token"]) == answer["active"]
    assert helper.verify(fresh["access_token"])
    assert introspect(client, webapp, fresh["access_token"])["active"] is True
    listed = json.loads(app.test_cli_runner().invoke(args=["keys", "list", "--json"]).output)["keys"]
    assert sorted(k["state"] for k in listed) == ["active", "next"] and leaked not in {k["kid"] for k in listed}


def test_revoking_the_next_or_a_retired_key(app, client, actions, user, spa):
    tokens = actions.tokens(spa)
    old = kid_of(tokens["access_token"])
    assert app.test_cli_runner().invoke(args=["keys", "rotate"]).exit_code == 0  # `old` is retired
    nxt = [k["kid"] for k in json.loads(app.test_cli_runner().invoke(args=["keys", "list", "--json"]).output)["keys"]
           if k["state"] == "next"][0]
    assert revoke(app, nxt).exit_code == 0
    assert revoke(app, old).exit_code == 0
    assert old not in published(client) and nxt not in published(client)
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).status_code == 401
    states = sorted(k["state"] for k in json.loads(app.test_cli_runner().invoke(args=["keys", "list", "--json"]).output)["keys"])
    assert states == ["active", "next"]


def test_an_unknown_kid_is_an_error(app):
    result = revoke(app, "no-such-kid")
    assert result.exit_code != 0 and "no-such-kid" in result.output


def test_every_process_refuses_at_once(app, client, actions, user, spa, webapp):
    """A second process with its own key cache (another gunicorn worker) stops accepting
    the key as soon as it reads the bumped key version (at most a second later; here, at
    the next request)."""
    other = create_app(TEST_CONFIG)
    other.extensions["idp.versions"].check_every = 0
    tokens = actions.tokens(spa)
    http = other.test_client()
    bearer = {"Authorization": "Bearer " + tokens["access_token"]}
    assert http.get("/userinfo", headers=bearer).status_code == 200  # its cache holds the key
    assert revoke(app, kid_of(tokens["access_token"])).exit_code == 0
    assert http.get("/userinfo", headers=bearer).status_code == 401
    assert kid_of(tokens["access_token"]) not in published(http)
    with other.app_context():
        from idp.extensions import db

        db.engine.dispose()
    other.extensions["idp.autocommit"].dispose()
    other.extensions["idp.ephemeral"].dispose()


def test_the_console_revokes_a_key(app, client, actions, spa, admin):  # noqa: F811
    sign_in(client, "root@example.com", admin[1])
    kid = next(iter(published(client)))
    page = client.get("/admin/keys").get_data(as_text=True)
    assert f'id="key-revoke-{kid}"' in page
    asked = post(client, f"/admin/keys/{kid}/revoke")
    assert asked.status_code == 200 and 'id="confirm-yes"' in asked.get_data(as_text=True)  # asks first
    response = post(client, f"/admin/keys/{kid}/revoke", confirm="yes")
    assert response.status_code == 303
    assert kid not in published(client)
    assert "keys.revoked" in client.get("/admin/audit?event=keys.").get_data(as_text=True)


# --- forged with a leaked key, before it is revoked --------------------------------------

def _forge(app, **claims) -> str:
    with app.app_context():
        keys = app.extensions["idp.keys"]
        now = clock.now()
        body = {"iss": ISSUER, "aud": ISSUER, "client_id": "any", "scope": "openid profile email", "iat": now,
                "exp": now + 300, "jti": secrets.token_urlsafe(16), **claims}
        return jwt.sign(keys, {k: v for k, v in body.items() if v is not None}, typ="at+jwt")


def test_a_ten_year_token_is_refused(app, client, actions, user, spa, webapp):
    real = actions.tokens(spa)["access_token"]
    payload = real.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = _forge(app, **{**claims, "exp": claims["iat"] + 10 * 365 * 86400})
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + forged}).status_code == 401
    assert introspect(client, webapp, forged) == {"active": False}


@pytest.mark.parametrize("jti", ["x", "no-dot-but-long-enough-to-look-real", "a.b.c", "", None, 42])
def test_a_person_token_whose_jti_names_no_grant_is_refused(app, client, user, webapp, jti):
    forged = _forge(app, sub=user.subject, client_id=webapp.client_id, jti=jti)
    assert introspect(client, webapp, forged) == {"active": False}
    assert client.get("/userinfo", headers={"Authorization": "Bearer " + forged}).status_code == 401


def test_a_grantless_token_must_be_a_client_credentials_token(app, client, webapp):
    forged = _forge(app, sub="someone-else", client_id=webapp.client_id)
    assert introspect(client, webapp, forged) == {"active": False}
    genuine = client.post("/token", data={"grant_type": "client_credentials"}, headers=basic(webapp)).get_json()
    assert introspect(client, webapp, genuine["access_token"])["active"] is True
