from __future__ import annotations

from sqlalchemy import BigInteger, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class SigningKey(db.Model):
    """A JWS signing key. Life cycle: next -> active -> retired (see idp.keys.rotation)."""

    __tablename__ = "signing_keys"
    # One active and one next key per algorithm, even when two processes start at once.
    __table_args__ = (
        Index(
            "uq_signing_keys_alg_state", "alg", "state", unique=True,
            sqlite_where=text("state != 'retired'"), postgresql_where=text("state != 'retired'"),
        ),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    public_jwk: Mapped[str] = mapped_column(Text)
    #: The private JWK, encrypted with the IDP_DATA_KEYS key ring.
    private_jwk_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    activated_at: Mapped[int | None] = mapped_column(BigInteger)
    retired_at: Mapped[int | None] = mapped_column(BigInteger)
