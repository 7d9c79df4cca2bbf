"""Issue 9, item 11: a session has an absolute lifetime from sign-in (IDP_SESSION_TTL) and
an idle timeout (IDP_SESSION_IDLE_TTL), both enforced by the server. Before, every save
re-armed the Redis TTL, so a session kept warm lived forever. The clock is moved, never
waited for; the Redis TTL is read as a value."""

from __future__ import annotations

import pytest
import redis

from idp import clock
from idp.store.sessions import PREFIX
from tests.conftest import REDIS_URL
from tests.helpers import Actions

ABSOLUTE, IDLE = 3600, 600


@pytest.fixture
def settings():
    return {"IDP_SESSION_TTL": ABSOLUTE, "IDP_SESSION_IDLE_TTL": IDLE}


@pytest.fixture
def now(monkeypatch):
    moment = {"t": clock.now()}
    monkeypatch.setattr(clock, "now", lambda: moment["t"])
    return moment


def signed_in(client) -> bool:
    return client.get("/account").status_code == 200


def sign_in(client) -> None:
    response = Actions(client).login("/login?next=/account")
    assert response.status_code == 303, response.get_data(as_text=True)
    assert signed_in(client)


def redis_ttl(client) -> int:
    return redis.Redis.from_url(REDIS_URL).ttl(PREFIX + client.get_cookie("idp_session").value)


def test_a_session_kept_warm_ends_at_its_absolute_lifetime(client, user, now):
    start = now["t"]
    sign_in(client)
    # A request every 5 minutes, never idle for IDLE: still it ends ABSOLUTE after sign-in.
    while now["t"] + 300 < start + ABSOLUTE:
        now["t"] += 300
        assert signed_in(client), now["t"] - start
        assert 0 < redis_ttl(client) <= start + ABSOLUTE - now["t"] + 1
    now["t"] = start + ABSOLUTE
    assert not signed_in(client)


def test_an_idle_session_ends_after_the_idle_timeout(client, user, now):
    sign_in(client)
    assert redis_ttl(client) <= IDLE
    now["t"] += IDLE - 1
    assert signed_in(client)  # activity re-arms the idle timeout
    now["t"] += IDLE - 1
    assert signed_in(client)
    now["t"] += IDLE
    assert not signed_in(client)
    now["t"] += 1
    assert not signed_in(client)  # and it stays ended


def test_the_password_again_starts_a_new_lifetime(client, user, now):
    start = now["t"]
    sign_in(client)
    now["t"] = start + ABSOLUTE - 60
    sign_in(client)  # the same browser, the password once more
    now["t"] = start + ABSOLUTE + 60
    assert signed_in(client)
