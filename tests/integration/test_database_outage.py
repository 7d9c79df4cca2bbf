"""A database restart breaks the pooled connections: without a ping per checkout, the
request that finds a broken one answers 503 (never 500), and the next one works again."""

import base64

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import DATABASE_URL

pytestmark = pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"), reason="needs PostgreSQL")


def _terminate_other_connections() -> None:
    engine = create_engine(DATABASE_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ))
    engine.dispose()


def test_a_broken_connection_is_one_503_then_service_resumes(client, webapp):
    basic = base64.b64encode(f"{webapp.client_id}:{webapp.secret}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    # Warm the pool and the client cache, then break every pooled connection.
    assert client.post("/token", data={"grant_type": "client_credentials"}, headers=headers).status_code == 200
    assert client.post("/introspect", data={"token": "x" * 43}, headers=headers).status_code == 200
    _terminate_other_connections()
    first = client.post("/introspect", data={"token": "x" * 43}, headers=headers)
    assert first.status_code == 503, first.get_data(as_text=True)
    assert first.headers["Retry-After"] and first.get_json()["error"] == "temporarily_unavailable"
    assert client.post("/introspect", data={"token": "x" * 43}, headers=headers).status_code == 200
