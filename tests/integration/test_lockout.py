"""The Redis-backed lockout against the real Redis: Cognito's sequence, spraying, unknown
emails, device cookies, second factors, client authentication, operations."""

import base64
import json
import re

import pytest
from sqlalchemy import text

from idp import clock
from idp.extensions import db
from tests import redis_db
from tests.conftest import REDIS_URL
from tests.helpers import PASSWORD, Actions, add_totp, csrf_token, make_user, query


def post_login(http, email, password):
    html = http.get("/login").get_data(as_text=True)
    return http.post("/login", data={"csrf_token": csrf_token(html), "email": email, "password": password})


def fail(http, email="alice@example.com", n=1):
    return [post_login(http, email, "wrong password").status_code for _ in range(n)]


class Clock:
    def __init__(self, monkeypatch):
        self.now = clock.now()
        monkeypatch.setattr(clock, "now", lambda: self.now)
        monkeypatch.setattr(clock, "now_ms", lambda: self.now * 1000)

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def frozen(monkeypatch):
    return Clock(monkeypatch)


def test_five_failures_then_doubling_locks_up_to_the_cap(client, user, frozen):
    assert fail(client, n=5) == [401] * 5
    for expected in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512):
        locked = post_login(client, "alice@example.com", "wrong password")
        assert locked.status_code == 429
        assert locked.headers["Retry-After"] == str(expected)
        assert f"Try again in {expected} second" in locked.get_data(as_text=True)
        frozen.advance(expected)
        assert fail(client) == [401]
    capped = post_login(client, "alice@example.com", PASSWORD)
    assert capped.status_code == 429 and capped.headers["Retry-After"] == "900"
    frozen.advance(899)
    assert post_login(client, "alice@example.com", PASSWORD).headers["Retry-After"] == "1"


def test_correct_password_during_a_lockout_is_refused_the_same_way(client, user, frozen):
    fail(client, n=5)
    response = post_login(client, "alice@example.com", PASSWORD)
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    frozen.advance(1)
    assert post_login(client, "alice@example.com", PASSWORD).status_code == 303


@pytest.mark.parametrize("settings", [{"IDP_LOCKOUT_RESET_SECONDS": 3}])
def test_forgotten_after_the_quiet_period(client, user, frozen, settings):
    fail(client, n=5)
    frozen.advance(3)
    assert fail(client, n=5) == [401] * 5  # a fresh budget
    assert post_login(client, "alice@example.com", PASSWORD).status_code == 429


def test_unknown_email_is_indistinguishable(app, client, user, frozen):
    def run(email):
        http = app.test_client()
        answers = [post_login(http, email, "wrong password") for _ in range(6)]
        return [(a.status_code, a.headers.get("Retry-After"), sorted(k for k, _ in a.headers if k != "Set-Cookie"),
                 re.sub(r'(value|data-csrf)="[A-Za-z0-9._-]{40,}"', "", a.get_data(as_text=True).replace(email, "EMAIL")))
                for a in answers]

    assert run("alice@example.com") == run("nobody@example.com")


@pytest.mark.parametrize("settings", [{"IDP_LOCKOUT_IP_THRESHOLD": 10}])
def test_spraying_from_one_address_is_stopped(app, client, frozen, settings):
    for i in range(10):
        make_user(app, f"u{i}@example.com")
    assert [post_login(client, f"u{i}@example.com", "Winter2026!").status_code for i in range(10)] == [401] * 10
    # Every account is below its own threshold, but the address is spent.
    response = post_login(client, "u0@example.com", PASSWORD)
    assert response.status_code == 429
    other_address = app.test_client()
    other_address.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert post_login(other_address, "u0@example.com", PASSWORD).status_code == 303


@pytest.mark.parametrize("settings", [{"IDP_LOCKOUT_IP_THRESHOLD": 10}])
def test_a_right_guess_does_not_clean_a_spraying_address(app, client, frozen, settings):
    make_user(app, "v@example.com")
    for i in range(9):
        make_user(app, f"u{i}@example.com")
        post_login(client, f"u{i}@example.com", "Winter2026!")
    assert post_login(client, "v@example.com", PASSWORD).status_code == 303
    assert post_login(client, "u0@example.com", "Winter2026!").status_code == 401  # the 10th failure
    assert post_login(client, "u1@example.com", "Winter2026!").status_code == 429


