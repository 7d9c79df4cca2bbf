"""The hosted sign-in page: one answer for every failure, fresh session ids, headers."""

import re

from idp.extensions import db
from idp.models import User
from idp.security.passwords import Argon2Params, Passwords
from tests.helpers import PASSWORD, csrf_token, make_user, update_user


def login_page(client):
    page = client.get("/login")
    return csrf_token(page.get_data(as_text=True))


def post(client, email, password):
    return client.post("/login", data={"csrf_token": login_page(client), "email": email, "password": password})


def test_wrong_password_unknown_email_and_disabled_account_look_the_same(app, client, user):
    make_user(app, "dora@example.com", disabled=True)
    answers = [post(client, e, p) for e, p in (
        ("alice@example.com", "wrong password"),
        ("nobody@example.com", "wrong password"),
        ("dora@example.com", PASSWORD),
    )]
    # CSRF tokens carry a timestamp: they may differ between answers, nothing else may.
    bodies = {
        re.sub(r'(value|data-csrf)="[A-Za-z0-9._-]{40,}"', "", a.get_data(as_text=True).replace(email, ""))
        for a, email in zip(answers, ("alice@example.com", "nobody@example.com", "dora@example.com"))
    }
    assert [a.status_code for a in answers] == [401, 401, 401]
    assert len(bodies) == 1
    assert "Incorrect email or password." in bodies.pop()


def test_email_is_case_insensitive(client, user):
    assert post(client, "Alice@Example.COM", PASSWORD).status_code == 303


def test_session_id_changes_at_sign_in(client, user):
    login_page(client)
    before = client.get_cookie("idp_session").value
    response = post(client, "alice@example.com", PASSWORD)
    after = client.get_cookie("idp_session").value
    assert response.status_code == 303 and before != after
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_old_session_id_is_dead_after_sign_in(app, client, user):
    login_page(client)
    before = client.get_cookie("idp_session").value
    post(client, "alice@example.com", PASSWORD)
    attacker = app.test_client()
    attacker.set_cookie("idp_session", before)
    assert attacker.get("/account").status_code == 302  # not signed in


def test_hosted_pages_send_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_password_is_rehashed_when_parameters_change(app, client, user):
    with app.app_context():
        old = db.session.get(User, user.id).password_hash
    # The operator raised the time cost.
    app.extensions["idp.passwords"] = Passwords(Argon2Params(memory_kib=1024, time_cost=2), max_concurrent=2)
    assert post(client, "alice@example.com", PASSWORD).status_code == 303
    with app.app_context():
        new = db.session.get(User, user.id).password_hash
    assert new != old and "t=2" in new


def test_unknown_email_costs_the_same_as_a_wrong_password(app, client, user, monkeypatch):
    """Every way to be wrong runs exactly one argon2 verification (OWASP: no timing
    oracle on which part was wrong). Counted, not timed: timing belongs in benchmarks."""
    update_user(app, make_user(app, "carol@example.com").id, disabled=True)
    calls = []
    verify = Passwords.verify

    def counted(self, stored, password):  # noqa: ANN001, ANN202
        calls.append(stored is not None)
        return verify(self, stored, password)

    monkeypatch.setattr(Passwords, "verify", counted)
    for email in ("alice@example.com", "nobody@example.com", "carol@example.com", ""):
        calls.clear()
        assert post(client, email, "wrong password").status_code in (400, 401)
        assert len(calls) == 1, (email, calls)


def test_disabled_person_signed_in_session_ends(app, client, actions, user, spa):
    actions.tokens(spa)
    update_user(app, user.id, disabled=True)
    response = actions.authorize(spa, prompt="none")
    assert "login_required" in response.location
