"""Sign-in through an upstream OpenID provider, against a real one: node-oidc-provider on a
loopback port (tests/upstream), playing Google. Flask's test client is the browser here;
at the upstream, tests.upstream.Agent is.

What must hold: an identity that is not linked is refused and nothing is stored; a linked
one signs in as a first factor (`fed`) and the second factor is still asked; the refusals
of the protocol (wrong iss, replayed state, wrong nonce, unverified email, another
browser's or another upstream's state); invitations accepted with the upstream; links
made from the account page with a recent second factor; unlinking leaves a way in.
"""

from __future__ import annotations

import json
import re
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyotp
import pytest
from sqlalchemy import func, select

from idp import clock
from idp.extensions import db
from idp.models import AuditEvent, Invitation, UpstreamLink, User
from tests import upstream as up
from tests.helpers import Pkce, add_totp, claims, csrf_token, make_user, query, update_user

CALLBACK = "http://localhost/login/upstream/{}/callback"
LINKED = up.Account("linked@example.com", name="Linked Person")
STRANGER = up.Account("stranger@example.com")
UNVERIFIED = up.Account("unverified@example.com", email_verified=False)
INVITEE = up.Account("invitee@example.com", name="Invited Person")
MFA = up.Account("mfa@example.com", amr=["pwd", "otp", "mfa"])
WORKSPACE = up.Account("staff@corp.example", name="Staff")


@pytest.fixture(scope="module")
def google():
    server = up.start(redirect_uris=[CALLBACK.format("google")],
                      accounts=[LINKED, STRANGER, UNVERIFIED, INVITEE, MFA, WORKSPACE])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def other():
    """A second provider, which keeps email out of the ID token (UserInfo only)."""
    server = up.start(redirect_uris=[CALLBACK.format("other")], accounts=[LINKED], claims_in_id_token=False)
    yield server
    server.stop()


def add_upstream(app, server: up.Upstream, name: str = "google", *args: str) -> None:
    result = app.test_cli_runner().invoke(
        args=["upstreams", "add", name, "--issuer", server.issuer, "--client-id", server.client_id,
              "--client-secret-stdin", "--display-name", name.capitalize(), *args, "--json"],
        input=server.client_secret + "\n",
    )
    assert result.exit_code == 0, result.output


@pytest.fixture
def configured(app, google):
    add_upstream(app, google)
    return google


def link(app, user_id: int, server: up.Upstream, account: up.Account, name: str = "google") -> None:
    from idp.models import Upstream

    with app.app_context():
        row = db.session.scalar(select(Upstream).where(Upstream.name == name))
        db.session.add(UpstreamLink(user_id=user_id, upstream_id=row.id, issuer=server.issuer, subject=account.sub,
                                    email=account.email, created_at=clock.now()))
        db.session.commit()


def start(http, name: str = "google", where: dict | None = None) -> str:
    """Press "Continue with …" on the sign-in page; the upstream's authorization URL."""
    where = where or {"next": "/account"}
    page = http.get("/login?" + urlencode(where)).get_data(as_text=True)
    assert f'id="upstream-{name}"' in page
    response = http.post(f"/login/upstream/{name}", data={"csrf_token": csrf_token(page), **where})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.location


def come_back(http, callback: str):
    parts = urlsplit(callback)
    return http.get(parts.path + "?" + parts.query)


def through(http, server: up.Upstream, account: up.Account, name: str = "google", where: dict | None = None):
    """The whole round trip: start here, sign in there, come back."""
    return come_back(http, up.Agent(server).sign_in(start(http, name, where), account.email))


def reason(response) -> str:
    match = re.search(r'data-reason="([^"]+)"', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:500]
    return match.group(1)


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(User)),
                db.session.scalar(select(func.count()).select_from(UpstreamLink)))


def failures(app) -> list[dict]:
    with app.app_context():
        return [e.detail for e in db.session.scalars(select(AuditEvent).where(AuditEvent.event == "login.failed"))]


