"""WebAuthn in a real browser: Chromium's virtual authenticator (CDP `WebAuthn` domain) against
the live provider. Security keys as the second factor, passkeys instead of the password,
recovery codes after the first factor, sign-count regression (a cloned key), credentials
that belong to someone else, and removing a key.

The page must be on the issuer's origin (http://localhost:<port>, a secure context) and the
RP ID is the issuer's host, `localhost`."""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

import jwt
import pytest
from sqlalchemy import create_engine, text

from .pages import expect, pkce_pair, query, sign_in

pytestmark = pytest.mark.e2e


# --- the virtual authenticator ----------------------------------------------------------

@dataclass
class Authenticator:
    cdp: object
    id: str

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]

    def only_credential(self) -> dict:
        found = self.credentials()
        assert len(found) == 1, found
        return found[0]

    def replace_credential(self, credential: dict) -> None:
        self.cdp.send("WebAuthn.removeCredential", {"authenticatorId": self.id, "credentialId": credential["credentialId"]})
        self.cdp.send("WebAuthn.addCredential", {"authenticatorId": self.id, "credential": credential})


def _base64url(standard: str) -> str:
    """CDP speaks base64; WebAuthn's JSON speaks unpadded base64url."""
    return standard.rstrip("=").replace("+", "-").replace("/", "_")


def add_authenticator(context, page, *, transport: str, user_verification: bool) -> Authenticator:
    """A CTAP2 authenticator that counts its signatures, touched automatically."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    created = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2",
        "transport": transport,
        "hasResidentKey": True,
        "hasUserVerification": user_verification,
        "isUserVerified": user_verification,
        "automaticPresenceSimulation": True,
    }})
    return Authenticator(cdp, created["authenticatorId"])


@pytest.fixture
def security_key(context, page) -> Authenticator:
    """A plain USB security key: no PIN, no biometrics (user presence only)."""
    return add_authenticator(context, page, transport="usb", user_verification=False)


@pytest.fixture
def platform(context, page) -> Authenticator:
    """A platform authenticator that verifies its user (a laptop's fingerprint reader)."""
    return add_authenticator(context, page, transport="internal", user_verification=True)


# --- the provider's database --------------------------------------------------------------

@pytest.fixture(scope="module")
def database(live_server):
    engine = create_engine(live_server.env["DATABASE_URL"])
    yield engine
    engine.dispose()


def _rows(database, sql: str, **params) -> list[dict]:
    with database.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(sql), params)]


def user_row(database, email: str) -> dict:
    (row,) = _rows(database, "SELECT id, subject FROM users WHERE email = :email", email=email)
    return row


def credential_rows(database, user_id: int) -> list[dict]:
    return _rows(database, "SELECT id, name, is_passkey, sign_count FROM webauthn_credentials "
                           "WHERE user_id = :uid ORDER BY id", uid=user_id)


def audit_events(database, user_id: int) -> list[str]:
    return [r["event"] for r in _rows(database, "SELECT event FROM audit_events WHERE user_id = :uid ORDER BY id", uid=user_id)]


# --- an OIDC client of our own: /authorize with PKCE, then /token --------------------------

@dataclass
class Authorization:
    url: str
    verifier: str
    state: str
    nonce: str


