"""Validating our own access tokens where we are the resource server (userinfo,
introspection)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from .. import clock
from ..extensions import db
from ..models import User
from ..store import denylist
from . import jwt, revocation


@dataclass(frozen=True)
class AccessToken:
    claims: dict
    user: User | None


def validate(token: str) -> AccessToken | None:
    """The token's claims if it is ours, unexpired, unrevoked and its person active."""
    keys = current_app.extensions["idp.keys"]
    try:
        _, claims = jwt.verify(keys, token, typ="at+jwt")
    except jwt.InvalidToken:
        return None
    now = clock.now()
    if claims.get("iss") != current_app.config["IDP_ISSUER"]:
        return None
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        return None
    jti = claims.get("jti")
    if not isinstance(jti, str) or denylist.contains(jti) or not revocation.grant_is_live(jti):
        return None
    user = None
    if "auth_time" in claims:  # issued to a person, not to a client on its own behalf
        user = db.session.query(User).filter_by(subject=claims.get("sub")).first()
        if user is None or user.disabled:
            return None
    return AccessToken(claims=claims, user=user)
