"""The admin console: admins only, and only after a second factor."""

import pyotp
import pytest
from sqlalchemy import text

from idp import clock
from idp.extensions import db
from tests.helpers import Actions, add_totp, csrf_token, make_user


@pytest.fixture
def admin(app):
    person = make_user(app, "root@example.com", is_admin=True)
    return person, add_totp(app, person.id)


def sign_in(http, email, secret=None, next_path="/admin"):
    """Through the hosted pages, as a browser does, ending on next_path."""
    actions = Actions(http)
    response = actions.login(f"/login?next={next_path}", email=email)
    if response.location.startswith("/login/mfa"):
        response = actions.second_factor(response.location, code=pyotp.TOTP(secret).at(clock.now()))
    while response.status_code in (302, 303):
        response = http.get(response.location)
    return response


def post(http, path, **data):
    token = csrf_token(http.get("/account").get_data(as_text=True))
    return http.post(path, data={"csrf_token": token, **data})


def test_admin_with_second_factor_gets_the_console(client, admin):
    page = sign_in(client, "root@example.com", admin[1])
    assert page.status_code == 200 and 'id="users-table"' in page.get_data(as_text=True)


def test_non_admin_is_refused(client, user):
    sign_in(client, "alice@example.com")
    response = client.get("/admin")
    assert response.status_code == 403


def test_admin_at_pwd_is_sent_through_step_up(app, client):
    make_user(app, "boss@example.com", is_admin=True)
    Actions(client).login("/login?next=/account", email="boss@example.com")
    response = client.get("/admin")
    # No second factor yet: enrolment first, not the console.
    assert response.status_code in (302, 303) and response.location.startswith("/account/setup")
    person = make_user(app, "boss2@example.com", is_admin=True)
    other = app.test_client()
    Actions(other).login("/login?next=/account", email="boss2@example.com")
    add_totp(app, person.id)  # enrolled from another browser since: this session is at pwd
    assert other.get("/admin").location.startswith("/login/mfa")


def test_signed_out_goes_to_login(client):
    assert client.get("/admin").location.startswith("/login?next=/admin")


def test_disable_unlock_reset_promote(app, client, admin, user, spa):
    sign_in(client, "root@example.com", admin[1])
    victim = Actions(app.test_client())
    tokens = victim.tokens(spa)
    assert post(client, f"/admin/users/{user.id}/disable", confirm="yes").status_code == 303
    assert victim.http.get("/account").status_code == 302  # their session is over
    assert victim.token(spa, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).status_code == 400
    assert post(client, f"/admin/users/{user.id}/enable").status_code == 303
    assert post(client, f"/admin/users/{user.id}/unlock").status_code == 303
    assert post(client, f"/admin/users/{user.id}/promote").status_code == 303
    assert post(client, f"/admin/users/{user.id}/demote").status_code == 303
    assert post(client, f"/admin/users/{user.id}/reset-mfa", confirm="yes").status_code == 303
    with app.app_context():
        rows = db.session.execute(text("SELECT event, actor_id FROM audit_events WHERE actor_id IS NOT NULL")).all()
    events = {e for e, _ in rows}
    assert {"user.disabled", "user.enabled", "unlock", "user.promoted", "user.demoted", "mfa.reset"} <= events
    assert {a for _, a in rows} == {admin_id(app)}


def admin_id(app):
    with app.app_context():
        return db.session.execute(text("SELECT id FROM users WHERE email = 'root@example.com'")).scalar()


def test_never_the_last_admin(app, client, admin):
    sign_in(client, "root@example.com", admin[1])
    me = admin_id(app)
    response = post(client, f"/admin/users/{me}/demote")
    assert "last admin" in client.get(response.location).get_data(as_text=True)
    response = post(client, f"/admin/users/{me}/disable", confirm="yes")
    assert "yourself" in client.get(response.location).get_data(as_text=True)


