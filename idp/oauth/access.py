"""Validating our own access tokens where we are the resource server (userinfo,
introspection)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, select

from .. import clock
from ..direct_sql import read_row
from ..models import Grant, User
from ..store import denylist
from . import client_lookup, jwt
from .records import PersonRecord

GRANTS = Grant.__table__
USERS = User.__table__

# Built once: a statement object reused with new parameters skips its construction and
# the computation of its compiled-cache key on every request.
_GRANT_AND_PERSON = (
    select(GRANTS.c.revoked_at, GRANTS.c.access_revoked_at, GRANTS.c.client_id, USERS.c.id, USERS.c.subject,
           USERS.c.email, USERS.c.name, USERS.c.disabled)
    .join(USERS, USERS.c.id == GRANTS.c.user_id)
    .where(GRANTS.c.id == bindparam("grant_id"))
)


@dataclass(frozen=True)
class AccessToken:
    claims: dict
    user: PersonRecord | None


#: The shapes of the `jti`s we issue (tokens.access_token): a grant id and a random part, or
#: for client_credentials a random value alone. Anything else was not made here.
_GRANT_JTI = re.compile(r"([A-Za-z0-9_-]{16,32})\.[A-Za-z0-9_-]{16}")
_CLIENT_JTI = re.compile(r"[A-Za-z0-9_-]{22}")


def grant_of(jti: object) -> str | None:
    """The grant an access token belongs to: its `jti` starts with the grant id
    (tokens.access_token). client_credentials tokens have none."""
    if not isinstance(jti, str) or "." not in jti:
        return None
    return jti.split(".", 1)[0]


def _issued_here(claims: dict, now: int) -> bool:
    """What a token signed with a leaked key would get wrong (issue 9, item 14): a lifetime
    longer than ours, a time in the future, a `jti` of another shape."""
    iat, exp, jti = claims.get("iat"), claims.get("exp"), claims.get("jti")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (iat, exp)) or not isinstance(jti, str):
        return False
    if exp - iat > current_app.config["IDP_ACCESS_TOKEN_TTL"] or iat > now + CLOCK_SKEW:
        return False
    return bool(_GRANT_JTI.fullmatch(jti) or _CLIENT_JTI.fullmatch(jti))


#: Seconds another of our processes' clock may run ahead.
CLOCK_SKEW = 60


def validate(token: str) -> AccessToken | None:
    """The token's claims if it is ours, unexpired, unrevoked and its person active.

    A token of a grant costs one statement (the grant and its person), and a look among the
    individually revoked tokens only if the grant ever had one revoked (RFC 7009).
    client_credentials tokens have no grant: they are always looked up there."""
    keys = current_app.extensions["idp.keys"]
    try:
        _, claims = jwt.verify(keys, token, typ="at+jwt")
    except jwt.InvalidToken:
        return None
    now = clock.now()
    if claims.get("iss") != current_app.config["IDP_ISSUER"]:
        return None
    if not _issued_here(claims, now) or claims["exp"] <= now:
        return None
    jti = claims["jti"]
    grant_id = grant_of(jti)
    if grant_id is None:
        # Only client_credentials tokens have no grant: they speak for the client itself.
        if "auth_time" in claims or claims.get("sub") != claims.get("client_id") or denylist.contains(jti):
            return None
        if client_lookup.find(str(claims.get("client_id"))) is None:
            return None
        return AccessToken(claims=claims, user=None)
    row = read_row(_GRANT_AND_PERSON, {"grant_id": grant_id})
    if (row is None or row.revoked_at is not None or row.disabled or row.subject != claims.get("sub")
            or row.client_id != claims.get("client_id")):
        return None
    if row.access_revoked_at is not None and denylist.contains(jti):
        return None
    return AccessToken(claims=claims, user=PersonRecord(row.id, row.subject, row.email, row.name, row.disabled))