def tamper(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return urlunsplit(parts._replace(query=urlencode(params)))


# --- sign-in ----------------------------------------------------------------------------------

def test_the_sign_in_page_has_one_button_per_upstream(client, configured):
    page = client.get("/login").get_data(as_text=True)
    assert 'id="upstream-google"' in page and "Continue with Google" in page


def test_an_unlinked_identity_is_refused_and_nothing_is_stored(app, client, configured):
    before = counts(app)
    response = through(client, configured, STRANGER)
    assert response.status_code == 403 and reason(response) == "unlinked"
    assert "invitation" in response.get_data(as_text=True)
    assert counts(app) == before
    (detail,) = failures(app)
    assert detail["reason"] == "unlinked" and detail["factor"] == "fed"
    assert STRANGER.email not in json.dumps(detail) and STRANGER.sub not in json.dumps(detail)
    assert client.get("/account").status_code == 302  # not signed in


def test_a_linked_identity_signs_in_and_the_second_factor_is_still_asked(app, client, actions, configured, spa):
    person = make_user(app, LINKED.email)
    secret = add_totp(app, person.id)
    link(app, person.id, configured, LINKED)
    pkce = Pkce()
    login = actions.authorize(spa, pkce).location
    response = through(client, configured, LINKED, where=query(login))
    assert response.status_code == 302 and response.location.startswith("/login/mfa"), response.location
    response = actions.second_factor(response.location, code=pyotp.TOTP(secret).at(clock.now()))
    assert response.status_code == 303
    code = query(client.get(response.location).location)["code"]
    tokens = actions.exchange(spa, code, pkce).get_json()
    id_token = claims(client, tokens["id_token"])
    assert id_token["amr"] == ["fed", "otp", "mfa"] and id_token["acr"] == "mfa"
    assert claims(client, tokens["access_token"])["amr"] == ["fed", "otp", "mfa"]


def test_without_a_second_factor_the_upstream_alone_signs_in_at_pwd(app, client, actions, configured, spa):
    person = make_user(app, LINKED.email)
    link(app, person.id, configured, LINKED)
    pkce = Pkce()
    login = actions.authorize(spa, pkce).location
    response = through(client, configured, LINKED, where=query(login))
    assert response.status_code == 303 and response.location.startswith("/authorize/resume")
    code = query(client.get(response.location).location)["code"]
    id_token = claims(client, actions.exchange(spa, code, pkce).get_json()["id_token"])
    assert id_token["amr"] == ["fed"] and id_token["acr"] == "pwd" and id_token["sub"] == person.subject


def test_a_disabled_account_cannot_sign_in_through_an_upstream(app, client, configured):
    person = make_user(app, LINKED.email)
    link(app, person.id, configured, LINKED)
    update_user(app, person.id, disabled=True)
    response = through(client, configured, LINKED)
    assert response.status_code == 403 and reason(response) == "disabled"


def test_an_unverified_email_is_refused(app, client, configured):
    person = make_user(app, UNVERIFIED.email)
    link(app, person.id, configured, UNVERIFIED)
    response = through(client, configured, UNVERIFIED)
    assert response.status_code == 403 and reason(response) == "email_unverified"


# --- the protocol's refusals ---------------------------------------------------------------

@pytest.fixture
def linked(app, configured):
    person = make_user(app, LINKED.email)
    link(app, person.id, configured, LINKED)
    return person


def test_a_wrong_iss_is_refused_before_the_code_is_used(app, client, configured, linked, other):
    callback = up.Agent(configured).sign_in(start(client), LINKED.email)
    # The mix-up attack (RFC 9700 §4.4): the response claims to come from another provider.
    response = come_back(client, tamper(callback, iss=other.issuer))
    assert response.status_code == 400 and reason(response) == "iss_mismatch"
    assert failures(app)[-1]["reason"] == "iss_mismatch"


def test_a_missing_iss_is_refused_when_the_upstream_always_sends_it(client, configured, linked):
    callback = up.Agent(configured).sign_in(start(client), LINKED.email)
    response = come_back(client, tamper(callback, iss=None))
    assert response.status_code == 400 and reason(response) == "iss_missing"


def test_a_replayed_state_is_refused(client, configured, linked):
    callback = up.Agent(configured).sign_in(start(client), LINKED.email)
    assert come_back(client, callback).status_code == 303
    again = come_back(client, callback)
    assert again.status_code == 400 and reason(again) == "state"


def test_a_wrong_nonce_is_refused(client, configured, linked):
    """An attacker who saw the authorization request (state and PKCE challenge) gets a code
    of their own, with their own nonce, and injects it: tokens come back, the nonce is
    not this sign-in's."""
    url = start(client)
    injected = up.Agent(configured).sign_in(tamper(url, nonce="attacker-" + secrets.token_hex(8)), LINKED.email)
    response = come_back(client, injected)
    assert response.status_code == 400 and reason(response) == "nonce_mismatch"
    assert client.get("/account").status_code == 302


def test_another_browsers_state_is_refused(app, configured, linked):
    victim, attacker = app.test_client(), app.test_client()
    callback = up.Agent(configured).sign_in(start(attacker), LINKED.email)
    victim.get("/login")
    response = come_back(victim, callback)  # login CSRF: the attacker's callback in the victim's browser
    assert response.status_code == 400 and reason(response) == "state"


def test_a_state_comes_back_only_to_its_own_upstream(app, client, configured, linked, other):
    add_upstream(app, other, "other")
    callback = up.Agent(configured).sign_in(start(client), LINKED.email)
    response = come_back(client, callback.replace("/upstream/google/", "/upstream/other/"))
    assert response.status_code == 400 and reason(response) == "state"


def test_an_error_from_the_upstream_is_a_clear_refusal(client, configured):
    url = start(client)
    state = query(url)["state"]
    response = client.get(f"/login/upstream/google/callback?error=access_denied&state={state}&iss={configured.issuer}")
    assert response.status_code == 401 and reason(response) == "denied"


def test_malformed_callbacks_answer_400(client, configured):
    assert client.get("/login/upstream/google/callback").status_code == 400
    assert client.get("/login/upstream/google/callback?state=a&state=b").status_code == 400
    assert client.get("/login/upstream/nobody/callback?state=x").status_code == 404


def test_claims_from_userinfo_when_the_id_token_has_none(app, client, other):
    add_upstream(app, other, "other")
    person = make_user(app, LINKED.email)
    link(app, person.id, other, LINKED, "other")
    response = through(client, other, LINKED, "other")
    assert response.status_code == 303, response.get_data(as_text=True)
    assert client.get("/account").status_code == 200


# --- trusting the upstream's own MFA, and domains -----------------------------------------

def test_upstream_mfa_counts_only_when_trusted(app, google):
    add_upstream(app, google, "google", "--trust-mfa")
    person = make_user(app, MFA.email)
    add_totp(app, person.id)
    link(app, person.id, google, MFA)
    http = app.test_client()
    response = through(http, google, MFA)
    assert response.status_code == 303 and not response.location.startswith("/login/mfa"), response.location
    with app.app_context():
        (ok,) = db.session.scalars(select(AuditEvent).where(AuditEvent.event == "login.upstream_ok")).all()
        assert ok.detail["upstream_mfa"] is True


def test_upstream_mfa_is_not_counted_by_default(app, client, configured):
    person = make_user(app, MFA.email)
    add_totp(app, person.id)
    link(app, person.id, configured, MFA)
    response = through(client, configured, MFA)
    assert response.location.startswith("/login/mfa")


def test_a_domain_list_refuses_other_domains(app, google):
    add_upstream(app, google, "google", "--domain", "corp.example")
    for account in (LINKED, WORKSPACE):
        link(app, make_user(app, account.email).id, google, account)
    http = app.test_client()
    assert reason(through(http, google, LINKED)) == "domain"
    assert through(http, google, WORKSPACE).status_code == 303


# --- invitations ---------------------------------------------------------------------------

def invitation(app, email: str, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["users", "invite", email, *args, "--json"])
    assert result.exit_code == 0, result.output
    return urlsplit(json.loads(result.output)["invite_url"]).path


def accept_with(http, path: str, server: up.Upstream, account: up.Account):
    page = http.get(path).get_data(as_text=True)
    assert 'id="upstream-google"' in page
    response = http.post(path + "/upstream/google", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303, response.get_data(as_text=True)
    return come_back(http, up.Agent(server).sign_in(response.location, account.email))


def test_an_invitation_accepted_with_the_upstream(app, client, configured):
    path = invitation(app, INVITEE.email, "--require-mfa")
    response = accept_with(client, path, configured, INVITEE)
    assert response.status_code == 303 and response.location.startswith("/account/setup"), response.location
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == INVITEE.email))
        assert user.password_hash is None and user.mfa_required and user.name == "Invited Person"
        (row,) = db.session.scalars(select(UpstreamLink)).all()
        assert (row.user_id, row.issuer, row.subject) == (user.id, configured.issuer, INVITEE.sub)
        assert db.session.scalar(select(Invitation.used_at)) is not None
    # Signed in, at a first factor only: the enrolment page is theirs.
    assert client.get(response.location).status_code == 200
    # The same invitation, again: used.
    assert client.get(path).status_code == 410


