from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class Upstream(db.Model):
    """An upstream OpenID provider people may sign in with (Google, or any OIDC provider).
    Its endpoints come from its discovery document; only what the operator said is here."""

    __tablename__ = "upstreams"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Lower-case letters, digits and dashes: it appears in URLs and element ids.
    name: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    #: Exactly as the provider's discovery document and ID tokens spell it.
    issuer: Mapped[str] = mapped_column(String(255), unique=True)
    client_id: Mapped[str] = mapped_column(String(255))
    #: Encrypted with the IDP_DATA_KEYS key ring, bound to the upstream's name.
    client_secret_encrypted: Mapped[str] = mapped_column(Text)
    #: Allowed email domains (Google's `hd`); empty: any.
    domains: Mapped[list] = mapped_column(JSON, default=list)
    #: Whether the provider's own multi-factor sign-in, when it asserts one, counts as ours.
    trust_mfa: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)


class UpstreamLink(db.Model):
    """A person's identity at an upstream: by its `iss` and `sub`, never by email alone."""

    __tablename__ = "upstream_links"
    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_upstream_links_identity"),
        UniqueConstraint("user_id", "upstream_id", name="uq_upstream_links_user_upstream"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    upstream_id: Mapped[int] = mapped_column(ForeignKey("upstreams.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    #: The upstream's verified email when the link was made (shown on the account page).
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)