def authorization(live_server, receiver, **extra: str) -> Authorization:
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    params = {
        "response_type": "code",
        "client_id": receiver.client_id,
        "redirect_uri": receiver.redirect_uri,
        "scope": "openid",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return Authorization(live_server.url + "/authorize?" + urllib.parse.urlencode(params), verifier, state, nonce)


def _discovery(live_server) -> dict:
    with urllib.request.urlopen(live_server.url + "/.well-known/openid-configuration", timeout=10) as r:
        return json.load(r)


def id_token_claims(page, live_server, receiver, auth: Authorization) -> dict:
    """Wait for the browser to reach the client, redeem the code, verify the ID token."""
    page.wait_for_url(re.compile("^" + re.escape(receiver.redirect_uri) + r"\?"))
    params = query(page.url)
    assert "error" not in params, params
    assert params["state"] == [auth.state]
    assert params["iss"] == [live_server.url]
    doc = _discovery(live_server)
    body = urllib.parse.urlencode({
        "grant_type": "authorization_code",
        "code": params["code"][0],
        "redirect_uri": receiver.redirect_uri,
        "client_id": receiver.client_id,
        "code_verifier": auth.verifier,
    }).encode()
    request = urllib.request.Request(doc["token_endpoint"], data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as r:
        tokens = json.load(r)
    id_token = tokens["id_token"]
    key = jwt.PyJWKClient(doc["jwks_uri"]).get_signing_key_from_jwt(id_token)
    claims = jwt.decode(
        id_token, key.key, algorithms=doc["id_token_signing_alg_values_supported"],
        audience=receiver.client_id, issuer=live_server.url,
    )
    assert claims["nonce"] == auth.nonce
    # The access token (RFC 9068) says the same about the authentication.
    access = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert (access.get("sub"), access.get("acr"), access.get("amr")) == (claims["sub"], claims["acr"], claims["amr"])
    return claims


def reached_client(receiver, auth: Authorization) -> bool:
    return any(hit.query.get("state") == [auth.state] for hit in receiver.server.snapshot())


# --- what a person does on the hosted pages ---------------------------------------------

def account_sign_in(page, issuer: str, email: str, password: str) -> None:
    """Open /account, sign in with the password there; lands on /account (or /login/mfa)."""
    page.goto(issuer + "/account")
    sign_in(page, issuer, email, password)
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/(account|login/mfa)(\?|$)"))


def sign_out(page, issuer: str) -> None:
    page.goto(issuer + "/account")
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/account$"))
    page.locator("#sign-out").click()
    page.wait_for_load_state()
    page.goto(issuer + "/account")
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/login\?"))  # signed out: asked to sign in


def register(page, issuer: str, name: str, *, passkey: bool) -> None:
    """On /account: add a security key or passkey; waits until the page has moved on."""
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/account(\?|$)"))
    page.locator("#webauthn-name").fill(name)
    page.locator("#webauthn-passkey").set_checked(passkey)
    onward = re.compile("^" + re.escape(issuer) + r"/account(/recovery-codes/new)?$")
    with page.expect_navigation(url=onward):  # the page's message is in the session, not the URL
        with page.expect_response(lambda r: r.url == issuer + "/webauthn/register/verify") as info:
            page.locator("#webauthn-register").click()
        assert info.value.status == 200, (info.value.status, info.value.text())


def first_factor_recovery_codes(page, issuer: str) -> list[str]:
    """The page shown once after the first second factor: read the codes, continue."""
    page.wait_for_url(issuer + "/account/recovery-codes/new")
    codes = [c.strip() for c in page.locator("#recovery-codes > *").all_text_contents()]
    page.locator("#recovery-continue").click()
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/account(\?|$)"))
    return codes


def register_first(page, issuer: str, name: str, *, passkey: bool) -> list[str]:
    register(page, issuer, name, passkey=passkey)
    return first_factor_recovery_codes(page, issuer)


def wait_for_mfa_page(page, issuer: str) -> None:
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/login/mfa\?"))
    expect(page.locator("#webauthn-authenticate")).to_be_visible()


def _wait_for_the_next_second() -> None:
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.02)


def make_person(make_user, database) -> tuple[str, str, dict]:
    email, password = make_user()
    return email, password, user_row(database, email)


# --- the tests --------------------------------------------------------------------------

def test_security_key_registered_after_password_is_the_second_factor(
    page, security_key, live_server, receiver, make_user, database, watch,
):
    issuer = live_server.url
    email, password, person = make_person(make_user, database)

    # Right after the password, the first second factor needs no step-up.
    account_sign_in(page, issuer, email, password)
    register(page, issuer, "Blue key", passkey=False)
    codes = first_factor_recovery_codes(page, issuer)
    assert len(codes) == 10, codes
    assert all(codes) and len(set(codes)) == 10, codes
    expect(page.locator("#webauthn-list")).to_contain_text("Blue key")
    expect(page.locator("#recovery-left")).to_contain_text("10 of 10")
    # Shown once: the page does not show them again.
    page.goto(issuer + "/account/recovery-codes/new")
    expect(page.locator("#account-email")).to_be_visible()
    assert page.locator("#recovery-codes").count() == 0
    assert not any(code in page.content() for code in codes)

    (row,) = credential_rows(database, person["id"])
    assert row["name"] == "Blue key" and not row["is_passkey"]
    credential = security_key.only_credential()
    assert credential["rpId"] == "localhost"
    assert not credential["isResidentCredential"], "a security key was asked for a discoverable credential"
    assert "mfa.added" in audit_events(database, person["id"])

    # A new sign-in through a client: the password, then the key.
    sign_out(page, issuer)
    auth = authorization(live_server, receiver)
    page.goto(auth.url)
    sign_in(page, issuer, email, password)
    wait_for_mfa_page(page, issuer)
    with page.expect_response(lambda r: r.url == issuer + "/webauthn/mfa/verify") as info:
        page.locator("#webauthn-authenticate").click()
    assert info.value.status == 200, info.value.text()
    claims = id_token_claims(page, live_server, receiver, auth)
    assert claims["sub"] == person["subject"]
    assert claims["acr"] == "phr"
    # A key without PIN or biometrics proves presence only: no "user" (user verification).
    assert claims["amr"] == ["pwd", "hwk", "mfa"]
    assert "login.second_factor_ok" in audit_events(database, person["id"])

    assert not watch.page_errors, watch.page_errors
    assert not watch.csp_violations, watch.csp_violations


def test_passkey_signs_in_without_a_password(page, platform, live_server, receiver, make_user, database, watch):
    issuer = live_server.url
    email, password, person = make_person(make_user, database)
    account_sign_in(page, issuer, email, password)
    codes = register_first(page, issuer, "Laptop", passkey=True)
    assert len(codes) == 10
    (row,) = credential_rows(database, person["id"])
    assert row["is_passkey"]
    assert platform.only_credential()["isResidentCredential"], "a passkey must be discoverable"
    sign_out(page, issuer)

    auth = authorization(live_server, receiver)
    page.goto(auth.url)
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/login\?"))
    watch.requests.clear()
    with page.expect_response(lambda r: r.url == issuer + "/webauthn/passkey/verify") as info:
        page.locator("#passkey-login").click()
    assert info.value.status == 200, info.value.text()
    claims = id_token_claims(page, live_server, receiver, auth)
    assert claims["sub"] == person["subject"]
    assert claims["acr"] == "phr"
    assert claims["amr"] == ["hwk", "user", "mfa"]
    # No password was typed or sent, and no second-factor page was shown.
    assert not [u for m, u in watch.requests if m == "POST" and urllib.parse.urlsplit(u).path == "/login"], watch.requests
    assert not [u for _, u in watch.requests if urllib.parse.urlsplit(u).path == "/login/mfa"], watch.requests
    assert "login.passkey_ok" in audit_events(database, person["id"])

    assert not watch.page_errors, watch.page_errors
    assert not watch.csp_violations, watch.csp_violations


def test_sign_count_regression_is_refused_and_audited(
    page, security_key, live_server, receiver, make_user, database,
):
    issuer = live_server.url
    email, password, person = make_person(make_user, database)
    account_sign_in(page, issuer, email, password)
    register_first(page, issuer, "Counting key", passkey=False)
    sign_out(page, issuer)

    # One good use: the authenticator counts, and the provider keeps the count.
    auth = authorization(live_server, receiver)
    page.goto(auth.url)
    sign_in(page, issuer, email, password)
    wait_for_mfa_page(page, issuer)
    page.locator("#webauthn-authenticate").click()
    assert id_token_claims(page, live_server, receiver, auth)["sub"] == person["subject"]
    credential = security_key.only_credential()
    (row,) = credential_rows(database, person["id"])
    assert credential["signCount"] > 0, "the virtual authenticator should count"
    assert row["sign_count"] == credential["signCount"]

    # A copy of the key whose counter is behind: its next signature counts no higher than
    # the provider has already seen (WebAuthn Level 2 §6.1.1, §7.2 step 21).
    security_key.replace_credential({**credential, "signCount": 0})
    sign_out(page, issuer)
    auth = authorization(live_server, receiver)
    page.goto(auth.url)
    sign_in(page, issuer, email, password)
    wait_for_mfa_page(page, issuer)
    mfa_url = page.url
    with page.expect_response(lambda r: r.url == issuer + "/webauthn/mfa/verify") as info:
        page.locator("#webauthn-authenticate").click()
    response = info.value
    assert security_key.only_credential()["signCount"] <= row["sign_count"]
    assert response.status in (400, 401, 403), (response.status, response.text())
    assert "redirect" not in response.json(), response.json()
    error = page.locator("#webauthn-error")
    expect(error).to_be_visible()
    expect(error).to_have_text(re.compile(r"count|cop(y|ied)|clon", re.I))
    page.wait_for_timeout(200)
    assert page.url == mfa_url
    assert not reached_client(receiver, auth), "a refused key must not finish the sign-in"
    assert "mfa.webauthn_sign_count_regressed" in audit_events(database, person["id"])
    (after,) = credential_rows(database, person["id"])
    assert after["sign_count"] == row["sign_count"], "the stored count must never move backwards"


def test_a_passkey_signs_in_its_owner_and_nobody_else(
    page, platform, live_server, receiver, make_user, database, watch,
):
    issuer = live_server.url
    a_email, a_password, a = make_person(make_user, database)
    b_email, b_password, b = make_person(make_user, database)

    account_sign_in(page, issuer, a_email, a_password)
    register_first(page, issuer, "A's passkey", passkey=True)
    sign_out(page, issuer)
    # B has a key of their own (not discoverable), on the same authenticator.
    account_sign_in(page, issuer, b_email, b_password)
    register_first(page, issuer, "B's key", passkey=False)
    by_resident = {c["isResidentCredential"]: c for c in platform.credentials()}
    assert set(by_resident) == {True, False}, platform.credentials()

    # B is signed in here; the client asks for a new sign-in, and A's passkey is used.
    # (A person takes longer than a second. The provider keeps times in whole seconds and
    # counts a factor verified in the same second as the request as fresh for it, so a
    # prompt=login sent in the very second of B's last factor would not ask again.)
    _wait_for_the_next_second()
    auth = authorization(live_server, receiver, prompt="login")
    page.goto(auth.url)
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/login\?"))
    page.locator("#passkey-login").click()
    claims = id_token_claims(page, live_server, receiver, auth)
    assert claims["sub"] == a["subject"] != b["subject"]
    assert claims["acr"] == "phr" and claims["amr"] == ["hwk", "user", "mfa"]
    # ...and the session is A's now: the account page is A's.
    page.goto(issuer + "/account")
    expect(page.locator("#account-email")).to_contain_text(a_email)
    sign_out(page, issuer)

    # B signs in with the password; at B's second factor the browser is made to offer A's
    # passkey (as a modified page or a malicious extension could): it must not count for B.
    offered: list[list[str]] = []

    def any_credential(route):
        response = route.fetch()
        options = response.json()
        offered.append([c["id"] for c in options.get("allowCredentials", [])])
        options["allowCredentials"] = []
        route.fulfill(response=response, json=options)

    auth = authorization(live_server, receiver)
    page.goto(auth.url)
    sign_in(page, issuer, b_email, b_password)
    wait_for_mfa_page(page, issuer)
    page.route(issuer + "/webauthn/mfa/options", any_credential)
    with page.expect_response(lambda r: r.url == issuer + "/webauthn/mfa/verify") as info:
        page.locator("#webauthn-authenticate").click()
    assert offered == [[_base64url(by_resident[False]["credentialId"])]], offered  # B's key only
    assert info.value.status == 401, (info.value.status, info.value.text())
    expect(page.locator("#webauthn-error")).to_be_visible()
    assert not reached_client(receiver, auth)
    assert "login.second_factor_ok" not in audit_events(database, b["id"])

    # B's own key still finishes B's sign-in, as B.
    page.unroute(issuer + "/webauthn/mfa/options")
    page.locator("#webauthn-authenticate").click()
    claims = id_token_claims(page, live_server, receiver, auth)
    assert claims["sub"] == b["subject"]
    assert claims["acr"] == "phr" and claims["amr"][0] == "pwd" and {"hwk", "mfa"} <= set(claims["amr"])

    assert not watch.page_errors, watch.page_errors


def test_removing_a_key_right_after_sign_in_needs_no_step_up(
    page, security_key, live_server, make_user, database, watch,
):
    issuer = live_server.url
    email, password, person = make_person(make_user, database)
    account_sign_in(page, issuer, email, password)
    register_first(page, issuer, "Old key", passkey=False)
    sign_out(page, issuer)

    # A fresh sign-in to the account page: the password, then the key.
    signed_in_at = time.monotonic()
    account_sign_in(page, issuer, email, password)
    wait_for_mfa_page(page, issuer)
    page.locator("#webauthn-authenticate").click()
    page.wait_for_url(issuer + "/account")
    (row,) = credential_rows(database, person["id"])
    expect(page.locator(f"#webauthn-{row['id']}")).to_contain_text("Old key")

    watch.requests.clear()
    with page.expect_navigation(url=issuer + "/account"):
        page.locator(f"#webauthn-delete-{row['id']}").click()
    assert time.monotonic() - signed_in_at < 300
    # Right away: no step-up page came in between.
    expect(page.locator("#account-message")).to_contain_text("removed")
    assert page.locator(f"#webauthn-{row['id']}").count() == 0
    assert credential_rows(database, person["id"]) == []
    assert "mfa.removed" in audit_events(database, person["id"])
    # No second factor left: the recovery codes went with it.
    expect(page.locator("#recovery-left")).to_contain_text("0 of 10")
    assert not [u for _, u in watch.requests if urllib.parse.urlsplit(u).path.startswith("/login")], watch.requests

    # The next sign-in needs the password only.
    sign_out(page, issuer)
    account_sign_in(page, issuer, email, password)
    page.wait_for_url(issuer + "/account")


def test_a_key_registered_as_not_a_passkey_does_not_replace_the_password(
    page, platform, live_server, receiver, make_user, database,
):
    """The person left "Make it a passkey (sign in without a password)" unchecked: the key is
    a second factor, and the password stays required. Platform authenticators (Windows Hello,
    iCloud Keychain, Google Password Manager) make every credential discoverable and verify
    their user whatever the RP asked, so the browser can offer this one at "Sign in with a
    passkey": the provider must go by what the person chose (is_passkey), not by what the
    authenticator happened to do."""
    issuer = live_server.url
    email, password, person = make_person(make_user, database)
    account_sign_in(page, issuer, email, password)
    register_first(page, issuer, "Laptop, second factor only", passkey=False)
    (row,) = credential_rows(database, person["id"])
    assert not row["is_passkey"]
    # What such an authenticator would have stored: the same key pair, discoverable.
    credential = platform.only_credential()
    assert credential["userHandle"], credential
    platform.replace_credential({**credential, "isResidentCredential": True})
    sign_out(page, issuer)

    auth = authorization(live_server, receiver)
    page.goto(auth.url)
    page.wait_for_url(re.compile("^" + re.escape(issuer) + r"/login\?"))
    login_url = page.url
    with page.expect_response(lambda r: r.url == issuer + "/webauthn/passkey/verify") as info:
        page.locator("#passkey-login").click()
    response = info.value
    page.wait_for_load_state()
    assert response.status in (400, 401, 403), (
        f"a credential registered as a second factor only signed in without a password: "
        f"POST /webauthn/passkey/verify answered {response.status}, the browser went to {page.url}"
    )
    expect(page.locator("#webauthn-error")).to_be_visible()
    assert page.url == login_url
    assert not reached_client(receiver, auth)
    assert "login.passkey_ok" not in audit_events(database, person["id"])

    # The same key still works as what it was registered for.
    sign_in(page, issuer, email, password)
    wait_for_mfa_page(page, issuer)
    page.locator("#webauthn-authenticate").click()
    claims = id_token_claims(page, live_server, receiver, auth)
    assert claims["sub"] == person["subject"] and claims["amr"][0] == "pwd"
