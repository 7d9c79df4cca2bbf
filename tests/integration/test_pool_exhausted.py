"""Every connection of a pool is taken (more requests at once than IDP_DB_POOL_SIZE plus
its overflow, or a stuck statement): a request that waited pool_timeout for one answers
503 with Retry-After, never 500, and once a connection is back the next one works."""

import pytest
from sqlalchemy import text

from config import Config
from idp.extensions import db


@pytest.fixture
def settings():
    return {"SQLALCHEMY_ENGINE_OPTIONS": {**Config.SQLALCHEMY_ENGINE_OPTIONS, "pool_size": 1, "max_overflow": 0,
                                          "pool_timeout": 0.2}}


def test_a_request_that_finds_no_free_connection_is_a_503(app, client):
    with app.app_context():
        held = db.engine.connect()  # the pool's only connection
        held.execute(text("SELECT 1"))
        try:
            page = client.get("/login")
        finally:
            held.close()
    assert page.status_code == 503, page.get_data(as_text=True)[:300]
    assert page.headers["Retry-After"] and "unavailable for a moment" in page.get_data(as_text=True)
    assert client.get("/login").status_code == 200
