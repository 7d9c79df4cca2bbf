"""`idp keys rotate-data-key`: re-encrypt every secret at rest under the first key of
IDP_DATA_KEYS, in batches, so an older key can then be removed from the ring.

Each row is rewritten with a conditional UPDATE (the ciphertext it was read with), so a
secret changed meanwhile (a TOTP factor removed, a signing key rotated) is left to the
change, never overwritten with its old value. Re-running is safe: rows already under the
encrypting key are not touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from ..extensions import db
from ..models import RefreshToken, SigningKey, TotpFactor, Upstream
from ..security.keyring import KeyRing


@dataclass(frozen=True)
class Sealed:
    """A column of ciphertexts and the associated data each was sealed with."""

    name: str
    model: Any
    key: Any
    column: Any
    context: Callable[[Any], bytes]


COLUMNS = (
    Sealed("totp_factors", TotpFactor, TotpFactor.id, TotpFactor.secret_encrypted, lambda r: f"totp:{r.user_id}".encode()),
    Sealed("signing_keys", SigningKey, SigningKey.kid, SigningKey.private_jwk_encrypted, lambda r: r.kid.encode()),
    Sealed("upstreams", Upstream, Upstream.id, Upstream.client_secret_encrypted, lambda r: f"upstream:{r.name}".encode()),
    # Successors kept for a client's refresh grace window.
    Sealed("refresh_tokens", RefreshToken, RefreshToken.id, RefreshToken.successor_encrypted,
           lambda r: r.token_hash.encode()),
)


def rotate(keyring: KeyRing, *, batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt; returns how many rows of each table were rewritten."""
    counts = {}
    for sealed in COLUMNS:
        counts[sealed.name] = _rotate_column(keyring, sealed, batch_size)
    return counts


def _rotate_column(keyring: KeyRing, sealed: Sealed, batch_size: int) -> int:
    done, last = 0, None
    current = f"v1.{keyring.primary}.%"
    while True:
        query = select(sealed.model).where(sealed.column.is_not(None), ~sealed.column.like(current))
        if last is not None:
            query = query.where(sealed.key > last)
        rows = db.session.scalars(query.order_by(sealed.key).limit(batch_size)).all()
        for row in rows:
            old = getattr(row, sealed.column.key)
            context = sealed.context(row)
            new = keyring.encrypt(keyring.decrypt(old, context=context), context=context)
            done += db.session.execute(
                update(sealed.model).where(sealed.key == getattr(row, sealed.key.key), sealed.column == old)
                .values({sealed.column.key: new}),
                execution_options={"synchronize_session": False},
            ).rowcount
        db.session.commit()
        if len(rows) < batch_size:
            return done
        last = getattr(rows[-1], sealed.key.key)


def remaining(keyring: KeyRing) -> int:
    """Secrets still under another key than the encrypting one."""
    current = f"v1.{keyring.primary}.%"
    return sum(
        db.session.scalar(select(func.count()).where(sealed.column.is_not(None), ~sealed.column.like(current))) or 0
        for sealed in COLUMNS
    )
