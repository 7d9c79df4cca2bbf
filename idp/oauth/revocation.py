"""Ending grants: one (reuse detected, RFC 7009), those of a session (sign-out), all of a
person's (disabled, password changed or reset, second factors reset).

The codes of that session or person that nobody redeemed yet go in the same transaction
(issue 9, item 4): otherwise a stolen session could mint codes and redeem them after the
owner reacted, since a code becomes a grant only at /token. The codes go first: a
redemption racing this holds its code's row until it commits (PostgreSQL re-checks the
row then and finds it used), so the grant it creates is committed before the grants are
revoked, and is revoked with them.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, select, update

from .. import clock
from ..extensions import db
from ..models import AuthorizationCode, Grant, User
from . import backchannel, client_lookup


def _drop_unredeemed_codes(owner: ColumnElement[bool]) -> None:
    # Live codes only: expires_at is indexed, and an expired code is refused anyway.
    db.session.execute(
        delete(AuthorizationCode).where(
            owner, AuthorizationCode.used_at.is_(None), AuthorizationCode.expires_at > clock.now()
        )
    )


def revoke_grant(grant_id: str | None, *, reason: str) -> None:
    if grant_id is None:
        return
    db.session.execute(
        update(Grant)
        .where(Grant.id == grant_id, Grant.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
    )


def revoke_session_grants(sid: str, *, reason: str = "logout") -> None:
    """The session ended: its grants end, and their clients hear of it (back-channel)."""
    _drop_unredeemed_codes(AuthorizationCode.sid == sid)
    ended = db.session.execute(
        update(Grant)
        .where(Grant.sid == sid, Grant.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
        .returning(Grant.client_id, Grant.sid, Grant.user_id)
    ).all()
    _tell_clients(ended)


def revoke_user_grants(user_id: int, *, reason: str) -> None:
    """Every session of theirs ended (disabled, password changed, second factors reset)."""
    _drop_unredeemed_codes(AuthorizationCode.user_id == user_id)
    ended = db.session.execute(
        update(Grant)
        .where(Grant.user_id == user_id, Grant.revoked_at.is_(None))
        .values(revoked_at=clock.now(), revoked_reason=reason)
        .returning(Grant.client_id, Grant.sid, Grant.user_id)
    ).all()
    _tell_clients(ended)


def _tell_clients(ended: list) -> None:
    """Back-Channel Logout for the ended grants whose client registered a URI; the person's
    subject is read only then (the clients come from the process's cache)."""
    wanted = [row for row in ended if getattr(client_lookup.find(row.client_id), "backchannel_logout_uri", None)]
    if not wanted:
        return
    subjects = dict(db.session.execute(
        select(User.id, User.subject).where(User.id.in_({row.user_id for row in wanted}))
    ).all())
    backchannel.sessions_ended(db.session(), [
        (row.client_id, row.sid, subjects[row.user_id]) for row in wanted if row.user_id in subjects
    ])


def note_access_revoked(grant_id: str | None) -> None:
    """One access token of the grant was revoked on its own (see access.validate)."""
    if grant_id is None:
        return
    db.session.execute(
        update(Grant).where(Grant.id == grant_id, Grant.access_revoked_at.is_(None)).values(access_revoked_at=clock.now())
    )
