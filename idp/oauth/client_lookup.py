"""Registered clients as the protocol endpoints see them: immutable copies of their rows,
cached in each process (idp.cache) so that a token request costs no statement for its client.

A change made anywhere (CLI, console) bumps the `clients` version when it commits
(idp.changes), and every process drops its copies within a second.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, select

from ..cache import VersionedCache, Versions
from ..direct_sql import read_row
from ..extensions import db
from ..models import Client
from ..models.oauth import ClientRules

_COLUMNS = tuple(c.key for c in Client.__table__.columns)


class RegisteredClient(ClientRules):
    """A read-only copy of a `clients` row (every column, lists as tuples)."""

    def __init__(self, row: Any):
        for name in _COLUMNS:
            value = getattr(row, name)
            object.__setattr__(self, name, tuple(value) if isinstance(value, list) else value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a registered client is read-only; change the row and commit")

    @cached_property
    def cors_origins(self) -> set[str]:  # type: ignore[override]
        return ClientRules.cors_origins.fget(self)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"<RegisteredClient {self.client_id}>"


_CLIENT = select(*Client.__table__.columns).where(Client.__table__.c.client_id == bindparam("client_id"))


def _load(client_id: object) -> RegisteredClient | None:
    row = read_row(_CLIENT, {"client_id": client_id})
    return RegisteredClient(row) if row is not None else None


def _load_public_origins(_: object) -> frozenset[str]:
    rows = db.session.scalars(select(Client).where(Client.is_public.is_(True)))
    return frozenset(origin for row in rows for origin in row.cors_origins)


class ClientDirectory:
    def __init__(self, versions: Versions):
        self.clients: VersionedCache[RegisteredClient] = VersionedCache("clients", versions, _load)
        self.origins: VersionedCache[frozenset[str]] = VersionedCache("clients", versions, _load_public_origins)


def _directory() -> ClientDirectory:
    return current_app.extensions["idp.clients"]


def find(client_id: str | None) -> RegisteredClient | None:
    if not client_id or len(client_id) > 64 or "\x00" in client_id:
        return None  # (a Basic header can carry what a form check cannot see)
    return _directory().clients.get(client_id)


def public_origins() -> frozenset[str]:
    """Every origin of a public client's redirect URIs (CORS preflights and refusals)."""
    return _directory().origins.get("all") or frozenset()
