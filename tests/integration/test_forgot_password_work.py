"""Issue 9, item 10: a forgotten-password request must not tell, by the work it does
before answering, whether the account exists. Known accounts answered 3–4 ms slower (the
reset link written to the database), and a fixed threshold classified about 80 % of
addresses. The work is counted, not timed: the SQL statements and Redis commands that the
request itself runs (on its own thread) must be the same for a known and an unknown
address; what differs happens after the answer, in the background."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import redis.client
from sqlalchemy import event, func, select

from idp.extensions import db
from idp.models import PasswordReset
from tests.helpers import csrf_token, make_user
from tests.integration.test_onboarding import outbox_link


@pytest.fixture
def meter(app, monkeypatch):
    """SQL statements and Redis commands run on the calling thread while measuring."""
    here = threading.get_ident()
    work: list[str] = []
    on = [False]

    def counting() -> bool:
        return on[0] and threading.get_ident() == here

    def on_execute(conn, cursor, statement, params, context, executemany):  # noqa: ANN001
        if counting():
            work.append("SQL " + " ".join(statement.split()[:3]))

    with app.app_context():
        engines = [db.engine, *dict.fromkeys((app.extensions["idp.autocommit"], app.extensions["idp.ephemeral"]))]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", on_execute)
    client = app.extensions["idp.redis"]
    plain, piped = client.execute_command, redis.client.Pipeline.execute

    def command(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if counting():
            work.append(f"REDIS {args[0]}")
        return plain(*args, **kwargs)

    def pipeline(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if counting():
            work.append("REDIS PIPELINE " + " ".join(str(c[0][0]) for c in self.command_stack))
        return piped(self, *args, **kwargs)

    monkeypatch.setattr(client, "execute_command", command)
    monkeypatch.setattr(redis.client.Pipeline, "execute", pipeline)

    def measure(call) -> Counter:  # noqa: ANN001
        work.clear()
        on[0] = True
        try:
            call()
        finally:
            on[0] = False
        return Counter(work)

    yield measure
    for engine in engines:
        event.remove(engine, "before_cursor_execute", on_execute)


def ask(client, email: str):
    page = client.get("/password/forgot").get_data(as_text=True)
    return lambda: client.post("/password/forgot", data={"csrf_token": csrf_token(page), "email": email})


def background_done() -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("idp-") and thread is not threading.current_thread():
            thread.join()


def test_known_and_unknown_addresses_cost_the_request_the_same_work(app, client, meter):
    make_user(app, "alice@example.com")
    make_user(app, "gone@example.com", disabled=True)
    costs = {}
    for email in ("alice@example.com", "nobody@example.com", "gone@example.com", "not an address"):
        costs[email] = meter(ask(app.test_client(), email))
        background_done()
    assert len(set(map(frozenset, (c.items() for c in costs.values())))) == 1, costs
    # ... and the known account did get its link, in the background.
    assert outbox_link(app, "alice@example.com", "Reset")
    assert not outbox_link(app, "nobody@example.com", "Reset", wait=0)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PasswordReset)) == 1


def test_over_the_limit_costs_the_same_too(app, meter):
    make_user(app, "alice@example.com")
    known, unknown = app.test_client(), app.test_client()
    for _ in range(3):
        ask(known, "alice@example.com")()
        ask(unknown, "nobody@example.com")()
    background_done()
    assert meter(ask(known, "alice@example.com")) == meter(ask(unknown, "nobody@example.com"))
