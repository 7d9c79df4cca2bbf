"""Issue 9, item 1: an anonymous POST /authorize cannot fill Redis. Only known parameters
are stored, each with a length cap; over-long ones are refused with 400; open flows are
bounded per browser and per address; Redis refusing a write (out of memory, read-only)
answers 503 like an outage."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
import redis

from idp.oauth.authorize import PARAMETERS
from tests.conftest import REDIS_URL
from tests.helpers import Actions, Pkce, query


def _redis() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL)


def _params(c, **extra) -> dict:
    pkce = Pkce()
    return {"response_type": "code", "client_id": c.client_id, "redirect_uri": c.redirect_uri, "scope": "openid",
            "state": "s", "code_challenge": pkce.challenge, "code_challenge_method": "S256", **extra}


def _flow_key(response) -> bytes:
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    return b"idp:flow:" + query(response.location)["flow"].encode()


def test_unknown_parameters_are_not_stored(app, client, spa):
    response = client.post("/authorize", data=_params(spa, junk="J" * 40_000, other="x"))
    key = _flow_key(response)
    stored = json.loads(_redis().get(key))
    assert "junk" not in stored["params"] and "other" not in stored["params"]
    assert _redis().memory_usage(key) < 1024


@pytest.mark.parametrize("name", ["state", "nonce", "scope", "login_hint", "claims", "acr_values", "ui_locales"])
def test_an_over_long_parameter_is_a_400(client, spa, name):
    response = client.post("/authorize", data=_params(spa, **{name: "x" * (PARAMETERS[name] + 1)}))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert f"{name} is longer than {PARAMETERS[name]} characters" in response.get_data(as_text=True)
    assert _redis().keys("idp:flow:*") == []


def test_a_flow_with_every_parameter_at_its_cap_costs_a_few_kb(client, spa):
    caps = PARAMETERS
    claims = json.dumps({"userinfo": {"name": {"essential": False, "pad": ""}}})
    claims = claims.replace('"pad": ""', '"pad": "' + "p" * (caps["claims"] - len(claims)) + '"')
    words = "profile " * (caps["scope"] // 8)
    params = _params(
        spa, state="s" * caps["state"], nonce="n" * caps["nonce"], scope=("openid " + words)[: caps["scope"]].strip(),
        login_hint="h" * caps["login_hint"], claims=claims, acr_values=("pwd " * 100)[: caps["acr_values"]].strip(),
        ui_locales=("en " * 100)[: caps["ui_locales"]].strip(), claims_locales="en", display="page",
        code_challenge="c" * caps["code_challenge"], max_age="9999999999", prompt="login",
    )
    key = _flow_key(client.post("/authorize", data=params))
    assert _redis().memory_usage(key) < 10 * 1024


def test_a_browser_keeps_a_bounded_number_of_open_flows(app, client, user, spa):
    from idp.web.session import MAX_OPEN_FLOWS

    actions = Actions(client)
    first = actions.authorize(spa).location
    for _ in range(MAX_OPEN_FLOWS + 5):
        last = actions.authorize(spa).location
    assert len(_redis().keys("idp:flow:*")) == MAX_OPEN_FLOWS
    assert "expired" in client.get(first).get_data(as_text=True)  # the oldest went first
    assert actions.login(last).status_code == 303  # the newest still works


@pytest.mark.parametrize("settings", [{"IDP_FLOWS_PER_ADDRESS": 5}])
def test_an_address_can_open_only_so_many_flows(app, spa, settings):
    def start(address: str):  # a fresh browser each time: no cookie to be bounded by
        return app.test_client().get("/authorize?" + urlencode(_params(spa)), environ_overrides={"REMOTE_ADDR": address})

    assert [start("192.0.2.7").status_code for _ in range(5)] == [302] * 5
    refused = start("192.0.2.7")
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert "Too many sign-ins" in refused.get_data(as_text=True)
    assert start("192.0.2.8").status_code == 302
    # One IPv6 client owns a whole /64; an IPv4-mapped address is the IPv4 address.
    assert [start(f"2001:db8:1:2::{i:x}").status_code for i in range(1, 7)] == [302] * 5 + [429]
    assert start("::ffff:192.0.2.7").status_code == 429
    assert len(_redis().keys("idp:flow:*")) == 11


@pytest.fixture
def full_redis():
    """The tests' Redis past its maxmemory, with noeviction: every write is refused (OOM)."""
    r = _redis()
    before = r.config_get("maxmemory")["maxmemory"], r.config_get("maxmemory-policy")["maxmemory-policy"]
    try:
        r.config_set("maxmemory-policy", "noeviction")
        r.config_set("maxmemory", 1)  # one byte: whatever is already there is too much
        yield r
    finally:
        r.config_set("maxmemory", before[0])
        r.config_set("maxmemory-policy", before[1])


def test_redis_out_of_memory_answers_503(app, spa, full_redis):
    response = Actions(app.test_client()).authorize(spa)
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert response.headers["Retry-After"]
    assert "unavailable" in response.get_data(as_text=True)


def test_a_session_that_cannot_be_saved_answers_503(app, full_redis):
    """GET /login writes nothing but the session (its CSRF token): a page whose form could
    never be accepted is not shown."""
    response = app.test_client().get("/login")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "idp_session" not in response.headers.get("Set-Cookie", "")
    assert 'name="csrf_token"' not in response.get_data(as_text=True)
    assert "unavailable" in response.get_data(as_text=True)


@pytest.fixture
def read_only_redis():
    """The tests' Redis turned into a replica of nobody: writes get READONLY."""
    r = _redis()
    r.execute_command("REPLICAOF", "127.0.0.1", "1")
    try:
        yield r
    finally:
        r.execute_command("REPLICAOF", "NO", "ONE")


def test_redis_refusing_writes_answers_503(app, spa, read_only_redis):
    response = Actions(app.test_client()).authorize(spa)
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert "unavailable" in response.get_data(as_text=True)
