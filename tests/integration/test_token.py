"""The token endpoint: PKCE, single-use codes, rotation, reuse detection, client auth."""

import base64

import pytest

from idp import clock
from tests.helpers import Pkce, claims, make_client, update_user


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def assert_oauth_error(response, error, status=400):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["error"] == error
    assert response.headers["Cache-Control"] == "no-store"


# --- PKCE -----------------------------------------------------------------------------

def test_missing_verifier(actions, user, spa):
    pkce = Pkce()
    code = actions.code(spa, pkce)
    response = actions.token(spa, grant_type="authorization_code", code=code, redirect_uri=spa.redirect_uri)
    assert_oauth_error(response, "invalid_grant")


def test_wrong_verifier(actions, user, webapp):
    pkce = Pkce()
    code = actions.code(webapp, pkce)
    assert_oauth_error(actions.exchange(webapp, code, Pkce()), "invalid_grant")
    # The wrong guess did not burn the code for the client that holds the real verifier.
    assert actions.exchange(webapp, code, pkce).status_code == 200


# --- codes ---------------------------------------------------------------------------

def test_code_reuse_fails_and_revokes_what_the_first_use_issued(client, actions, user, spa):
    pkce = Pkce()
    code = actions.code(spa, pkce, scope="openid offline_access")
    first = actions.exchange(spa, code, pkce).get_json()
    assert client.get("/userinfo", headers=bearer(first["access_token"])).status_code == 200
    assert_oauth_error(actions.exchange(spa, code, pkce), "invalid_grant")
    assert client.get("/userinfo", headers=bearer(first["access_token"])).status_code == 401
    refresh = actions.token(spa, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert_oauth_error(refresh, "invalid_grant")


def test_code_reuse_after_30_seconds(actions, user, webapp, monkeypatch):
    pkce = Pkce()
    code = actions.code(webapp, pkce)
    assert actions.exchange(webapp, code, pkce).status_code == 200
    later = clock.now() + 30
    monkeypatch.setattr(clock, "now", lambda: later)
    assert_oauth_error(actions.exchange(webapp, code, pkce), "invalid_grant")


def test_code_expires_after_60_seconds(actions, user, spa, monkeypatch):
    pkce = Pkce()
    code = actions.code(spa, pkce)
    later = clock.now() + 61
    monkeypatch.setattr(clock, "now", lambda: later)
    assert_oauth_error(actions.exchange(spa, code, pkce), "invalid_grant")


def test_code_is_bound_to_its_client(app, actions, user, spa):
    other = make_client(app, public=True)
    pkce = Pkce()
    code = actions.code(spa, pkce)
    assert_oauth_error(actions.exchange(other, code, pkce), "invalid_grant")


@pytest.mark.parametrize("redirect_uri", ["http://localhost:8080/other", None])
def test_redirect_uri_must_match_at_the_token_endpoint(actions, user, spa, redirect_uri):
    pkce = Pkce()
    code = actions.code(spa, pkce)
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": pkce.verifier}
    if redirect_uri:
        data["redirect_uri"] = redirect_uri
    assert_oauth_error(actions.token(spa, **data), "invalid_grant")


def test_garbage_code(actions, spa):
    response = actions.token(spa, grant_type="authorization_code", code="x" * 43,
                             redirect_uri=spa.redirect_uri, code_verifier=Pkce().verifier)
    assert_oauth_error(response, "invalid_grant")


def test_disabled_person_cannot_redeem_a_code(app, actions, user, spa):
    pkce = Pkce()
    code = actions.code(spa, pkce)
    update_user(app, user.id, disabled=True)
    assert_oauth_error(actions.exchange(spa, code, pkce), "invalid_grant")


# --- client authentication -----------------------------------------------------------

def test_wrong_secret_basic_is_401(client, webapp):
    basic = base64.b64encode(f"{webapp.client_id}:wrong".encode()).decode()
    response = client.post("/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": f"Basic {basic}"})
    assert_oauth_error(response, "invalid_client", 401)
    assert "WWW-Authenticate" in response.headers


def test_wrong_secret_post_is_401(client, webapp):
    response = client.post("/token", data={"grant_type": "client_credentials",
                                           "client_id": webapp.client_id, "client_secret": "wrong"})
    assert_oauth_error(response, "invalid_client", 401)


def test_confidential_client_cannot_skip_authentication(actions, user, webapp, client):
    pkce = Pkce()
    code = actions.code(webapp, pkce)
    response = client.post("/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": webapp.redirect_uri,
        "code_verifier": pkce.verifier, "client_id": webapp.client_id,
    })
    assert_oauth_error(response, "invalid_client", 401)


@pytest.mark.parametrize("grant_type", ["password", "implicit", "urn:ietf:params:oauth:grant-type:device_code", ""])
def test_unsupported_grant_types(actions, webapp, grant_type):
    assert_oauth_error(actions.token(webapp, grant_type=grant_type), "unsupported_grant_type")


def test_get_is_not_allowed(client):
    assert client.get("/token").status_code == 405


# --- client credentials --------------------------------------------------------------

