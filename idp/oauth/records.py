"""What the token path reads, as small immutable records rather than ORM objects: one Core
statement fills each, and nothing is lazily loaded behind the caller's back."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Table


@dataclass(frozen=True)
class PersonRecord:
    """The person a token speaks for: what tokens and userinfo say about them."""

    id: int
    subject: str
    email: str
    name: str | None
    disabled: bool


@dataclass(frozen=True)
class GrantRecord:
    """One authorization (see models.Grant): the authentication behind every token of it."""

    id: str
    user_id: int
    client_id: str
    scope: str
    auth_time: int
    acr: str
    amr: list
    sid: str | None
    expires_at: int
    revoked_at: int | None = None
    dpop_jkt: str | None = None

    def columns(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class RedeemedCode:
    """An authorization code this request has just taken (authlib's AuthorizationCodeMixin)."""

    code_hash: str
    client_id: str
    user_id: int
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    auth_time: int
    acr: str
    amr: list
    sid: str | None
    grant_id: str
    id_token_claims: list | None
    dpop_jkt: str | None
    #: Its person, read by the statement that takes the code (None: no longer exists).
    person: PersonRecord | None = None

    PERSON = ("subject", "email", "name", "disabled")

    @staticmethod
    def COLUMNS(codes: Table) -> list:  # noqa: N802
        return [codes.c[f.name] for f in fields(RedeemedCode) if f.name != "person"]

    @classmethod
    def from_row(cls, row: Any) -> RedeemedCode:
        m = row._mapping
        own = {f.name: m[f.name] for f in fields(cls) if f.name != "person"}
        person = None
        if m["u_subject"] is not None:
            person = PersonRecord(id=own["user_id"], **{n: m[f"u_{n}"] for n in cls.PERSON})
        return cls(**own, person=person)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


_TOKEN = ("id", "token_hash", "grant_id", "client_id", "scope", "issued_at", "rotated_at", "successor_encrypted")
_GRANT = ("user_id", "auth_time", "acr", "amr", "sid", "expires_at", "revoked_at", "dpop_jkt")
_PERSON = ("subject", "email", "name", "disabled")


@dataclass(frozen=True)
class PresentedRefreshToken:
    """A refresh token as presented, with its grant and person (one joined read)."""

    id: int
    token_hash: str
    grant_id: str
    client_id: str
    scope: str
    issued_at: int
    rotated_at: int | None
    successor_encrypted: str | None
    grant: GrantRecord
    person: PersonRecord

    @staticmethod
    def COLUMNS(tokens: Table, grants: Table, users: Table) -> list:  # noqa: N802
        return (
            [tokens.c[n] for n in _TOKEN]
            + [grants.c[n].label(f"g_{n}") for n in _GRANT]
            + [users.c[n].label(f"u_{n}") for n in _PERSON]
        )

    @classmethod
    def from_row(cls, row: Any) -> PresentedRefreshToken:
        m = row._mapping
        grant = GrantRecord(
            id=m["grant_id"], client_id=m["client_id"], scope=m["scope"],
            **{n: m[f"g_{n}"] for n in _GRANT},
        )
        person = PersonRecord(id=grant.user_id, **{n: m[f"u_{n}"] for n in _PERSON})
        return cls(**{n: m[n] for n in _TOKEN}, grant=grant, person=person)

    # --- authlib's refresh-token interface -------------------------------------------
    def check_client(self, client: Any) -> bool:
        return self.client_id == client.client_id

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True)
class SignedInPerson:
    """The session's person as an authorization request needs them: who, whether they may
    still sign in, and which second factors they have (one statement, see web.session)."""

    id: int
    subject: str
    disabled: bool
    session_epoch: int
    mfa_required: bool
    #: An authenticator app or an unused recovery code, as in mfa.enrolled.
    has_otp: bool
    has_webauthn: bool

    @property
    def enrolled(self) -> set[str]:
        """As mfa.enrolled: amr values of the second factors."""
        return {kind for kind, present in (("otp", self.has_otp), ("hwk", self.has_webauthn)) if present}
