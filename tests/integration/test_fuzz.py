"""Issue 9, item 15: property-based fuzzing (Hypothesis) of every endpoint's inputs; whatever
arrives, the answer is never a 500. Run on SQLite and PostgreSQL like the rest."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.helpers import Actions

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Form and query values: any text a browser could send (surrogates cannot be UTF-8 encoded).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
# Header values travel as latin-1.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
json_body = st.one_of(
    st.binary(max_size=300),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["flow", "next", "credential", "name", "passkey"]), json_value, max_size=4)
    .map(lambda v: json.dumps(v).encode()),
)
authorization = st.one_of(
    st.none(),
    st.binary(max_size=60).map(lambda b: "Basic " + base64.b64encode(b).decode()),
    header_text.map(lambda t: "Bearer " + t),
    header_text,
)


def _form(names: list[str]):  # noqa: ANN202
    return st.dictionaries(st.sampled_from(names), text, max_size=len(names))


def _ok(response) -> None:  # noqa: ANN001
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])


@pytest.fixture
def no_csrf(app):
    app.config["WTF_CSRF_ENABLED"] = False  # reach the views themselves
    return app


AUTHORIZE = ["response_type", "client_id", "redirect_uri", "scope", "state", "response_mode", "nonce", "prompt",
             "max_age", "ui_locales", "id_token_hint", "login_hint", "acr_values", "claims", "code_challenge",
             "code_challenge_method", "request", "request_uri", "display", "junk"]


@FUZZ
@given(params=_form(AUTHORIZE), method=st.sampled_from(["get", "post"]), real_client=st.booleans())
def test_authorize(no_csrf, spa, params, method, real_client):
    client = no_csrf.test_client()
    if real_client:
        params = {"client_id": spa.client_id, "redirect_uri": spa.redirect_uri, **params}
    if method == "get":
        _ok(client.get("/authorize", query_string=params))
    else:
        _ok(client.post("/authorize", data=params))


TOKEN = ["grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "client_id", "client_secret",
         "scope", "token", "token_type_hint"]


@FUZZ
@given(form=_form(TOKEN), auth=authorization, path=st.sampled_from(["/token", "/revoke", "/introspect"]))
def test_token_revoke_introspect(no_csrf, webapp, form, auth, path):
    headers = {"Authorization": auth} if auth is not None else {}
    _ok(no_csrf.test_client().post(path, data=form, headers=headers))


@FUZZ
@given(auth=authorization, form=_form(["access_token"]), method=st.sampled_from(["get", "post"]))
def test_userinfo(no_csrf, auth, form, method):
    headers = {"Authorization": auth} if auth is not None else {}
    client = no_csrf.test_client()
    _ok(client.get("/userinfo", headers=headers) if method == "get" else client.post("/userinfo", data=form, headers=headers))


@FUZZ
@given(params=_form(["id_token_hint", "post_logout_redirect_uri", "state", "client_id", "logout_hint", "ui_locales"]))
def test_logout(no_csrf, params):
    client = no_csrf.test_client()
    _ok(client.get("/logout", query_string=params))
    _ok(client.post("/logout/confirm", data=params))


HOSTED = {
    "/login": ["email", "password", "flow", "next"],
    "/login/mfa": ["code", "recovery_code", "flow", "next"],
    "/login/continue": ["next"],
    "/authorize/resume": ["flow"],
    "/password/forgot": ["email"],
    "/password/reset": ["email"],
}


@FUZZ
@given(path=st.sampled_from(sorted(HOSTED)), data=st.data())
def test_hosted_pages(no_csrf, user, path, data):
    values = data.draw(_form(HOSTED[path]))
    client = no_csrf.test_client()
    _ok(client.get(path, query_string=values))
    _ok(client.post(path, data=values))


@FUZZ
@given(token=text.filter(lambda t: "/" not in t and t not in (".", "..")), form=_form(["password", "password_confirm", "name"]))
def test_links(no_csrf, token, form):
    client = no_csrf.test_client()
    for path in (f"/invite/{token}", f"/password/reset/{token}"):
        _ok(client.get(path))
        _ok(client.post(path, data=form))


WEBAUTHN = ["/webauthn/register/options", "/webauthn/register/verify", "/webauthn/mfa/options", "/webauthn/mfa/verify",
            "/webauthn/passkey/options", "/webauthn/passkey/verify"]


@FUZZ
@given(path=st.sampled_from(WEBAUTHN), body=json_body, signed_in=st.booleans())
def test_webauthn(no_csrf, user, spa, path, body, signed_in):
    client = no_csrf.test_client()
    if signed_in:
        Actions(client).tokens(spa)
    _ok(client.post(path, data=body, content_type="application/json"))


ACCOUNT = {
    "/account/password": ["current_password", "password", "password_confirm"],
    "/account/mfa/totp/new": ["code", "label", "flow", "next"],
    "/account/recovery-codes": [],
    "/account/sign-out": [],
}


@FUZZ
@given(path=st.sampled_from(sorted(ACCOUNT)), data=st.data())
def test_account_pages(no_csrf, user, spa, path, data):
    client = no_csrf.test_client()
    Actions(client).tokens(spa)
    values = data.draw(_form(ACCOUNT[path] or ["x"]))
    _ok(client.get(path, query_string=values))
    _ok(client.post(path, data=values))