def test_invite_from_the_console(app, client, admin, user):
    sign_in(client, "root@example.com", admin[1])
    response = post(client, "/admin/invitations", email="friend@example.com", require_mfa="1")
    assert "invitation sent" in client.get(response.location).get_data(as_text=True)
    refused = post(client, "/admin/invitations", email="alice@example.com")
    assert "already has an account" in client.get(refused.location).get_data(as_text=True)
    with app.app_context():
        row = db.session.execute(text("SELECT id, require_mfa, invited_by FROM invitations")).one()
    assert row[1] and row[2] == admin_id(app)
    assert post(client, f"/admin/invitations/{row[0]}/resend").status_code == 303
    assert post(client, f"/admin/invitations/{row[0]}/revoke").status_code == 303
    assert "revoked" in client.get("/admin/invitations").get_data(as_text=True)


def test_clients_from_the_console(app, client, admin):
    sign_in(client, "root@example.com", admin[1])
    page = post(client, "/admin/clients", name="web", redirect_uris="https://app.example/cb\nhttps://app.example/cb2")
    html = page.get_data(as_text=True)
    client_id = html.split('id="client-id">')[1].split("<")[0]
    secret = html.split('id="client-secret">')[1].split("<")[0]
    assert len(secret) >= 43
    bad = post(client, "/admin/clients", name="bad", redirect_uris="http://evil.example/cb")
    assert "only allowed for localhost" in client.get(bad.location).get_data(as_text=True)
    assert post(client, f"/admin/clients/{client_id}", redirect_uris="https://app.example/new").status_code == 303
    rotated = post(client, f"/admin/clients/{client_id}/rotate-secret", confirm="yes").get_data(as_text=True)
    assert rotated.split('id="client-secret">')[1].split("<")[0] != secret
    assert post(client, f"/admin/clients/{client_id}/delete", confirm="yes").status_code == 303
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM clients")).scalar() == 0


def test_client_policies_from_the_console(app, client, admin):
    sign_in(client, "root@example.com", admin[1])
    page = post(client, "/admin/clients", name="apache", redirect_uris="https://app.example/redirect_uri",
                pkce_optional="1", refresh_grace_seconds="", refresh_tokens_always="1",
                backchannel_logout_uri="https://app.example/bc", dpop_bound="1")
    client_id = page.get_data(as_text=True).split('id="client-id">')[1].split("<")[0]
    detail = client.get(f"/admin/clients/{client_id}").get_data(as_text=True)
    assert "PKCE optional" in detail and "refresh grace 30 s" in detail and "DPoP required" in detail
    assert 'id="client-backchannel-uri">https://app.example/bc<' in detail
    bad = post(client, "/admin/clients", name="spa", redirect_uris="http://localhost:3000/cb", public="1",
               pkce_optional="1")
    assert "PKCE is always required" in client.get(bad.location).get_data(as_text=True)
    bad = post(client, "/admin/clients", name="web", redirect_uris="https://app.example/cb", refresh_grace_seconds="x")
    assert "number of seconds" in client.get(bad.location).get_data(as_text=True)


def test_keys_and_audit_from_the_console(app, client, admin):
    sign_in(client, "root@example.com", admin[1])
    client.get("/jwks.json")
    response = post(client, "/admin/keys", alg="ES256")
    assert "is active" in client.get(response.location).get_data(as_text=True)
    assert any(k["alg"] == "ES256" for k in client.get("/jwks.json").get_json()["keys"])
    audit = client.get("/admin/audit?event=keys.").get_data(as_text=True)
    assert "keys.rotated" in audit and "login.failed" not in audit
    mine = client.get("/admin/audit?email=root@example.com").get_data(as_text=True)
    assert "login.second_factor_ok" in mine


def test_console_forms_need_csrf(client, admin, user):
    sign_in(client, "root@example.com", admin[1])
    assert client.post(f"/admin/users/{user.id}/disable").status_code == 400


def test_console_changes_need_a_recent_second_factor(client, admin, user, monkeypatch):
    sign_in(client, "root@example.com", admin[1])
    token = csrf_token(client.get("/account").get_data(as_text=True))
    later = clock.now() + 600
    monkeypatch.setattr(clock, "now", lambda: later)
    assert client.get("/admin").status_code == 200  # looking is fine
    response = client.post(f"/admin/users/{user.id}/disable", data={"csrf_token": token, "confirm": "yes"})
    assert response.location.startswith("/login/mfa")
    assert "disabled" not in client.get(f"/admin/users/{user.id}").get_data(as_text=True).split("Status:")[1][:60]