def test_success_resets_the_account_counter(client, user, frozen):
    fail(client, n=4)
    assert post_login(client, "alice@example.com", PASSWORD).status_code == 303
    assert fail(client, n=5) == [401] * 5


def test_the_owners_browser_is_not_locked_out(app, client, user, frozen):
    owner = app.test_client()
    assert post_login(owner, "alice@example.com", PASSWORD).status_code == 303
    assert owner.get_cookie("idp_device") is not None
    attacker = app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert fail(attacker, n=5) == [401] * 5
    assert fail(attacker, n=3) == [429] * 3
    # The attacker holds the account's counter; the owner's browser has its own.
    assert post_login(owner, "alice@example.com", PASSWORD).status_code == 303
    assert post_login(attacker, "alice@example.com", PASSWORD).status_code == 429


def test_a_forged_device_cookie_is_worthless(app, client, user, frozen):
    attacker = app.test_client()
    attacker.set_cookie("idp_device", "eyJkIjoieCIsImEiOlsiYWJjIl19.forged")
    assert fail(attacker, n=5) == [401] * 5
    assert post_login(attacker, "alice@example.com", PASSWORD).status_code == 429


def test_totp_failures_count_toward_the_lockout(app, client, user, spa, frozen):
    add_totp(app, user.id)
    actions = Actions(client)
    statuses = []
    for _ in range(2):
        mfa = actions.login(actions.authorize(spa).location).location
        statuses += [actions.second_factor(mfa, code="000000").status_code for _ in range(3)]
    # The fifth wrong code locked the account: the sixth is not even looked at.
    assert statuses == [401, 401, 401, 401, 401, 429]
    assert actions.login(actions.authorize(spa).location).status_code == 429


def test_knowing_the_password_does_not_reset_the_code_budget(app, client, user, spa, frozen):
    add_totp(app, user.id)
    actions = Actions(client)
    statuses = []
    for _ in range(4):
        response = actions.login(actions.authorize(spa).location)
        statuses.append(response.status_code)
        if response.status_code == 303:
            statuses += [actions.second_factor(response.location, code="000000").status_code for _ in range(2)]
    # Each right password goes back in line behind the wrong codes; it does not wipe them.
    assert statuses == [303, 401, 401, 303, 401, 401, 303, 401, 429, 429]


def test_client_authentication_is_limited_per_client(client, webapp, frozen):
    def attempt(secret):
        basic = base64.b64encode(f"{webapp.client_id}:{secret}".encode()).decode()
        return client.post("/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"})

    assert [attempt("wrong").status_code for _ in range(5)] == [401] * 5
    locked = attempt("another guess")
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "1"
    assert locked.get_json()["error"] == "invalid_client"
    # client_ids are public: a lock anyone can set must not stop the real client.
    assert attempt(webapp.secret).status_code == 200
    frozen.advance(1)
    assert attempt("wrong").status_code == 401


def test_unlock_and_status_from_the_command_line(app, client, user, frozen):
    fail(client, n=6)
    runner = app.test_cli_runner()
    status = json.loads(runner.invoke(args=["users", "lockout", "alice@example.com", "--json"]).output)
    assert status["failures"] == 5 and status["locked_for"] == 1
    assert runner.invoke(args=["users", "unlock", "Alice@example.com"]).exit_code == 0
    assert post_login(client, "alice@example.com", PASSWORD).status_code == 303
    with app.app_context():
        events = [r[0] for r in db.session.execute(text("SELECT event FROM audit_events ORDER BY id"))]
    assert events.count("lockout") == 1 and events.count("unlock") == 1


def test_every_lockout_key_expires(client, user):
    fail(client, n=6)
    r = redis_db.connect(REDIS_URL)
    keys = list(r.scan_iter("idp:*"))
    assert keys
    assert all(r.ttl(k) > 0 for k in keys), [k for k in keys if r.ttl(k) <= 0]


