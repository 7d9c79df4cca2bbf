"""Ending grants: one (reuse detected, RFC 7009), those of a session (sign-out), all of a
person's (disabled)."""

from __future__ import annotations

from sqlalchemy import update

from .. import clock
from ..extensions import db
from ..models import Grant


def revoke_grant(grant_id: str | None, *, reason: str) -> None:
    if grant_id is None:
        return
    db.session.execute(
        update(Grant)
        .where(Grant.id == grant_id, Grant.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
    )


def revoke_session_grants(sid: str, *, reason: str = "logout") -> None:
    db.session.execute(
        update(Grant)
        .where(Grant.sid == sid, Grant.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
    )


def revoke_user_grants(user_id: int, *, reason: str) -> None:
    db.session.execute(
        update(Grant)
        .where(Grant.user_id == user_id, Grant.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
    )


def note_access_revoked(grant_id: str | None) -> None:
    """One access token of the grant was revoked on its own (see access.validate)."""
    if grant_id is None:
        return
    db.session.execute(
        update(Grant).where(Grant.id == grant_id, Grant.access_revoked_at.is_(None)).values(access_revoked_at=clock.now())
    )
