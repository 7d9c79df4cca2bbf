from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from ..emails import normalize_for_lookup
from ..extensions import db


def normalize_email(email: str) -> str:
    """Emails are matched case-insensitively (INTERFACE.md), in Unicode's composed form."""
    return normalize_for_lookup(email)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A random, never-reused subject identifier: `sub` must not leak the row id or change.
    subject: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Account policy: every sign-in needs a second factor, enrolled at the first one if need be.
    mfa_required: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    #: Sessions carry the epoch they began in; raising it ends them all (disable, password
    #: reset, second factors reset).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_login_at: Mapped[int | None] = mapped_column(BigInteger)
    #: Imported without a hash: the password is still with the old system, and the legacy
    #: verifier (IDP_LEGACY_VERIFIER_URL) checks it once, at the first sign-in here.
    legacy_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The language of their mail ("en" or "ja"): their invitation's, then what they chose
    #: on the language switch while signed in. None: the language of the request at hand.
    locale: Mapped[str | None] = mapped_column(String(8))

    @property
    def can_sign_in(self) -> bool:
        return not self.disabled and self.password_hash is not None
