"""Second factors and step-up over HTTP, with pyotp as the authenticator app."""

import re

import pyotp
import pytest
from sqlalchemy import text

from idp import clock
from idp.extensions import db
from tests.helpers import (
    PASSWORD, Actions, add_recovery_codes, add_totp, claims, csrf_token, make_client, make_user, query,
)


@pytest.fixture
def secret(app, user):
    return add_totp(app, user.id)


def at(seconds_from_now: int):
    moment = clock.now() + seconds_from_now
    return lambda: moment


def password_then_mfa_location(actions, spa, **params):
    response = actions.login(actions.authorize(spa, **params).location)
    assert response.status_code == 303
    assert response.location.startswith("/login/mfa?flow="), response.location
    return response.location


# --- TOTP sign-in ------------------------------------------------------------------------

def test_person_with_totp_is_asked_for_it_and_gets_mfa(client, actions, user, spa, secret):
    mfa = password_then_mfa_location(actions, spa)
    page = client.get(mfa).get_data(as_text=True)
    assert 'name="code"' in page and 'name="password"' not in page
    done = actions.second_factor(mfa, code=pyotp.TOTP(secret).at(clock.now()))
    assert done.status_code == 303
    code = query(client.get(done.location).location)["code"]
    assert code


def test_tokens_say_mfa(client, actions, user, spa, secret):
    body = actions.tokens(spa, totp_secret=secret)
    idt, at_ = claims(client, body["id_token"]), claims(client, body["access_token"])
    assert idt["acr"] == at_["acr"] == "mfa"
    assert idt["amr"] == at_["amr"] == ["pwd", "otp", "mfa"]


def test_password_alone_gives_no_session(client, actions, user, spa, secret):
    password_then_mfa_location(actions, spa)
    # Abandon the second factor: the session must not be signed in at pwd.
    assert query(actions.authorize(spa, prompt="none").location)["error"] == "login_required"
    assert client.get("/account").status_code == 302


@pytest.mark.parametrize("offset, accepted", [(-30, True), (0, True), (30, True), (-60, False), (60, False)])
def test_drift_window(client, actions, user, spa, secret, offset, accepted):
    mfa = password_then_mfa_location(actions, spa)
    code = pyotp.TOTP(secret).at(clock.now() + offset)
    assert actions.second_factor(mfa, code=code).status_code == (303 if accepted else 401)


def test_wrong_code(client, actions, user, spa, secret):
    mfa = password_then_mfa_location(actions, spa)
    response = actions.second_factor(mfa, code="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert response.status_code == 401
    assert "That code is not valid." in response.get_data(as_text=True)
    for junk in ("abcdef", "1234567"):
        assert actions.second_factor(mfa, code=junk).status_code == 401
    # Three tries per sign-in attempt: the fourth ends it, even with the right code.
    spent = actions.second_factor(mfa, code=pyotp.TOTP(secret).at(clock.now()))
    assert spent.status_code == 429 and "Start again" in spent.get_data(as_text=True)
    assert actions.second_factor(mfa, code=pyotp.TOTP(secret).at(clock.now())).status_code == 400


def test_a_code_is_accepted_once(app, client, actions, user, spa, secret):
    code = pyotp.TOTP(secret).at(clock.now())
    mfa = password_then_mfa_location(actions, spa)
    assert actions.second_factor(mfa, code=code).status_code == 303
    other = Actions(app.test_client())
    mfa2 = password_then_mfa_location(other, spa)
    assert other.second_factor(mfa2, code=code).status_code == 401


def test_an_older_step_is_refused_after_a_newer_one(app, client, actions, user, spa, secret):
    now = clock.now()
    mfa = password_then_mfa_location(actions, spa)
    assert actions.second_factor(mfa, code=pyotp.TOTP(secret).at(now + 30)).status_code == 303
    other = Actions(app.test_client())
    mfa2 = password_then_mfa_location(other, spa)
    assert other.second_factor(mfa2, code=pyotp.TOTP(secret).at(now)).status_code == 401


def test_several_authenticators_each_work(app, client, actions, user, spa, secret):
    second = add_totp(app, user.id, label="Tablet")
    mfa = password_then_mfa_location(actions, spa)
    assert actions.second_factor(mfa, code=pyotp.TOTP(second).at(clock.now())).status_code == 303


# --- recovery codes ------------------------------------------------------------------

def test_recovery_code_signs_in_once(app, client, actions, user, spa, secret):
    codes = add_recovery_codes(app, user.id)
    mfa = password_then_mfa_location(actions, spa)
    done = actions.second_factor(mfa, recovery_code=codes[0].lower().replace("-", " "))
    assert done.status_code == 303
    assert "code" in query(client.get(done.location).location)
    other = Actions(app.test_client())
    mfa2 = password_then_mfa_location(other, spa)
    assert other.second_factor(mfa2, recovery_code=codes[0]).status_code == 401
    assert other.second_factor(mfa2, recovery_code=codes[1]).status_code == 303
    with app.app_context():
        events = [r[0] for r in db.session.execute(text("SELECT event FROM audit_events"))]
    assert events.count("mfa.recovery_code_used") == 2


def add_security_key(app, user_id: int) -> None:
    from idp.models import WebAuthnCredential

    with app.app_context():
        db.session.add(WebAuthnCredential(user_id=user_id, credential_id=f"key-{user_id}".encode(), public_key=b"-",
                                          name="Key", created_at=clock.now()))
        db.session.commit()


def test_security_key_only_person_signs_in_with_a_recovery_code(app, client, actions, user, spa):
    """Issue 9, item 7: the recovery-code form was offered only beside an authenticator
    app, and a security-key-only person's genuine codes got 401 and counted as failures."""
    add_security_key(app, user.id)
    codes = add_recovery_codes(app, user.id)
    mfa = password_then_mfa_location(actions, spa)
    page = client.get(mfa).get_data(as_text=True)
    assert 'id="recovery-form"' in page and 'id="totp-form"' not in page and 'id="webauthn-authenticate"' in page
    done = actions.second_factor(mfa, recovery_code=codes[0])
    assert done.status_code == 303, done.get_data(as_text=True)
    assert "code" in query(client.get(done.location).location)
    with app.app_context():
        events = [r[0] for r in db.session.execute(text("SELECT event FROM audit_events"))]
    assert "mfa.recovery_code_used" in events and "login.failed" not in events


# --- the pending state (../shared/seeds/003) -----------------------------------------

def test_pending_state_cannot_be_reused_after_completion(client, actions, user, spa, secret):
    mfa = password_then_mfa_location(actions, spa)
    assert actions.second_factor(mfa, code=pyotp.TOTP(secret).at(clock.now())).status_code == 303
    again = client.post("/login/mfa", data={
        "csrf_token": csrf_token(client.get("/login").get_data(as_text=True)),
        "code": pyotp.TOTP(secret).at(clock.now() + 30), **query(mfa),
    })
    assert again.status_code == 400


def test_pending_state_expires_after_five_minutes(app, client, actions, user, spa, secret):
    from tests import redis_db

    mfa = password_then_mfa_location(actions, spa)
    r = redis_db.connect(app.config["REDIS_URL"])
    keys = list(r.scan_iter("idp:pending:*"))
    assert keys and all(0 < r.ttl(k) <= 300 for k in keys)
    for k in keys:
        r.delete(k)  # what 300 seconds would do
    assert actions.second_factor(mfa, code=pyotp.TOTP(secret).at(clock.now())).status_code == 400


def test_pending_state_is_bound_to_its_flow(client, actions, user, spa, secret):
    mfa = password_then_mfa_location(actions, spa)
    other_flow = actions.authorize(spa).location  # a second flow in the same browser
    response = actions.second_factor(other_flow.replace("/login?", "/login/mfa?"), code=pyotp.TOTP(secret).at(clock.now()))
    assert response.status_code == 400
    del mfa


def test_pending_state_of_one_person_is_useless_to_another(app, client, actions, user, spa, secret):
    mallory = make_user(app, "mallory@example.com")
    mallory_secret = add_totp(app, mallory.id)
    mfa = password_then_mfa_location(actions, spa)  # alice's password, pending
    # Mallory's valid code does not complete Alice's sign-in…
    assert actions.second_factor(mfa, code=pyotp.TOTP(mallory_secret).at(clock.now())).status_code == 401
    # …and Mallory's browser cannot use Alice's pending state at all.
    thief = app.test_client()
    thief_actions = Actions(thief)
    thief.get("/login")
    assert thief_actions.second_factor(mfa, code=pyotp.TOTP(secret).at(clock.now())).status_code == 400


# --- step-up --------------------------------------------------------------------------

def test_pwd_session_asked_for_mfa_gets_only_the_code_page(app, client, actions, user, spa):
    first = actions.tokens(spa)
    assert claims(client, first["id_token"])["acr"] == "pwd"
    secret = add_totp(app, user.id)  # enrolled elsewhere since
    response = actions.authorize(spa, acr_values="mfa")
    assert response.location.startswith("/login/mfa?flow=")
    page = client.get(response.location).get_data(as_text=True)
    assert 'name="password"' not in page and 'name="code"' in page
    body = actions.tokens(spa, acr_values="mfa", totp_secret=secret)
    idt = claims(client, body["id_token"])
    assert idt["acr"] == "mfa"
    assert idt["sid"] == claims(client, first["id_token"])["sid"]


def test_prompt_none_with_unmet_acr_is_interaction_required(app, client, actions, user, spa):
    actions.tokens(spa)
    add_totp(app, user.id)
    response = actions.authorize(spa, acr_values="mfa", prompt="none")
    assert query(response.location)["error"] == "interaction_required"


def test_max_age_exceeded_means_full_sign_in(client, actions, user, spa, secret, monkeypatch):
    actions.tokens(spa, totp_secret=secret)
    monkeypatch.setattr(clock, "now", at(120))
    response = actions.authorize(spa, max_age="60")
    assert response.location.startswith("/login?flow=")


def test_max_age_zero_asks_for_everything_again(client, actions, user, spa, secret, monkeypatch):
    actions.tokens(spa, totp_secret=secret)
    monkeypatch.setattr(clock, "now", at(31))
    body = actions.tokens(spa, max_age="0", totp_secret=secret)
    assert claims(client, body["id_token"])["auth_time"] >= clock.now()


def test_essential_phr_for_a_totp_only_person_is_unmet(client, actions, user, spa, secret):
    actions.tokens(spa, totp_secret=secret)
    claims_param = '{"id_token": {"acr": {"essential": true, "values": ["phr"]}}}'
    response = actions.authorize(spa, claims=claims_param, state="x")
    q = query(response.location)
    assert q["error"] == "unmet_authentication_requirements" and q["state"] == "x"


def test_phr_for_totp_only_person_is_unmet_after_the_whole_sign_in(client, actions, user, spa, secret):
    response = actions.login(actions.authorize(spa, acr_values="phr").location)
    assert response.location.startswith("/login/mfa")  # the person's own floor first
    done = actions.second_factor(response.location, code=pyotp.TOTP(secret).at(clock.now()))
    final = client.get(done.location)
    assert query(final.location)["error"] == "unmet_authentication_requirements"


def test_client_min_acr_applies_to_every_request(app, client, actions, user, secret):
    strict = make_client(app, public=True, min_acr="mfa")
    body = actions.tokens(strict, totp_secret=secret)
    assert claims(client, body["id_token"])["acr"] == "mfa"


def test_refresh_never_raises_acr(app, client, actions, user, spa):
    first = actions.tokens(spa)
    secret = add_totp(app, user.id)
    actions.tokens(spa, acr_values="mfa", totp_secret=secret)
    refreshed = actions.token(spa, grant_type="refresh_token", refresh_token=first["refresh_token"]).get_json()
    assert claims(client, refreshed["access_token"])["acr"] == "pwd"


# --- enrolment -----------------------------------------------------------------------

def totp_secret_of(html: str) -> str:
    """The text of #totp-secret (shown in groups of four, one element each)."""
    inner = re.search(r'<code id="totp-secret"[^>]*>(.*?)</code>', html, re.S).group(1)
    return re.sub(r"<[^>]+>", "", inner)


def enrol_totp_via_pages(client, location="/account/mfa/totp/new"):
    page = client.get(location)
    assert page.status_code == 200, page.location
    html = page.get_data(as_text=True)
    secret = totp_secret_of(html)
    assert "<svg" in html
    data = {"csrf_token": csrf_token(html), "code": pyotp.TOTP(secret).at(clock.now()), "label": "Phone"}
    data.update(query(location))
    return secret, client.post("/account/mfa/totp/new", data=data)


def test_enrol_first_totp_shows_recovery_codes_once(client, actions, user, spa):
    actions.tokens(spa)
    secret, response = enrol_totp_via_pages(client)
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert page.count("<li><code>") == 10 and 'id="recovery-codes"' in page
    assert client.get(response.location).status_code == 302  # shown once
    assert "10 of 10 left" in client.get("/account").get_data(as_text=True)
    # Enrolling counted as using it: the session is at mfa now.
    assert claims(client, actions.tokens(spa)["id_token"])["acr"] == "mfa"
    del secret


def test_wrong_enrolment_code_enrols_nothing(app, client, actions, user, spa):
    actions.tokens(spa)
    page = client.get("/account/mfa/totp/new").get_data(as_text=True)
    response = client.post("/account/mfa/totp/new", data={"csrf_token": csrf_token(page), "code": "123456"})
    assert response.status_code == 401
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM totp_factors")).scalar() == 0


def test_required_mfa_without_factor_goes_through_enrolment_before_tokens(app, client, actions, spa):
    person = make_user(app, "new@example.com", mfa_required=True)
    with app.app_context():  # such an account enrols with a mailed link (tests/integration/test_reset_mfa.py)
        from idp import accounts
        from idp.models import User

        link = accounts.new_enrolment_link(db.session.get(User, person.id))
        db.session.commit()
    client.get(link.url.removeprefix("http://localhost"))
    response = actions.login(actions.authorize(spa).location, email="new@example.com")
    setup = client.get(response.location)
    assert setup.status_code == 302 and "/account/setup?flow=" in setup.location
    flow_q = setup.location.split("?", 1)[1]
    secret, enrolled = enrol_totp_via_pages(client, "/account/mfa/totp/new?" + flow_q)
    codes_page = client.get(enrolled.location).get_data(as_text=True)
    onward = codes_page.split('id="recovery-continue" class="button"')[0].rsplit('href="', 1)[1].split('"')[0]
    final = client.get(onward.replace("&amp;", "&"))
    assert "code" in query(final.location)
    del secret


def test_adding_a_second_factor_needs_a_fresh_one(client, actions, user, spa, secret, monkeypatch):
    actions.tokens(spa, totp_secret=secret)
    monkeypatch.setattr(clock, "now", at(600))
    response = client.get("/account/mfa/totp/new")
    assert response.status_code in (302, 303) and response.location.startswith("/login/mfa?next=")
    done = actions.second_factor(response.location, code=pyotp.TOTP(secret).at(clock.now()))
    assert done.status_code == 303
    assert client.get(done.location).location.startswith("/account/mfa/totp/new")
    assert client.get("/account/mfa/totp/new").status_code == 200


def test_removing_a_factor_needs_a_fresh_one(app, client, actions, user, spa, secret, monkeypatch):
    actions.tokens(spa, totp_secret=secret)
    with app.app_context():
        factor_id = db.session.execute(text("SELECT id FROM totp_factors")).scalar()
    token = csrf_token(client.get("/account").get_data(as_text=True))
    monkeypatch.setattr(clock, "now", at(600))
    refused = client.post(f"/account/mfa/totp/{factor_id}/delete", data={"csrf_token": token})
    assert refused.location.startswith("/login/mfa")
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM totp_factors")).scalar() == 1


def test_removing_the_last_factor_takes_the_recovery_codes_with_it(app, client, actions, user, spa, secret):
    add_recovery_codes(app, user.id)
    actions.tokens(spa, totp_secret=secret)
    with app.app_context():
        factor_id = db.session.execute(text("SELECT id FROM totp_factors")).scalar()
    token = csrf_token(client.get("/account").get_data(as_text=True))
    assert client.post(f"/account/mfa/totp/{factor_id}/delete", data={"csrf_token": token}).status_code == 303
    with app.app_context():
        assert db.session.execute(text("SELECT count(*) FROM recovery_codes")).scalar() == 0
    other = Actions(app.test_client())
    assert other.login(other.authorize(spa).location).location.startswith("/authorize")  # the password only


def test_no_secret_in_plain_text_in_the_database(app, client, actions, user, spa):
    actions.tokens(spa)
    secret, response = enrol_totp_via_pages(client)
    codes_page = client.get(response.location).get_data(as_text=True)
    codes = [c.split("</code>")[0] for c in codes_page.split("<li><code>")[1:]]
    with app.app_context():
        dump = " ".join(
            str(row) for table in ("totp_factors", "recovery_codes", "users", "audit_events")
            for row in db.session.execute(text(f"SELECT * FROM {table}"))
        )
    assert secret not in dump
    for code in codes:
        assert code not in dump and code.replace("-", "") not in dump
    assert PASSWORD not in dump


def test_totp_enrolment_is_easy(client, actions, user):
    """The key in groups of four, an otpauth:// link for the phone itself, a QR code with an
    accessible name, and which apps work."""
    actions.login("/login?next=/account")
    html = client.get("/account/mfa/totp/new").get_data(as_text=True)
    secret = totp_secret_of(html)
    groups = re.findall(r"<span>([A-Z2-7=]+)</span>", html.split('id="totp-secret"')[1].split("</code>")[0])
    assert "".join(groups) == secret and all(len(g) == 4 for g in groups[:-1])
    link = re.search(r'<a href="(otpauth://totp/[^"]+)" id="totp-link"', html).group(1)
    assert f"secret={secret}" in link
    assert re.search(r'id="totp-qr" role="img" aria-label="[^"]+"', html)
    assert "RFC 6238" in html
