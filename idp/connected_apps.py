"""A person's connected apps: the clients holding a live grant of theirs, and revoking one
(which ends every refresh token of its grants; their access tokens fail at userinfo and
introspection at once)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from . import audit, clock
from .extensions import db
from .models import Client, Grant
from .oauth import revocation


@dataclass(frozen=True)
class ConnectedApp:
    client_id: str
    name: str
    client_uri: str | None
    scopes: list[str]
    since: int  # the first live grant
    last: int  # the latest sign-in through it


def of(user_id: int) -> list[ConnectedApp]:
    now = clock.now()
    rows = db.session.execute(
        select(Grant.client_id, Grant.scope, Grant.created_at, Client.name, Client.client_uri)
        .join(Client, Client.client_id == Grant.client_id)
        .where(Grant.user_id == user_id, Grant.revoked_at.is_(None), Grant.expires_at > now)
        .order_by(Grant.created_at)
    ).all()
    apps: dict[str, dict] = {}
    for client_id, scope, created_at, name, client_uri in rows:
        app = apps.setdefault(client_id, {"name": name, "uri": client_uri, "scopes": [], "since": created_at, "last": created_at})
        app["scopes"] += [s for s in scope.split() if s not in app["scopes"]]
        app["last"] = max(app["last"], created_at)
    return sorted((ConnectedApp(cid, a["name"], a["uri"], a["scopes"], a["since"], a["last"]) for cid, a in apps.items()),
                  key=lambda a: a.name.lower())


def revoke(user_id: int, client_id: str, *, ip: str | None) -> int:
    """Revoke every live grant the person gave this client; how many there were."""
    grant_ids = db.session.scalars(
        select(Grant.id).where(Grant.user_id == user_id, Grant.client_id == client_id, Grant.revoked_at.is_(None))
    ).all()
    for grant_id in grant_ids:
        revocation.revoke_grant(grant_id, reason="revoked_by_user")
    if grant_ids:
        audit.emit("grant.revoked_by_user", user_id=user_id, client_id=client_id, ip=ip, grants=len(grant_ids))
    return len(grant_ids)
