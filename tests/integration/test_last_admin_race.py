"""Issue 9, item 9: the last-admin rule under real concurrency. Two admins demote or
disable each other at the same moment, from two threads with their own database
connections; whatever the interleaving, one active admin is left."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from idp import accounts
from idp.extensions import db
from idp.models import User
from tests.helpers import make_user

TRIALS = 15


def _act(app, barrier: threading.Barrier, action: str, actor_id: int, target_id: int) -> str:
    """One admin's action, in its own app context (its own session and connection)."""
    with app.app_context():
        actor, target = db.session.get(User, actor_id), db.session.get(User, target_id)
        barrier.wait()  # both have read the rows: the moment the old count-then-write lost
        try:
            if action == "demote":
                accounts.set_admin(target, False, actor=actor)
            else:
                accounts.disable(target, actor=actor)
            db.session.commit()
            return "done"
        except accounts.AccountError:
            db.session.rollback()
            return "refused"


def _active_admins(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User).where(User.is_admin, User.disabled.is_(False)))


@pytest.mark.parametrize("first, second", [("demote", "demote"), ("disable", "disable"), ("demote", "disable")])
def test_two_admins_removing_each_other_leave_one(app, first, second):
    for trial in range(TRIALS):
        a = make_user(app, f"a{trial}-{first}-{second}@example.com", is_admin=True)
        b = make_user(app, f"b{trial}-{first}-{second}@example.com", is_admin=True)
        barrier = threading.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda args: _act(app, barrier, *args),
                                    [(first, a.id, b.id), (second, b.id, a.id)]))
        assert sorted(results) == ["done", "refused"], (trial, results)
        assert _active_admins(app) == 1, trial
        with app.app_context():  # the next trial starts from two admins and nobody else
            db.session.execute(User.__table__.delete())
            db.session.commit()


def test_the_last_admin_is_kept_without_a_race(app):
    only = make_user(app, "only@example.com", is_admin=True)
    other = make_user(app, "other@example.com")
    with app.app_context():
        person = db.session.get(User, only.id)
        for change in (lambda: accounts.set_admin(person, False, actor=None), lambda: accounts.disable(person, actor=None)):
            with pytest.raises(accounts.AccountError, match="last admin"):
                change()
            db.session.rollback()
        accounts.set_admin(db.session.get(User, other.id), True, actor=None)
        accounts.set_admin(db.session.get(User, only.id), False, actor=None)
        db.session.commit()
    assert _active_admins(app) == 1
