"""Review of issue 8's direct_sql: a database that refuses new connections (down, starting
up, at max_connections) is a 503 on the hot paths too, as it is on every ORM path: the
statements on the raw cursor must not turn a connect failure into a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from tests.conftest import DATABASE_URL
from tests.helpers import Actions, terminate_pooled_connections

# A server that is not there: PostgreSQL on a port nothing listens on, SQLite in a
# directory that does not exist. A real engine, a real failed connect.
UNREACHABLE = ("postgresql+psycopg://postgres@127.0.0.1:1/none" if DATABASE_URL.startswith("postgresql")
               else "sqlite:////nonexistent-review-dir/none.sqlite3")


@pytest.fixture
def unreachable(app):
    def cut() -> None:
        app.extensions["idp.autocommit"].dispose()
        app.extensions["idp.autocommit"] = create_engine(UNREACHABLE, isolation_level="AUTOCOMMIT")
    return cut


def _assert_unavailable(answer) -> None:
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.headers.get("Retry-After")
    assert answer.get_json()["error"] == "temporarily_unavailable"


def test_userinfo_when_the_database_refuses_connections_is_503(app, client, user, webapp, unreachable):
    tokens = Actions(client).tokens(webapp, scope="openid email")
    unreachable()
    _assert_unavailable(client.get("/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}))


def test_refresh_when_the_database_refuses_connections_is_503(app, client, user, webapp, unreachable):
    actions = Actions(client)
    tokens = actions.tokens(webapp)
    unreachable()
    _assert_unavailable(actions.token(webapp, grant_type="refresh_token", refresh_token=tokens["refresh_token"]))


@pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"), reason="needs a server to drop the connections")
def test_after_a_restart_one_request_fails_not_one_per_pooled_connection(app, client, user, webapp):
    # Core, on a disconnect, invalidates the whole pool (every connection older than the
    # failure is replaced at its next checkout); a restart kills them all at once, so one
    # request answers 503 and the next one works. The pool here has three connections.
    from idp.extensions import db

    tokens = Actions(client).tokens(webapp, scope="openid email")
    bearer = {"Authorization": "Bearer " + tokens["access_token"]}
    assert client.get("/userinfo", headers=bearer).status_code == 200
    with app.app_context():
        terminate_pooled_connections(app.extensions["idp.autocommit"], via=db.engine)
    assert client.get("/userinfo", headers=bearer).status_code == 503
    assert client.get("/userinfo", headers=bearer).status_code == 200