def test_an_invitation_needs_the_invited_email(app, client, configured):
    path = invitation(app, "someone-else@example.com")
    before = counts(app)
    response = accept_with(client, path, configured, INVITEE)
    assert response.status_code == 403 and reason(response) == "email_mismatch"
    assert counts(app) == before
    with app.app_context():
        assert db.session.scalar(select(Invitation.used_at)) is None  # still usable


def test_an_invitation_with_an_unverified_email_is_refused(app, client, configured):
    path = invitation(app, UNVERIFIED.email)
    response = accept_with(client, path, configured, UNVERIFIED)
    assert reason(response) == "email_unverified" and counts(app) == (0, 0)


# --- linking and unlinking from the account page ----------------------------------------------

def test_linking_needs_a_recent_second_factor_and_then_signs_in(app, client, actions, configured):
    person = make_user(app, LINKED.email)
    page = client.get("/account")
    assert page.status_code == 302
    actions.login("/login?next=/account", LINKED.email)
    page = client.get("/account").get_data(as_text=True)
    response = client.post("/account/upstreams/google/link", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303  # a second factor first
    assert "Add a second factor" in client.get(response.location).get_data(as_text=True)
    secret = add_totp(app, person.id)
    response = client.post("/account/upstreams/google/link", data={"csrf_token": csrf_token(page)})
    assert response.location.startswith("/login/mfa")  # step-up before linking
    response = actions.second_factor(response.location, code=pyotp.TOTP(secret).at(clock.now()))
    client.get(response.location)
    response = client.post("/account/upstreams/google/link", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303 and response.location.startswith(configured.issuer)
    response = come_back(client, up.Agent(configured).sign_in(response.location, LINKED.email))
    assert response.status_code == 303 and response.location == "/account", response.location
    assert 'id="account-message"' in client.get(response.location).get_data(as_text=True)
    assert counts(app) == (1, 1)
    assert 'id="upstream-unlink-google"' in client.get("/account").get_data(as_text=True)


def test_an_identity_links_to_one_account_only(app, client, actions, configured):
    first = make_user(app, "first@example.com")
    link(app, first.id, configured, LINKED)
    person = make_user(app, "second@example.com")
    secret = add_totp(app, person.id)
    pkce_free = actions.login("/login?next=/account", "second@example.com")
    actions.second_factor(pkce_free.location, code=pyotp.TOTP(secret).at(clock.now()))
    page = client.get("/account").get_data(as_text=True)
    response = client.post("/account/upstreams/google/link", data={"csrf_token": csrf_token(page)})
    response = come_back(client, up.Agent(configured).sign_in(response.location, LINKED.email))
    assert 'id="upstream-link-error"' in client.get(response.location).get_data(as_text=True)
    assert counts(app) == (2, 1)


def test_unlinking_leaves_a_way_to_sign_in(app, client, actions, configured):
    path = invitation(app, INVITEE.email)
    accept_with(client, path, configured, INVITEE)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == INVITEE.email))
        link_id = db.session.scalar(select(UpstreamLink.id))
    secret = add_totp(app, user.id)
    # The session's upstream sign-in is no second factor: step-up first.
    page = client.get("/account").get_data(as_text=True)
    response = client.post(f"/account/upstreams/{link_id}/unlink", data={"csrf_token": csrf_token(page)})
    assert response.location.startswith("/login/mfa")
    client.get(actions.second_factor(response.location, code=pyotp.TOTP(secret).at(clock.now())).location)
    response = client.post(f"/account/upstreams/{link_id}/unlink", data={"csrf_token": csrf_token(page)})
    assert 'id="upstream-link-error"' in client.get(response.location).get_data(as_text=True)
    assert counts(app) == (1, 1)  # the only way in stays
    update_user(app, user.id, password_hash=app.extensions["idp.passwords"].hash("a long enough passphrase"))
    response = client.post(f"/account/upstreams/{link_id}/unlink", data={"csrf_token": csrf_token(page)})
    assert 'id="account-message"' in client.get(response.location).get_data(as_text=True)
    assert counts(app) == (1, 0)