@pytest.mark.parametrize("settings", [{"REDIS_URL": "redis://127.0.0.1:1/0"}])  # nothing listens there
def test_redis_unreachable_fails_closed(app, user, spa, monkeypatch, settings):
    from idp.security.passwords import Passwords

    def never(*args, **kwargs):
        raise AssertionError("a password was evaluated without the lockout")

    monkeypatch.setattr(Passwords, "verify", never)
    http = app.test_client()
    http.set_cookie("idp_session", "a-session-that-needs-redis")
    response = http.post("/login", data={"email": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "unavailable" in response.get_data(as_text=True)
    assert Actions(http).authorize(spa).status_code == 503
    # A fresh browser (no session at all) is told the same, not that its form expired.
    fresh = app.test_client().post("/login", data={"email": "alice@example.com", "password": PASSWORD})
    assert fresh.status_code == 503 and "unavailable" in fresh.get_data(as_text=True)


@pytest.mark.parametrize("trick", [{"acr_values": "phr"}, {"claims": '{"id_token": {"acr": {"essential": true, "values": ["phr"]}}}'}])
def test_an_unmeetable_request_does_not_turn_the_password_into_a_sign_in(app, client, user, spa, frozen, trick):
    """A person with TOTP asked for phr still gives the code first; the password alone
    neither signs in nor wipes the failed codes (review finding: TOTP brute force)."""
    add_totp(app, user.id)
    statuses = []
    for _ in range(3):
        actions = Actions(app.test_client())
        response = actions.login(actions.authorize(spa, **trick).location)
        statuses.append(response.status_code)
        if response.status_code == 303:
            assert response.location.startswith("/login/mfa")
            statuses += [actions.second_factor(response.location, code="000000").status_code for _ in range(2)]
    assert statuses == [303, 401, 401, 303, 401, 401, 303, 401, 429]


def test_id_token_hint_for_someone_else_ends_in_login_required(app, client, user, spa):
    make_user(app, "bob@example.com")
    bob_token = Actions(app.test_client()).tokens(spa, email="bob@example.com")["id_token"]
    actions = Actions(client)
    response = actions.login(actions.authorize(spa, id_token_hint=bob_token).location)
    final = client.get(response.location)
    assert query(final.location)["error"] == "login_required"


# --- reservations in flight are not failures (issue 8) ------------------------------------

def _hold(app, n, account="alice@example.com", ip="192.0.2.50"):
    """n attempts reserved and still being evaluated, from elsewhere."""
    from idp.lockout.regulator import Attempt, account_key

    regulator = app.extensions["idp.regulator"]
    with app.app_context():
        return [regulator.reserve(Attempt(account=account_key(account), ip=ip)) for _ in range(n)]


def _failures(app):
    with app.app_context():
        return db.session.execute(text("SELECT count(*) FROM audit_events WHERE event = 'login.failed'")).scalar()


def test_a_correct_password_waits_for_attempts_in_flight_and_is_not_refused(app, client, user, frozen):
    held = _hold(app, 5)
    app.extensions["idp.regulator"].max_wait = 0  # answer at once instead of waiting for them
    busy = post_login(client, "alice@example.com", PASSWORD)
    # Not a lockout (no 429, no step of the doubling schedule) and not counted as a failure.
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "1"
    assert _failures(app) == 0
    regulator = app.extensions["idp.regulator"]
    with app.app_context():
        regulator.succeeded(held[0], complete=False)
    assert post_login(client, "alice@example.com", PASSWORD).status_code == 303


def test_attempts_in_flight_that_fail_lock_the_account(app, client, user, frozen):
    held = _hold(app, 5)
    with app.app_context():
        for reservation in held:
            reservation.failed()
    response = post_login(client, "alice@example.com", PASSWORD)
    assert response.status_code == 429 and response.headers["Retry-After"] == "1"


def test_a_reservation_that_never_settles_counts_as_a_failure(app, client, user, frozen):
    """Its process died, or its settlement was lost in a Redis failover: once its deadline
    passed it is a failure, so nothing escapes the threshold."""
    from idp.store import counters

    _hold(app, 5)
    frozen.advance(counters.PENDING_MS / 1000)
    response = post_login(client, "alice@example.com", PASSWORD)
    assert response.status_code == 429


def test_failures_plus_reservations_never_exceed_the_threshold(app, user, frozen):
    from idp.lockout.regulator import Attempt, Busy, Locked, account_key

    regulator = app.extensions["idp.regulator"]
    regulator.max_wait = 0
    attempt = Attempt(account=account_key("alice@example.com"), ip="192.0.2.60")
    with app.app_context():
        held = [regulator.reserve(attempt) for _ in range(3)]
        held[0].failed()
        held[1].failed()
        held += [regulator.reserve(attempt) for _ in range(2)]  # 2 failed + 3 in flight = 5
        with pytest.raises(Busy):
            regulator.reserve(attempt)
        for reservation in held[2:]:
            reservation.failed()
        with pytest.raises(Locked):
            regulator.reserve(attempt)
