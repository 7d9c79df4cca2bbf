"""How many SQL statements and Redis round trips each hot endpoint costs. The numbers are
exact on purpose: an extra statement on the token path should be a decision, made here,
not an accident. (Race safety is proven elsewhere: tests/e2e/test_races.py.)"""

from __future__ import annotations

import base64
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import redis.client
from sqlalchemy import event

from idp import direct_sql
from idp.extensions import db
from tests.conftest import DATABASE_URL
from tests.helpers import Actions, Pkce, query

POSTGRESQL = DATABASE_URL.startswith("postgresql")


@dataclass
class Cost:
    sql: list[str] = field(default_factory=list)
    redis: list[str] = field(default_factory=list)
    #: Transactions begun on the main pool (each a BEGIN and a COMMIT or ROLLBACK round
    #: trip); the autocommit pool's statements stand alone.
    transactions: int = 0

    def __repr__(self) -> str:
        return f"Cost(sql={len(self.sql)} {self.sql}, redis={len(self.redis)} {self.redis}, tx={self.transactions})"


@pytest.fixture
def meter(app, monkeypatch):
    with app.app_context():
        engines = [db.engine, *dict.fromkeys((app.extensions["idp.autocommit"], app.extensions["idp.ephemeral"]))]
    current: list[Cost] = []

    def on_execute(conn, cursor, statement, params, context, executemany):  # noqa: ANN001
        if current:
            current[-1].sql.append(" ".join(statement.split()[:3]))

    def on_begin(conn):  # noqa: ANN001
        if current:
            current[-1].transactions += 1

    for engine in engines:
        event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engines[0], "begin", on_begin)
    client = app.extensions["idp.redis"]
    plain = client.execute_command

    def command(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if current:
            current[-1].redis.append(str(args[0]))
        return plain(*args, **kwargs)

    monkeypatch.setattr(client, "execute_command", command)
    piped = redis.client.Pipeline.execute

    def pipeline(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if current:
            current[-1].redis.append("PIPELINE")
        return piped(self, *args, **kwargs)

    monkeypatch.setattr(redis.client.Pipeline, "execute", pipeline)
    # The hot reads skip SQLAlchemy's Connection, hence its events: counted where they run.
    direct = direct_sql.execute

    def direct_execute(engine, sql, parameters, **options):  # noqa: ANN001, ANN003, ANN202
        if current:
            current[-1].sql.append(" ".join(sql.split()[:3]))
        return direct(engine, sql, parameters, **options)

    monkeypatch.setattr(direct_sql, "execute", direct_execute)
    # The cross-process versions are read at most once a second; not inside a measurement.
    monkeypatch.setattr(app.extensions["idp.versions"], "check_every", 3600)

    @contextmanager
    def measure():
        cost = Cost()
        current.append(cost)
        try:
            yield cost
        finally:
            current.pop()

    yield measure
    for engine in engines:
        event.remove(engine, "before_cursor_execute", on_execute)
    event.remove(engines[0], "begin", on_begin)


def basic(c) -> dict:  # noqa: ANN001
    return {"Authorization": "Basic " + base64.b64encode(f"{c.client_id}:{c.secret}".encode()).decode()}


@pytest.fixture
def signed_in(app, user, webapp):
    """A browser signed in with a password, and tokens of one grant with offline_access."""
    browser = app.test_client()
    tokens = Actions(browser).tokens(webapp, scope="openid profile email offline_access")
    return browser, tokens


def test_discovery_and_jwks_touch_nothing(app, meter):
    api = app.test_client()
    api.get("/jwks.json")
    with meter() as cost:
        assert api.get("/.well-known/openid-configuration").status_code == 200
        assert api.get("/jwks.json").status_code == 200
    assert (len(cost.sql), len(cost.redis)) == (0, 0), cost


def test_client_credentials_costs_nothing_but_the_signature(app, webapp, meter):
    api = app.test_client()
    api.post("/token", data={"grant_type": "client_credentials"}, headers=basic(webapp))
    with meter() as cost:
        assert api.post("/token", data={"grant_type": "client_credentials"}, headers=basic(webapp)).status_code == 200
    assert (len(cost.sql), len(cost.redis)) == (0, 0), cost


def test_a_wrong_client_secret_costs_one_round_trip(app, webapp, meter):
    api = app.test_client()
    api.post("/token", data={"grant_type": "client_credentials"}, headers=basic(webapp))
    webapp.secret = "wrong"
    with meter() as cost:
        assert api.post("/token", data={"grant_type": "client_credentials"}, headers=basic(webapp)).status_code == 401
    assert (len(cost.sql), cost.redis) == (0, ["EVALSHA"]), cost


# PostgreSQL: the read, the checks, the rotation and the successor in one data-modifying
# statement by itself (one round trip). SQLite: the read outside any transaction, then the
# rotation and the successor, two statements in a transaction.
if POSTGRESQL:
    REFRESH_SQL = ["WITH live AS"]
    REFRESH_TRANSACTIONS = 0
else:
    REFRESH_SQL = ["SELECT refresh_tokens.id, refresh_tokens.token_hash,", "UPDATE refresh_tokens SET",
                   "INSERT INTO refresh_tokens"]
    REFRESH_TRANSACTIONS = 1


# PostgreSQL: the code read with its person outside any transaction, then one statement that
# takes it and writes the grant and its refresh token. SQLite: the code taken with its
# person, the grant, its refresh token, in one transaction.
if POSTGRESQL:
    EXCHANGE_SQL = ["SELECT authorization_codes.code_hash, authorization_codes.client_id,", "WITH taken AS"]
    EXCHANGE_TRANSACTIONS = 0
else:
    EXCHANGE_SQL = ["UPDATE authorization_codes SET", "INSERT INTO grants", "INSERT INTO refresh_tokens"]
    EXCHANGE_TRANSACTIONS = 1


def test_refresh_is_one_read_one_conditional_write_and_the_successor(app, webapp, signed_in, meter):
    api = app.test_client()
    _, tokens = signed_in
    with meter() as cost:
        response = api.post("/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                            headers=basic(webapp))
        assert response.status_code == 200, response.get_json()
    assert cost.sql == REFRESH_SQL, cost
    assert (cost.redis, cost.transactions) == ([], REFRESH_TRANSACTIONS), cost


def test_userinfo_and_introspection_read_one_row(app, webapp, signed_in, meter):
    api = app.test_client()
    _, tokens = signed_in
    bearer = {"Authorization": "Bearer " + tokens["access_token"]}
    with meter() as cost:
        assert api.get("/userinfo", headers=bearer).status_code == 200
    assert (len(cost.sql), len(cost.redis), cost.transactions) == (1, 0, 0), cost
    with meter() as cost:
        assert api.post("/introspect", data={"token": tokens["access_token"]}, headers=basic(webapp)).get_json()["active"]
    assert (len(cost.sql), len(cost.redis), cost.transactions) == (1, 0, 0), cost


def test_a_signed_in_code_flow_is_a_handful_of_statements(app, webapp, signed_in, meter):
    browser, _ = signed_in
    actions = Actions(browser)
    pkce = Pkce()
    with meter() as authorize:
        response = actions.authorize(webapp, pkce, scope="openid profile email offline_access")
        assert response.status_code == 302 and "code=" in response.location
    # The session (one GET); the person with their second factors, and the code, each a
    # statement of its own outside any transaction.
    assert authorize.sql == ["SELECT users.id, users.subject,", "INSERT INTO authorization_codes"], authorize
    assert (authorize.redis, authorize.transactions) == (["GET"], 0), authorize
    with meter() as exchange:
        assert actions.exchange(webapp, query(response.location)["code"], pkce).status_code == 200
    assert exchange.sql == EXCHANGE_SQL, exchange
    assert (exchange.redis, exchange.transactions) == ([], EXCHANGE_TRANSACTIONS), exchange


def test_a_code_flow_without_offline_access_writes_no_refresh_token(app, webapp, signed_in, meter):
    browser, _ = signed_in
    actions = Actions(browser)
    pkce = Pkce()
    response = actions.authorize(webapp, pkce, scope="openid email")
    with meter() as exchange:
        answer = actions.exchange(webapp, query(response.location)["code"], pkce)
        assert answer.status_code == 200 and "refresh_token" not in answer.get_json()
    # The same statement on PostgreSQL (without its refresh token); one INSERT fewer on SQLite.
    assert exchange.sql == (EXCHANGE_SQL if POSTGRESQL else EXCHANGE_SQL[:-1]), exchange


def test_a_password_sign_in(app, user, webapp, meter):
    """The person with their second factors (one statement), the audit line, the last
    sign-in time; the session and the flow, the lockout's reservation and settlement (one
    script each: the settlement was a pipeline of scripts, which cost a SCRIPT EXISTS round
    trip this meter missed), and the new session."""
    browser = app.test_client()
    actions = Actions(browser)
    login = actions.authorize(webapp).location
    page = browser.get(login)
    from tests.helpers import PASSWORD, csrf_token

    form = {"csrf_token": csrf_token(page.get_data(as_text=True)), "email": user.email, "password": PASSWORD,
            "flow": query(login)["flow"]}
    with meter() as cost:
        assert browser.post("/login", data=form).status_code == 303
    assert [s.split()[0] for s in cost.sql] == ["SELECT", "INSERT", "UPDATE"], cost
    assert cost.redis == ["GET", "GET", "EVALSHA", "EVALSHA", "PIPELINE"], cost
    assert cost.transactions == 1, cost


def test_a_refresh_inside_a_grace_window_costs_the_same(app, user, meter):
    """A confidential client's grace window (30 s by default) seals the successor into the
    rotated row within the same UPDATE: no statement more. A repeat is the read alone (on
    PostgreSQL after the one statement, which finds nothing to rotate)."""
    from tests.helpers import make_client

    rp = make_client(app, public=False, refresh_grace_seconds=30)
    tokens = Actions(app.test_client()).tokens(rp)
    api = app.test_client()
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    with meter() as cost:
        assert api.post("/token", data=form, headers=basic(rp)).status_code == 200
    assert cost.sql == REFRESH_SQL, cost
    with meter() as repeat:
        assert api.post("/token", data=form, headers=basic(rp)).status_code == 200
    read = ["SELECT refresh_tokens.id, refresh_tokens.token_hash,"]
    assert repeat.sql == (["WITH live AS", *read] if POSTGRESQL else read) and repeat.redis == [], repeat