# --- configuration -------------------------------------------------------------------------

def test_cli_add_list_remove(app, google):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["upstreams", "add", "google", "--issuer", google.issuer, "--client-id", google.client_id,
                                 "--client-secret-stdin", "--domain", "Example.COM", "--json"], input=google.client_secret + "\n")
    added = json.loads(result.output)
    assert added["redirect_uri"] == CALLBACK.format("google") and added["domains"] == ["example.com"]
    assert added["trust_mfa"] is False and "secret" not in json.dumps(added)
    with app.app_context():
        from idp.models import Upstream

        sealed = db.session.scalar(select(Upstream.client_secret_encrypted))
        assert google.client_secret not in sealed
    listed = json.loads(runner.invoke(args=["upstreams", "list", "--json"]).output)
    assert [u["name"] for u in listed["upstreams"]] == ["google"]
    result = runner.invoke(args=["upstreams", "remove", "google", "--json"])
    assert json.loads(result.output) == {"name": "google", "links_removed": 0}
    assert json.loads(runner.invoke(args=["upstreams", "list", "--json"]).output) == {"upstreams": []}


@pytest.mark.parametrize("issuer_suffix, why", [("/", "names issuer"), ("/nowhere", "not usable")])
def test_cli_refuses_an_issuer_its_discovery_does_not_confirm(app, google, issuer_suffix, why):
    result = app.test_cli_runner().invoke(
        args=["upstreams", "add", "google", "--issuer", google.issuer + issuer_suffix, "--client-id", "x",
              "--client-secret-stdin"], input="s\n")
    assert result.exit_code == 2 and "discovery" in result.output
    assert json.loads(app.test_cli_runner().invoke(args=["upstreams", "list", "--json"]).output) == {"upstreams": []}


