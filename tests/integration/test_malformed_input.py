"""Issue 9, item 15: five malformed inputs that reached a 500 get a clear 4xx instead."""

from __future__ import annotations

import base64

import pyotp
import pytest

from idp import clock
from tests.helpers import PASSWORD, Actions, csrf_token, make_user
from tests.integration.test_mfa import totp_secret_of

NOT_UTF8 = "Basic " + base64.b64encode(b"\xff\xfe:\xc3\x28").decode()


@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_basic_credentials_that_are_not_utf8(client, path):
    response = client.post(path, data={"grant_type": "client_credentials", "token": "x"},
                           headers={"Authorization": NOT_UTF8})
    assert response.status_code in (400, 401), response.get_data(as_text=True)[:300]
    assert response.get_json()["error"] in ("invalid_client", "invalid_request")


@pytest.mark.parametrize("header", ["Basic ", "Bearer ", "   "])
def test_a_scheme_without_credentials(client, header):
    # Found by the fuzz test: authlib cannot split these.
    response = client.post("/revoke", data={"token": "x"}, headers={"Authorization": header})
    assert response.status_code == 401, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize("params", [{"response_type": "\x1f"}, {"prompt": "l\u00f6gin"}, {"state": "a\x7fb"},
                                    {"response_type": 'co"de'}])
def test_authorization_parameters_that_cannot_be_echoed(actions, spa, params):
    # Found by the fuzz test: authlib refuses such text in an error description.
    response = actions.authorize(spa, **params)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "Location" not in response.headers


def _webauthn(client, path: str, body: bytes):  # noqa: ANN202
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post(path, data=body, content_type="application/json", headers={"X-CSRFToken": token})


@pytest.mark.parametrize("body", [
    rb'{"credential": {"id": "\ud800", "rawId": "\ud800", "type": "public-key", "response": {}}}',
    rb'{"flow": "\udfff"}',
    rb'{"credential": {"id": "a\u0000b"}}',
    b"[" * 20_000 + b"]" * 20_000,
])
def test_lone_surrogates_and_nul_in_passkey_json(client, body):
    response = _webauthn(client, "/webauthn/passkey/verify", body)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "error" in response.get_json()


def test_a_nul_in_a_security_key_name(client, actions, user, spa):
    actions.tokens(spa)
    token = csrf_token(client.get("/account").get_data(as_text=True))
    response = client.post("/webauthn/register/options", data='{"name": "my\\u0000key"}',
                           content_type="application/json", headers={"X-CSRFToken": token})
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    # The page shows a sentence a person can act on; the detail goes to the log.
    assert "could not be read" in response.get_json()["error"]


def test_confirming_a_totp_enrolment_after_switching_person(app, client, user, spa):
    make_user(app, "bob@example.com")
    browser = Actions(client)
    browser.tokens(spa)  # alice
    page = client.get("/account/mfa/totp/new")
    assert page.status_code == 200
    secret = totp_secret_of(page.get_data(as_text=True))
    response = browser.login("/login?next=/account", email="bob@example.com")
    assert response.status_code == 303
    confirm = client.post("/account/mfa/totp/new", data={
        "csrf_token": csrf_token(client.get("/account").get_data(as_text=True)),
        "code": pyotp.TOTP(secret).at(clock.now()),
    })
    assert confirm.status_code == 400, confirm.get_data(as_text=True)[:300]
    assert "another account" in confirm.get_data(as_text=True)
    # Bob did not get alice's authenticator.
    assert 'id="totp-secret"' in confirm.get_data(as_text=True)


@pytest.mark.parametrize("next_path", ["/account\r\nSet-Cookie: x=1", "/account\rX: y", "/admin\n"])
def test_cr_lf_in_next(client, user, next_path):
    encoded = next_path.replace("\r", "%0d").replace("\n", "%0a")
    response = client.get("/login?next=" + encoded)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert "next must be a path" in response.get_data(as_text=True)
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"csrf_token": token, "email": user.email, "password": PASSWORD,
                                           "next": next_path})
    assert response.status_code == 400
    assert client.get("/login/continue?next=" + encoded).status_code == 400
