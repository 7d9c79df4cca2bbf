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


def grant_is_live(jti: str | None) -> bool:
    """Whether the grant an access token came from still stands (see tokens.access_token)."""
    if not jti or "." not in jti:
        return True  # client_credentials: no grant behind it
    grant = db.session.get(Grant, jti.split(".", 1)[0])
    return grant is not None and grant.revoked_at is None