def test_cli_refuses_plain_http_to_other_hosts_and_bad_names(app):
    runner = app.test_cli_runner()
    for name, issuer in (("google", "http://accounts.example.com"), ("Bad Name", "https://accounts.google.com")):
        result = runner.invoke(args=["upstreams", "add", name, "--issuer", issuer, "--client-id", "x",
                                     "--client-secret-stdin"], input="s\n")
        assert result.exit_code == 2, result.output


def test_the_console_adds_lists_and_removes_upstreams(app, client, google):
    from tests.integration.test_admin import post, sign_in

    person = make_user(app, "root@example.com", is_admin=True)
    sign_in(client, "root@example.com", add_totp(app, person.id), next_path="/admin/upstreams")
    response = post(client, "/admin/upstreams", name="google", issuer=google.issuer, client_id=google.client_id,
                    client_secret=google.client_secret, display_name="Google", domains="corp.example\n")
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert 'id="admin-message"' in page
    assert 'id="upstream-row-google"' in page and "corp.example" in page and google.client_secret not in page
    bad = post(client, "/admin/upstreams", name="other", issuer=google.issuer + "/", client_id="x", client_secret="y")
    assert 'id="admin-error"' in client.get(bad.location).get_data(as_text=True)
    removed = post(client, "/admin/upstreams/google/remove", confirm="yes")
    assert 'id="admin-message"' in client.get(removed.location).get_data(as_text=True)
    with app.app_context():
        events = [e.event for e in db.session.scalars(select(AuditEvent))]
    assert "upstream.added" in events and "upstream.removed" in events