def test_client_credentials(client, actions, webapp):
    response = actions.token(webapp, grant_type="client_credentials")
    assert response.status_code == 200
    body = response.get_json()
    assert "id_token" not in body and "refresh_token" not in body
    at = claims(client, body["access_token"])
    assert at["sub"] == webapp.client_id and at["client_id"] == webapp.client_id
    assert "acr" not in at and "openid" not in at["scope"].split()


def test_public_client_cannot_use_client_credentials(actions, spa):
    assert actions.token(spa, grant_type="client_credentials").status_code in (400, 401)


def test_client_credentials_unknown_scope(actions, webapp):
    assert_oauth_error(actions.token(webapp, grant_type="client_credentials", scope="admin"), "invalid_scope")


# --- refresh tokens ------------------------------------------------------------------

def test_refresh_rotates_and_reuse_revokes_the_family(client, actions, user, spa):
    first = actions.tokens(spa)
    second = actions.token(spa, grant_type="refresh_token", refresh_token=first["refresh_token"]).get_json()
    assert second["refresh_token"] != first["refresh_token"]
    # The old token again: refused, and the successor dies with it (RFC 9700 §4.14.2).
    assert_oauth_error(actions.token(spa, grant_type="refresh_token", refresh_token=first["refresh_token"]), "invalid_grant")
    assert_oauth_error(actions.token(spa, grant_type="refresh_token", refresh_token=second["refresh_token"]), "invalid_grant")
    assert client.get("/userinfo", headers=bearer(second["access_token"])).status_code == 401


def test_refresh_token_is_bound_to_its_client(app, actions, user, spa):
    other = make_client(app, public=True)
    first = actions.tokens(spa)
    assert_oauth_error(actions.token(other, grant_type="refresh_token", refresh_token=first["refresh_token"]), "invalid_grant")
    # Refused without being used up: its own client still refreshes with it.
    assert actions.token(spa, grant_type="refresh_token", refresh_token=first["refresh_token"]).status_code == 200


def test_refresh_keeps_the_original_authentication(client, actions, user, spa, monkeypatch):
    first = actions.tokens(spa)
    later = clock.now() + 100
    monkeypatch.setattr(clock, "now", lambda: later)
    second = actions.token(spa, grant_type="refresh_token", refresh_token=first["refresh_token"]).get_json()
    a, b = claims(client, first["id_token"]), claims(client, second["id_token"])
    for claim in ("iss", "sub", "aud", "azp", "auth_time", "acr", "amr", "sid"):
        assert a[claim] == b[claim], claim
    assert b["iat"] > a["iat"]
    at = claims(client, second["access_token"])
    assert (at["auth_time"], at["acr"], at["amr"]) == (a["auth_time"], a["acr"], a["amr"])


def test_refresh_can_narrow_but_not_widen_scope(actions, user, spa):
    first = actions.tokens(spa, scope="openid email offline_access")
    narrowed = actions.token(spa, grant_type="refresh_token", refresh_token=first["refresh_token"], scope="openid")
    assert narrowed.status_code == 200 and narrowed.get_json()["scope"] == "openid"
    wider = actions.token(spa, grant_type="refresh_token", refresh_token=narrowed.get_json()["refresh_token"],
                          scope="openid email profile")
    assert_oauth_error(wider, "invalid_scope")


def test_refresh_family_has_an_absolute_lifetime(actions, user, spa, monkeypatch):
    first = actions.tokens(spa)
    later = clock.now() + 2592000 + 1
    monkeypatch.setattr(clock, "now", lambda: later)
    assert_oauth_error(actions.token(spa, grant_type="refresh_token", refresh_token=first["refresh_token"]), "invalid_grant")


def test_disabled_person_cannot_refresh(app, actions, user, spa):
    first = actions.tokens(spa)
    update_user(app, user.id, disabled=True)
    assert_oauth_error(actions.token(spa, grant_type="refresh_token", refresh_token=first["refresh_token"]), "invalid_grant")


def test_grace_window_gives_the_same_successor(app, actions, user, monkeypatch):
    spa = make_client(app, public=True, refresh_grace_seconds=5)
    first = actions.tokens(spa)
    a = actions.token(spa, grant_type="refresh_token", refresh_token=first["refresh_token"]).get_json()
    b = actions.token(spa, grant_type="refresh_token", refresh_token=first["refresh_token"]).get_json()
    assert a["refresh_token"] == b["refresh_token"]
    assert actions.token(spa, grant_type="refresh_token", refresh_token=b["refresh_token"]).status_code == 200
    # Outside the window, reuse still revokes everything.
    later = clock.now() + 6
    monkeypatch.setattr(clock, "now", lambda: later)
    assert_oauth_error(actions.token(spa, grant_type="refresh_token", refresh_token=first["refresh_token"]), "invalid_grant")


def test_refresh_token_is_stored_only_as_a_hash(app, actions, user, spa):
    from idp.extensions import db
    from idp.models import RefreshToken

    token = actions.tokens(spa)["refresh_token"]
    with app.app_context():
        rows = db.session.query(RefreshToken).all()
        assert rows and all(token not in (r.token_hash, r.successor_encrypted) for r in rows)


def test_tokens_have_enough_entropy(actions, user, spa):
    body = actions.tokens(spa)
    assert len(body["refresh_token"]) >= 43  # 256 bits, base64url
