from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..security.tokens import hashes_equal, token_hash


class ClientRules:
    """What a client may do, from its registration: authlib's ClientMixin and our rules.

    Shared by the database row and the immutable snapshot the token path caches
    (oauth.client_lookup), so both answer the same."""

    client_id: str
    client_secret_hash: str | None
    redirect_uris: list
    post_logout_redirect_uris: list
    scope: str
    is_public: bool
    pkce_required: bool
    refresh_tokens_always: bool
    dpop_bound: bool

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        # redirect_uri is required on every request (OIDC Core 3.1.2.1): no fallback.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.scope.split()
        if not scope:
            return " ".join(allowed)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # RFC 9700 §4.1.3: exact string comparison, no pattern or prefix matching.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret_hash is None:
            return False
        return hashes_equal(self.client_secret_hash, token_hash(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            return not self.is_public
        return grant_type in ("authorization_code", "refresh_token")

    @property
    def client_metadata(self) -> dict:
        return {"post_logout_redirect_uris": self.post_logout_redirect_uris}

    @property
    def cors_origins(self) -> set[str]:
        """A public client's registered origins: those of its redirect URIs."""
        if not self.is_public:
            return set()
        origins = set()
        for uri in self.redirect_uris:
            parts = urlsplit(uri)
            if parts.scheme in ("http", "https") and parts.netloc:
                origins.add(f"{parts.scheme}://{parts.netloc}")
        return origins


class Client(ClientRules, db.Model):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: SHA-256 of the secret; None for a public client.
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list] = mapped_column(JSON)
    scope: Mapped[str] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    min_acr: Mapped[str | None] = mapped_column(String(16))
    #: Seconds in which a repeated refresh with the same token gets the same successor
    #: instead of revoking the grant (clients.create chooses the default by client type).
    refresh_grace_seconds: Mapped[int] = mapped_column(Integer, default=0)
    #: False only for a confidential client that relies on `nonce` instead (RFC 9700 §2.1.1).
    pkce_required: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: A refresh token even when the request did not ask for offline_access (OIDC Core §11).
    refresh_tokens_always: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Where Back-Channel Logout 1.0 sends its logout tokens (None: not registered).
    backchannel_logout_uri: Mapped[str | None] = mapped_column(Text)
    #: Every token request must carry a DPoP proof (RFC 9449): no bearer tokens at all.
    dpop_bound: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[int] = mapped_column(BigInteger)
    #: Shown on the sign-in pages (RFC 7591 §2's names): the app's home page and logo.
    client_uri: Mapped[str | None] = mapped_column(Text)
    logo_uri: Mapped[str | None] = mapped_column(Text)


class Grant(db.Model):
    """One authorization given by a person to a client: the family of every token it led to.

    Revoking the grant revokes its refresh tokens and makes its access tokens fail at
    userinfo and introspection (their `jti` starts with the grant id).
    """

    __tablename__ = "grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(Text)
    #: The authentication behind it, carried unchanged into refreshed tokens.
    auth_time: Mapped[int] = mapped_column(BigInteger)
    acr: Mapped[str] = mapped_column(String(16))
    amr: Mapped[list] = mapped_column(JSON)
    sid: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    #: Absolute end of the refresh-token family: rotation never extends it. Indexed for
    #: `idp purge`, which deletes the families past it.
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    revoked_reason: Mapped[str | None] = mapped_column(String(64))
    #: When one of its access tokens was revoked on its own (RFC 7009): from then on, its
    #: access tokens are also checked against the revoked ones (store.denylist). Until
    #: then, validating them needs nothing but this row.
    access_revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    #: A public client's DPoP key (RFC 7638 thumbprint): its refresh tokens need a proof of it.
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))


class AuthorizationCode(db.Model):
    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text)
    #: None when the client's PKCE is optional and the request sent none (a nonce did).
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    auth_time: Mapped[int] = mapped_column(BigInteger)
    acr: Mapped[str] = mapped_column(String(16))
    amr: Mapped[list] = mapped_column(JSON)
    sid: Mapped[str | None] = mapped_column(String(64))
    #: The person's claims the `claims` parameter asked the ID token for (OIDC Core §5.5).
    id_token_claims: Mapped[list | None] = mapped_column(JSON)
    #: The `dpop_jkt` of the authorization request: the code is redeemed only with a proof
    #: of that key (RFC 9449 §10).
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    #: Set atomically by the one redemption that wins; later ones see it and revoke.
    used_at: Mapped[int | None] = mapped_column(BigInteger)
    grant_id: Mapped[str | None] = mapped_column(String(32))

    # --- authlib's AuthorizationCodeMixin -----------------------------------------
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class RefreshToken(db.Model):
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    grant_id: Mapped[str] = mapped_column(
        ForeignKey("grants.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    #: Set atomically by the one rotation that wins.
    rotated_at: Mapped[int | None] = mapped_column(BigInteger)
    #: The successor, encrypted, kept only while the client's grace window lasts, so a
    #: retry gets the same successor instead of revoking the family.
    successor_encrypted: Mapped[str | None] = mapped_column(Text)

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope
