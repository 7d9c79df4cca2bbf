"""Issue 9, item 4: an authorization code issued before the person signed out, changed their
password, had it reset, had their second factors reset or was disabled is refused at
/token, as the grants of that session or person are. A stolen session that minted codes
keeps nothing once the owner reacted."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from idp.extensions import db
from idp.models import User
from tests.helpers import PASSWORD, Actions, Pkce, csrf_token


@pytest.fixture
def minted(client, actions, user, spa):
    """A code the session minted and nobody redeemed yet (the attacker keeps it)."""
    actions.tokens(spa)  # signed in
    pkce = Pkce()
    return actions.code(spa, pkce), pkce


def _refused(actions, spa, code, pkce) -> None:
    response = actions.exchange(spa, code, pkce)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"] == "invalid_grant"


def test_sign_out_on_the_account_page(client, actions, spa, minted):
    token = csrf_token(client.get("/account").get_data(as_text=True))
    assert client.post("/account/sign-out", data={"csrf_token": token}).status_code == 200
    _refused(actions, spa, *minted)


def test_rp_initiated_logout(client, actions, spa, minted):
    tokens = actions.tokens(spa)
    code, pkce = minted
    assert client.get("/logout?" + urlencode({"id_token_hint": tokens["id_token"]})).status_code == 200
    _refused(actions, spa, code, pkce)


def test_a_password_change_keeps_this_session_but_not_its_old_codes(client, actions, spa, minted):
    page = client.get("/account/password")
    response = client.post("/account/password", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "current_password": PASSWORD,
        "password": "a brand new passphrase", "password_confirm": "a brand new passphrase",
    })
    assert response.status_code == 303
    _refused(actions, spa, *minted)
    # The person who changed it carries on: a code minted afterwards works.
    pkce = Pkce()
    assert actions.exchange(spa, actions.code(spa, pkce), pkce).status_code == 200


def test_a_session_in_another_browser_loses_its_codes_at_a_password_change(app, user, spa):
    thief, owner = Actions(app.test_client()), Actions(app.test_client())
    thief.tokens(spa)
    pkce = Pkce()
    code = thief.code(spa, pkce)
    owner.tokens(spa)
    page = owner.http.get("/account/password")
    owner.http.post("/account/password", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "current_password": PASSWORD,
        "password": "a brand new passphrase", "password_confirm": "a brand new passphrase",
    })
    _refused(thief, spa, code, pkce)


@pytest.mark.parametrize("command", [["users", "reset-mfa"], ["users", "disable"]])
def test_an_admin_command(app, actions, spa, minted, command):
    result = app.test_cli_runner().invoke(args=[*command, "alice@example.com"])
    assert result.exit_code == 0, result.output
    _refused(actions, spa, *minted)


def test_a_password_reset(app, actions, spa, minted):
    from idp import accounts, clock
    from idp.models import PasswordReset
    from idp.security.tokens import random_token, token_hash

    token = random_token(32)
    with app.app_context():
        user = db.session.query(User).filter_by(email="alice@example.com").one()
        db.session.add(PasswordReset(user_id=user.id, token_hash=token_hash(token), created_at=clock.now(),
                                     expires_at=clock.now() + 600))
        db.session.commit()
    with app.test_request_context():
        accounts.complete_password_reset(token, "a brand new passphrase", passwords=app.extensions["idp.passwords"],
                                         ip="127.0.0.1")
        db.session.commit()
    _refused(actions, spa, *minted)


def test_codes_of_other_sessions_survive_a_sign_out(app, client, actions, user, spa):
    other = Actions(app.test_client())
    other.tokens(spa)
    pkce = Pkce()
    code = other.code(spa, pkce)
    actions.tokens(spa)
    token = csrf_token(client.get("/account").get_data(as_text=True))
    client.post("/account/sign-out", data={"csrf_token": token})
    assert other.exchange(spa, code, pkce).status_code == 200
