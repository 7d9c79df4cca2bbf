"""The hot reads that bypass SQLAlchemy's Connection (idp/direct_sql.py) read the same
values Core would, and fail the way Core fails: a lost connection is a 503 for one request
and is dropped from the pool, never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, select, text

from idp import direct_sql
from idp.extensions import db
from idp.models import Client
from idp.oauth import client_lookup
from tests.conftest import DATABASE_URL
from tests.helpers import Actions


def test_a_row_reads_as_core_reads_it(app, webapp):
    statement = select(*Client.__table__.columns).where(Client.__table__.c.client_id == webapp.client_id)
    with app.app_context():
        core = db.session.execute(statement).one()
        direct = direct_sql.read_row(statement, {})
    assert tuple(direct) == tuple(core)
    assert isinstance(direct.redirect_uris, list) and isinstance(direct.is_public, bool)
    assert direct.client_id == webapp.client_id


def test_no_row_is_none(app):
    with app.app_context():
        assert client_lookup.find("no-such-client") is None


def test_a_bad_statement_is_sqlalchemys_error(app):
    with app.app_context():
        with pytest.raises(exc.DBAPIError):
            direct_sql.execute(app.extensions["idp.autocommit"], "SELECT * FROM no_such_table", {} if "postgresql" in DATABASE_URL else [])
        # The pool is still good.
        assert direct_sql.execute(app.extensions["idp.autocommit"], "SELECT 1", {} if "postgresql" in DATABASE_URL else [])[0] == (1,)


@pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"), reason="needs a server to drop the connection")
def test_a_lost_connection_is_one_503_then_the_pool_is_rebuilt(app, user, webapp):
    tokens = Actions(app.test_client()).tokens(webapp, scope="openid email")
    bearer = {"Authorization": "Bearer " + tokens["access_token"]}
    api = app.test_client()
    assert api.get("/userinfo", headers=bearer).status_code == 200
    with app.app_context():
        # Every connection of the autocommit pool (the hot reads' only pool) is killed.
        with db.engine.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND application_name = '' AND state = 'idle'"))
            conn.commit()
    first = api.get("/userinfo", headers=bearer)
    assert first.status_code == 503 and first.headers.get("Retry-After")
    assert api.get("/userinfo", headers=bearer).status_code == 200


def test_a_code_is_written_as_core_would_and_only_its_pool_skips_the_disk(app, user, webapp, monkeypatch):
    """The code's INSERT is a direct write on the ephemeral pool: every column as stored by
    Core (JSON included), and on PostgreSQL the only pool with synchronous_commit off."""
    from idp.models import AuthorizationCode

    pools = []
    original = direct_sql.execute
    monkeypatch.setattr(direct_sql, "execute", lambda engine, *a, **k: pools.append(engine) or original(engine, *a, **k))
    Actions(app.test_client()).code(webapp, claims='{"id_token": {"email": null}}')
    assert app.extensions["idp.ephemeral"] in pools
    with app.app_context():
        row = db.session.scalars(select(AuthorizationCode)).one()
        assert row.amr == ["pwd"] and row.id_token_claims == ["email"] and row.user_id == user.id
        if "postgresql" in DATABASE_URL:
            for pool, expected in (("idp.ephemeral", "off"), ("idp.autocommit", "on")):
                with app.extensions[pool].connect() as connection:
                    assert connection.execute(text("SHOW synchronous_commit")).scalar() == expected


@pytest.mark.parametrize("pool", ["main", "idp.autocommit", "idp.ephemeral"])
def test_as_many_requests_at_once_as_the_server_has_threads_open_no_new_connections(app, pool):
    """A connection past a pool's size (an overflow) is closed when it is given back: a
    pool smaller than the server's threads per process opened (and PostgreSQL started) a
    connection per request past it. `make run` gives each process 4 threads."""
    import threading
    import time

    from sqlalchemy import event

    with app.app_context():
        engine = db.engine if pool == "main" else app.extensions[pool]
    threads, rounds = 4, 10
    opened, done = [], []
    event.listen(engine, "connect", lambda *_: opened.append(1))
    together = threading.Barrier(threads)

    def request() -> None:
        for _ in range(rounds):
            together.wait(timeout=10)
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                time.sleep(0.01)  # all four hold one at once
            done.append(1)

    workers = [threading.Thread(target=request) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # A thread that failed would have opened nothing, and proven nothing.
    assert len(done) == threads * rounds, f"{len(done)} of {threads * rounds} requests ran"
    assert len(opened) <= threads, f"{len(opened)} connections opened for {threads} threads"


@pytest.mark.parametrize("size", [0, -1])
def test_a_pool_of_no_connections_is_refused_at_start_up(size):
    from config import Config
    from idp import create_app
    from idp.settings import ConfigError
    from tests.conftest import TEST_CONFIG

    options = {**Config.SQLALCHEMY_ENGINE_OPTIONS, "pool_size": size}
    with pytest.raises(ConfigError, match="IDP_DB_POOL_SIZE"):
        create_app({**TEST_CONFIG, "SQLALCHEMY_ENGINE_OPTIONS": options})
