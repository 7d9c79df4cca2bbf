"""Recovery codes: ten per set, shown once, stored hashed, each good once."""

from __future__ import annotations

import base64
import secrets

from sqlalchemy import delete, update

from .. import clock
from ..extensions import db
from ..models import RecoveryCode
from ..security.tokens import token_hash

COUNT = 10


def _normalize(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def discard(user_id: int) -> None:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


def generate(user_id: int) -> list[str]:
    """A new set; the old set dies. 80 random bits per code (16 base32 characters), so a
    stolen table of hashes cannot be brute-forced back."""
    discard(user_id)
    now = clock.now()
    codes = []
    for _ in range(COUNT):
        raw = base64.b32encode(secrets.token_bytes(10)).decode()
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
        db.session.add(RecoveryCode(user_id=user_id, code_hash=token_hash(raw), created_at=now))
    return codes


def consume(*, user_id: int, code: str) -> bool:
    """Use one code; a conditional UPDATE makes a race of two uses yield one success."""
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == token_hash(_normalize(code)),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=clock.now())
    ).rowcount
    return used == 1
