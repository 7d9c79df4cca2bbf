"""Every connection of the pools is taken (more requests at once than IDP_DB_POOL_SIZE plus
its overflow, or a stuck statement): a request that waited pool_timeout for one answers
503 with Retry-After, never 500, and once a connection is back the next one works."""

import pytest
from sqlalchemy import text

from config import Config
from idp.extensions import db
from tests.helpers import csrf_token


@pytest.fixture
def settings():
    return {"SQLALCHEMY_ENGINE_OPTIONS": {**Config.SQLALCHEMY_ENGINE_OPTIONS, "pool_size": 1, "max_overflow": 0,
                                          "pool_timeout": 0.2}}


def test_a_request_that_finds_no_free_connection_is_a_503(app, client, user):
    form = {"csrf_token": csrf_token(client.get("/login").get_data(as_text=True)),
            "email": user.email, "password": "not the password"}
    with app.app_context():
        engines = {db.engine, app.extensions["idp.autocommit"], app.extensions["idp.ephemeral"]}
        held = [engine.connect() for engine in engines]  # each pool's only connection
        try:
            for connection in held:
                connection.execute(text("SELECT 1"))
            answer = client.post("/login", data=form)  # the person's SELECT finds no connection
        finally:
            for connection in held:
                connection.close()
    assert answer.status_code == 503, answer.get_data(as_text=True)[:300]
    assert answer.headers["Retry-After"] and "unavailable for a moment" in answer.get_data(as_text=True)
    assert client.post("/login", data=form).status_code == 401
