"""/healthz and /readyz: what a load balancer asks, with the database or Redis stopped."""

from __future__ import annotations

import socket

import pytest

from idp import create_app
from tests.conftest import TEST_CONFIG

NOBODY = "127.0.0.1:1"  # nothing listens on port 1


def _app(**overrides):  # noqa: ANN003, ANN202
    return create_app({**TEST_CONFIG, **overrides})


def test_healthz_answers_and_touches_nothing():
    # Neither the database nor Redis exists: liveness does not care.
    app = _app(SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@{NOBODY}/none", REDIS_URL=f"redis://{NOBODY}/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_ready_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"status": "ready"}


def test_not_ready_without_redis(_schema):
    app = _app(REDIS_URL=f"redis://{NOBODY}/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "missing": ["redis"]}


def test_not_ready_without_the_database():
    app = _app(SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@{NOBODY}/none")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    # Never loaded, and not loadable: no token could be signed either.
    assert response.get_json() == {"status": "unavailable", "missing": ["database", "signing_keys"]}


def test_a_database_lost_after_start_is_reported_but_the_loaded_key_is_not(app, client):
    assert client.get("/readyz").status_code == 200  # the signing key is loaded now
    readiness = app.extensions["idp.readiness"]
    broken = _app(SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg://postgres@{NOBODY}/none").extensions["idp.readiness"]
    readiness._database = broken._database
    assert client.get("/readyz").get_json() == {"status": "unavailable", "missing": ["database"]}


def test_a_hung_redis_is_not_ready_within_the_deadline(_schema):
    """A server that accepts the connection and never answers: the probe gives up at its
    deadline, and the next probe does not pile another stuck check on top."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        app = _app(REDIS_URL=f"redis://127.0.0.1:{port}/0")
        http = app.test_client()
        first = http.get("/readyz")
        assert first.status_code == 503 and first.get_json()["missing"] == ["redis"]
        assert http.get("/readyz").get_json()["missing"] == ["redis"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_answers_name_no_version_or_host(client, path):
    body = client.get(path).get_data(as_text=True)
    for leak in ("127.0.0.1", "localhost", "redis://", "sqlite", "postgres", "0.1.0", "Werkzeug"):
        assert leak not in body
    assert "Werkzeug" not in client.get(path).headers.get("Server", "")
