"""/metrics: never public, and each counter of the operations guide moves when its event
happens (in one process here; tests/e2e/test_metrics_live.py adds them up across workers)."""

from __future__ import annotations

import re

import pyotp
import pytest

from idp import clock
from tests.helpers import PASSWORD, Actions, add_totp, csrf_token, make_user

TOKEN = "metrics-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def settings():
    return {"IDP_METRICS_TOKEN": TOKEN}


def scrape(client) -> dict[str, float]:  # noqa: ANN001
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/plain"
    samples = {}
    for line in response.get_data(as_text=True).splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


class Delta:
    """What changed in the exposition between two scrapes (counters are process-wide)."""

    def __init__(self, client):  # noqa: ANN001
        self.client = client
        self.before = scrape(client)

    def __call__(self, name: str) -> float:
        return scrape(self.client).get(name, 0.0) - self.before.get(name, 0.0)


@pytest.mark.parametrize("settings", [{}])
def test_not_served_without_configuration(client, settings):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=BEARER).status_code == 404


def test_the_bearer_token_is_required(client):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer " + "x" * len(TOKEN)})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert client.get("/metrics", headers=BEARER).status_code == 200


@pytest.mark.parametrize("settings", [{"IDP_METRICS_ALLOW_FROM": "10.0.0.0/8, ::1"}])
def test_an_address_allow_list_alone(client, settings):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200


@pytest.mark.parametrize("settings", [{"IDP_METRICS_ALLOW_FROM": "10.0.0.0/8", "IDP_METRICS_TOKEN": TOKEN}])
def test_allow_list_and_token_are_both_required(client, settings):
    assert client.get("/metrics", headers=BEARER, environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 401
    assert client.get("/metrics", headers=BEARER, environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200


def test_every_series_exists_from_the_start(client):
    names = set(scrape(client))
    for series in (
        'idp_sign_ins_total{factor="pwd",result="failure"}', 'idp_lockouts_total{counter="account"}',
        'idp_second_factor_failures_total{factor="otp"}', 'idp_step_ups_total{stage="asked"}',
        'idp_tokens_issued_total{grant_type="refresh_token"}', "idp_refresh_token_reuse_total",
        'idp_invitations_total{event="used"}', "idp_redis_unavailable_total", "idp_argon2_verify_seconds_count",
    ):
        assert series in names, series


def post_login(http, email: str, password: str):  # noqa: ANN001, ANN201
    html = http.get("/login").get_data(as_text=True)
    return http.post("/login", data={"csrf_token": csrf_token(html), "email": email, "password": password})


def test_wrong_passwords_then_a_lockout(app, client, user):
    delta = Delta(client)
    threshold = app.config["IDP_LOCKOUT_THRESHOLD"]
    statuses = [post_login(client, user.email, "wrong").status_code for _ in range(threshold + 1)]
    assert statuses == [401] * threshold + [429]
    assert delta('idp_sign_ins_total{factor="pwd",result="failure"}') == threshold
    assert delta('idp_sign_ins_total{factor="pwd",result="locked"}') == 1
    assert delta('idp_lockouts_total{counter="account"}') == 1
    assert delta('idp_lockouts_total{counter="address"}') == 0
    assert delta("idp_argon2_verify_seconds_count") == threshold  # the locked attempt hashes nothing
    assert delta('idp_request_duration_seconds_count{endpoint="/login"}') == 2 * (threshold + 1)


def test_a_sign_in_with_step_up_tokens_and_a_reuse(app, client, user, webapp):
    delta = Delta(client)
    actions = Actions(client)
    tokens = actions.tokens(webapp, scope="openid offline_access")
    assert delta('idp_sign_ins_total{factor="pwd",result="success"}') == 1
    assert delta('idp_tokens_issued_total{grant_type="authorization_code"}') == 1
    secret = add_totp(app, user.id)
    wrong = actions.second_factor(actions.authorize(webapp, acr_values="mfa").location, code="000000")
    assert wrong.status_code == 401
    actions.tokens(webapp, acr_values="mfa", totp_secret=secret)
    assert delta('idp_step_ups_total{stage="asked"}') == 2  # the wrong code's attempt, then this one
    assert delta('idp_step_ups_total{stage="completed"}') == 1
    assert delta('idp_sign_ins_total{factor="otp",result="success"}') == 1
    assert delta('idp_second_factor_failures_total{factor="otp"}') == 1
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert actions.token(webapp, **refresh).status_code == 200
    assert actions.token(webapp, **refresh).status_code == 400  # used again: the grant is revoked
    assert delta('idp_tokens_issued_total{grant_type="refresh_token"}') == 1
    assert delta("idp_refresh_token_reuse_total") == 1
    assert actions.token(webapp, grant_type="client_credentials").status_code == 200
    assert delta('idp_tokens_issued_total{grant_type="client_credentials"}') == 1
    assert delta('idp_request_duration_seconds_count{endpoint="/token"}') == 5


def test_invitations_sent_and_used(app, client):
    from idp import accounts
    from idp.extensions import db

    delta = Delta(client)
    with app.app_context():
        link = accounts.invite("new@example.com", actor=None, is_admin=False, require_mfa=False)
        db.session.commit()
    path = link.url.split("localhost", 1)[1]
    html = client.get(path).get_data(as_text=True)
    response = client.post(path, data={"csrf_token": csrf_token(html), "password": PASSWORD + "!", "password_confirm": PASSWORD + "!"})
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    assert delta('idp_invitations_total{event="sent"}') == 1
    assert delta('idp_invitations_total{event="used"}') == 1


@pytest.mark.parametrize("settings", [{"IDP_METRICS_TOKEN": TOKEN, "REDIS_URL": "redis://127.0.0.1:1/0"}])
def test_redis_unavailable_answers_are_counted(app, client, settings):
    delta = Delta(client)
    assert client.post("/login", data={"email": "a@example.com", "password": "x"}).status_code == 503
    assert delta("idp_redis_unavailable_total") == 1


def test_an_unmatched_path_is_one_series(client):
    delta = Delta(client)
    for n in range(3):
        client.get(f"/no-such-page-{n}")
    assert delta('idp_request_duration_seconds_count{endpoint="unmatched"}') == 3
    assert not [name for name in scrape(client) if "no-such-page" in name]


def test_the_request_id_is_returned_and_a_bad_one_replaced(client):
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    for bad in ("a b", "x" * 129, '{"json": 1}', "%0aforged"):
        made = client.get("/healthz", headers={"X-Request-ID": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"]), bad
    assert client.get("/healthz").headers["X-Request-ID"] != made.headers["X-Request-ID"]
