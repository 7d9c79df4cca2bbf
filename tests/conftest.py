"""Fixtures: the app on a real database (SQLite, or PostgreSQL with TEST_DATABASE_URL) and the
real Redis (a database index of its own, flushed for every test)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from idp import create_app
from idp.extensions import db
from tests import live, redis_db
from tests.helpers import Actions, make_client, make_user

REDIS_URL = redis_db.url("TEST_REDIS_URL", 15)
_TMP = Path(tempfile.mkdtemp(prefix="idp-test-"))
os.environ.setdefault("IDP_INSTANCE_PATH", str(_TMP / "instance"))  # the outbox of mail, for one
DATABASE_URL = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{_TMP / 'test.sqlite3'}"

TEST_CONFIG = {
    "TESTING": True,
    "IDP_ENV": "test",
    "IDP_ISSUER": "http://localhost",
    "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "SECRET_KEY": "test-secret-key",
    "IDP_DATA_KEYS": "t1:" + "A" * 43,
    # Cheap hashes keep the suite fast; test_passwords checks the production parameters.
    "IDP_ARGON2_MEMORY_KIB": 1024,
    "IDP_ARGON2_TIME_COST": 1,
}


def _tables() -> list[str]:
    return [t.name for t in reversed(db.metadata.sorted_tables)]


@pytest.fixture(scope="session")
def _schema():
    app = create_app(TEST_CONFIG)
    with app.app_context():
        if DATABASE_URL.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()  # the schema comes from the migrations, as in production
    return app


@pytest.fixture
def settings() -> dict:
    """Override in a module (or with `@pytest.mark.parametrize`) to change configuration."""
    return {}


@pytest.fixture
def app(_schema, settings):
    app = create_app({**TEST_CONFIG, **settings})
    redis_db.flush(REDIS_URL)
    shutil.rmtree(Path(app.instance_path) / "outbox", ignore_errors=True)
    with app.app_context():
        for table in _tables():
            db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()
    # No app context stays pushed: each request gets its own, as in production (a shared
    # one would share `g` and the database session between requests).
    yield app
    with app.app_context():
        db.engine.dispose()  # each test's pools close their connections now, not at some GC
    app.extensions["idp.autocommit"].dispose()
    app.extensions["idp.ephemeral"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def user(app):
    return make_user(app, "alice@example.com", "correct horse battery staple")


@pytest.fixture
def spa(app):
    return make_client(app, public=True)


@pytest.fixture
def webapp(app):
    return make_client(app, public=False)


@pytest.fixture
def actions(client):
    return Actions(client)


@pytest.fixture(scope="session")
def live_server():
    server = live.start()
    yield server
    server.stop()
