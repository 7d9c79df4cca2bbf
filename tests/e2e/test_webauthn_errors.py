"""What a person reads when WebAuthn fails in the browser (issue 11, item 4), in Debian's
chromium with its virtual authenticator: a cancelled or refused ceremony (NotAllowedError),
a page opened at an address the keys are not for (SecurityError), a key registered twice
(InvalidStateError), a browser without WebAuthn, and a browser without the JSON helpers of
WebAuthn Level 3, which must still work (a fallback, not a TypeError)."""

from __future__ import annotations

import re

import pytest

from .pages import expect, sign_in
from .test_webauthn import (  # noqa: F401 (fixtures)
    account_sign_in, add_authenticator, authorization, database, first_factor_recovery_codes, id_token_claims,
    make_person, platform, register, security_key, sign_out, wait_for_mfa_page,
)

pytestmark = pytest.mark.e2e

NO_JSON_HELPERS = """
delete PublicKeyCredential.parseCreationOptionsFromJSON;
delete PublicKeyCredential.parseRequestOptionsFromJSON;
delete PublicKeyCredential.prototype.toJSON;
"""


def japanese(context, live_server) -> None:
    context.add_cookies([{"name": "idp_lang", "value": "ja", "url": live_server.url}])


def test_without_the_json_helpers_keys_still_register_and_sign_in(
    context, page, security_key, live_server, receiver, make_user, database, watch,
):
    context.add_init_script(NO_JSON_HELPERS)
    issuer = live_server.url
    email, password, person = make_person(make_user, database)
    account_sign_in(page, issuer, email, password)
    assert page.evaluate("typeof PublicKeyCredential.parseCreationOptionsFromJSON") == "undefined"
    register(page, issuer, "Old browser key", passkey=False)
    first_factor_recovery_codes(page, issuer)
    sign_out(page, issuer)

    auth = authorization(live_server, receiver)
    page.goto(auth.url)
    sign_in(page, issuer, email, password)
    wait_for_mfa_page(page, issuer)
    with page.expect_response(lambda r: r.url == issuer + "/webauthn/mfa/verify") as info:
        page.locator("#webauthn-authenticate").click()
    assert info.value.status == 200, info.value.text()
    assert id_token_claims(page, live_server, receiver, auth)["sub"] == person["subject"]
    assert not watch.page_errors, watch.page_errors


def test_a_key_registered_twice_is_explained(context, page, security_key, live_server, make_user, database, watch):
    japanese(context, live_server)
    issuer = live_server.url
    email, password, _person = make_person(make_user, database)
    account_sign_in(page, issuer, email, password)
    register(page, issuer, "Blue key", passkey=False)
    first_factor_recovery_codes(page, issuer)
    page.locator("#webauthn-name").fill("Blue key again")
    page.locator("#webauthn-register").click()
    error = page.locator("#webauthn-register-section #webauthn-error")
    expect(error).to_be_visible()
    expect(error).to_have_text(
        "このセキュリティキーはすでにアカウントに登録されています。別のキーを使うか、先に一覧からこのキーを削除してください。"
    )
    assert len(security_key.credentials()) == 1
    assert not watch.page_errors, watch.page_errors


def test_a_refused_ceremony_is_explained(page, platform, live_server, watch):
    """A passkey sign-in with no passkey on the authenticator: the browser answers
    NotAllowedError, as it does when the person cancels or the time runs out."""
    page.goto(live_server.url + "/login")
    page.locator("#passkey-login").click()
    error = page.locator("#passkey-section #webauthn-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("was not used: the request was cancelled or timed out")
    assert not watch.page_errors, watch.page_errors


def test_a_page_at_another_address_is_explained(context, page, platform, live_server, watch):
    """The provider at 127.0.0.1 while its keys are for `localhost`: SecurityError."""
    japanese(context, live_server)
    other = live_server.url.replace("localhost", "127.0.0.1")
    context.add_cookies([{"name": "idp_lang", "value": "ja", "url": other}])
    page.goto(other + "/login")
    page.locator("#passkey-login").click()
    error = page.locator("#passkey-section #webauthn-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("このページのアドレスがセキュリティキーの登録先と違うため")
    assert not watch.page_errors, watch.page_errors


def test_a_browser_without_webauthn_is_told_so(context, page, live_server, make_user, database, watch):
    context.add_init_script("delete window.PublicKeyCredential;")
    issuer = live_server.url
    page.goto(issuer + "/login")
    expect(page.locator("#passkey-section")).to_be_hidden()  # one way among others: not offered
    email, password, _person = make_person(make_user, database)
    sign_in(page, issuer, email, password)
    page.goto(issuer + "/account")
    expect(page.locator("#webauthn-register")).to_be_disabled()
    expect(page.locator("#webauthn-register-section #webauthn-error")).to_contain_text(
        "This browser cannot use security keys or passkeys."
    )
    assert not watch.page_errors, watch.page_errors
