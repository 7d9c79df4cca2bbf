"""Review of issue 8 (1fefd6f): on PostgreSQL the refresh token's rotation commits by itself,
before the response is built. If building it fails (here: the signing keys' reload finds
the main pool's connections dead after a database restart, which on a refresh-only
workload is the first statement on that pool), the client gets a 503 with Retry-After,
but the token it holds is already rotated: its retry is taken for a reuse (RFC 9700
§4.14.2), the grant is revoked and a theft is reported. Before, the rotation rolled back
with the request, as it still does on SQLite."""

from __future__ import annotations

import pytest

from idp.extensions import db
from tests.conftest import DATABASE_URL
from tests.helpers import Actions, terminate_pooled_connections

POSTGRESQL_ONLY = pytest.mark.skipif(not DATABASE_URL.startswith("postgresql"), reason="needs a server to drop connections")


@pytest.fixture
def settings() -> dict:
    return {"IDP_KEY_CACHE_SECONDS": 0}  # the keys are read again for every signature


def _kill_main_pool(app) -> None:
    with app.app_context():
        terminate_pooled_connections(db.engine, via=app.extensions["idp.autocommit"])

@POSTGRESQL_ONLY
def test_a_refresh_that_failed_after_its_rotation_can_be_retried(app, client, user, webapp):
    actions = Actions(client)
    tokens = actions.tokens(webapp)
    _kill_main_pool(app)
    first = actions.token(webapp, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert first.status_code == 503 and first.headers.get("Retry-After"), first.get_data(as_text=True)
    retry = actions.token(webapp, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert retry.status_code == 200, retry.get_json()


@POSTGRESQL_ONLY
def test_a_code_exchange_that_failed_before_its_write_can_be_retried(app, client, user, webapp):
    # The same for a code: the statement that takes it commits by itself, so it runs last.
    from tests.helpers import Pkce

    actions = Actions(client)
    pkce = Pkce()
    code = actions.code(webapp, pkce, email=user.email, password="correct horse battery staple")
    _kill_main_pool(app)
    first = actions.exchange(webapp, code, pkce)
    assert first.status_code == 503 and first.headers.get("Retry-After"), first.get_data(as_text=True)
    retry = actions.exchange(webapp, code, pkce)
    assert retry.status_code == 200, retry.get_json()


def test_a_grant_revoked_while_its_refresh_is_in_flight_issues_nothing(app, client, user, webapp, monkeypatch):
    # The token was read (and found good) before the revocation committed: the rotation
    # itself checks the grant again, so no token of a revoked grant is issued, and the
    # refusal is not taken for a reuse (no theft counted). With a `scope` parameter, so that
    # PostgreSQL too reads first (without one it reads, checks and rotates in one statement,
    # and there is no "meanwhile").
    from idp.oauth import grants, revocation

    actions = Actions(client)
    tokens = actions.tokens(webapp)
    validated = grants.RefreshTokenGrant.validate_token_request

    def revoked_meanwhile(self):  # noqa: ANN001, ANN202
        validated(self)
        revocation.revoke_grant(self.request.refresh_token.grant_id, reason="logout")
        db.session.commit()

    monkeypatch.setattr(grants.RefreshTokenGrant, "validate_token_request", revoked_meanwhile)
    reused = []
    monkeypatch.setattr(grants.metrics, "refresh_token_reused", lambda: reused.append(1))
    answer = actions.token(webapp, grant_type="refresh_token", refresh_token=tokens["refresh_token"], scope="openid")
    assert answer.status_code == 400 and answer.get_json()["error"] == "invalid_grant", answer.get_json()
    assert "access_token" not in answer.get_json()
    assert reused == []
    with app.app_context():
        from idp.models import Grant, RefreshToken

        assert db.session.query(RefreshToken).count() == 1  # no successor was stored
        assert db.session.query(Grant).one().revoked_reason == "logout"


@POSTGRESQL_ONLY
def test_nothing_after_a_refresh_s_one_statement_looks_the_client_up(app, client, user, spa, monkeypatch):
    # The CORS headers of a browser's refresh need its client, which the cache may have to
    # read again (just emptied, or Redis unreachable): looked up after the statement that
    # rotates the token, a failure there answered an error for a rotated token, and the
    # app's retry was a reuse that revoked the grant. Now it is looked up before.
    from idp.oauth import grants
    from idp.web import cors

    actions = Actions(client)
    tokens = actions.tokens(spa)
    rotated = []
    read_row, find = grants.read_row, cors.client_lookup.find

    def noting_the_rotation(statement, params):  # noqa: ANN001, ANN202
        row = read_row(statement, params)
        rotated.append(statement is grants._REFRESH_IN_ONE and row is not None)
        return row

    def refusing_after_it(client_id):  # noqa: ANN001, ANN202
        assert not any(rotated), "the client was looked up after the rotation committed"
        return find(client_id)

    monkeypatch.setattr(grants, "read_row", noting_the_rotation)
    monkeypatch.setattr(cors.client_lookup, "find", refusing_after_it)
    answer = client.post("/token", headers={"Origin": "http://localhost:8080"}, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": spa.client_id})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
