"""Telling every process that cached rows changed: a commit that touched clients or signing
keys bumps their versions in Redis (store.versions) right after it, and empties this
process's caches at once. Hooked on the ORM session, so no caller can forget it."""

from __future__ import annotations

import logging

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from .models import Client, SigningKey
from .store import StoreUnavailable, versions

log = logging.getLogger("idp")

WATCHED = {Client: "clients", SigningKey: "keys"}
_KEY = "idp.changed"


def _mark(session: Session, name: str) -> None:
    session.info.setdefault(_KEY, set()).add(name)


def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        name = WATCHED.get(type(obj))
        if name:
            _mark(session, name)


def _orm_execute(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and state.bind_mapper is not None:
        name = WATCHED.get(state.bind_mapper.class_)
        if name:
            _mark(state.session, name)


def _after_commit(session: Session) -> None:
    changed = session.info.pop(_KEY, None)
    if not changed or not has_app_context():
        return
    try:
        bumped: dict[str, int] | None = versions.bump(*sorted(changed))
    except StoreUnavailable as exc:
        # Other processes notice anyway: their caches are rebuilt at least every minute.
        log.error("cached %s changed but the versions could not be bumped: %s", ", ".join(sorted(changed)), exc)
        bumped = None
    current_app.extensions["idp.versions"].changed_here(bumped, changed)


def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)


def install() -> None:
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "do_orm_execute", _orm_execute)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
