"""One upstream sign-in, start to finish: the authorization request, then, from the
browser's callback, the response, the token exchange, the ID token and the identity."""

from __future__ import annotations

from dataclasses import dataclass

from ..net import Http
from . import authorization, tokens
from .authorization import Started
from .keys import KeySetCache
from .metadata import Metadata, MetadataCache

#: acr values that say a sign-in used more than one factor: the OpenID PAPE policy, and
#: the names this provider and others use (RFC 8176 gives amr `mfa` for the same).
MFA_ACRS = ("http://schemas.openid.net/pape/policies/2007/06/multi-factor", "mfa", "phr", "phrh")


@dataclass(frozen=True)
class Provider:
    """An upstream as the operator configured it (client secret decrypted)."""

    name: str
    issuer: str
    client_id: str
    client_secret: str
    domains: tuple[str, ...] = ()
    trust_mfa: bool = False


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in, from a validated ID token (and UserInfo)."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None = None
    hosted_domain: str | None = None  # Google's `hd`: the Workspace domain of the account
    amr: tuple[str, ...] = ()
    acr: str | None = None

    @property
    def asserts_mfa(self) -> bool:
        return "mfa" in self.amr or self.acr in MFA_ACRS


class UpstreamClient:
    def __init__(self, http: Http):
        self.http = http
        self.metadata = MetadataCache(http)
        self.keys = KeySetCache(http)

    def start(self, provider: Provider, *, redirect_uri: str) -> Started:
        metadata = self.metadata.get(provider.issuer)
        domain = provider.domains[0] if len(provider.domains) == 1 else None
        return authorization.start(metadata, client_id=provider.client_id, redirect_uri=redirect_uri, hosted_domain=domain)

    def finish(
        self, provider: Provider, *, params: dict[str, str], nonce: str, verifier: str, redirect_uri: str, now: int,
    ) -> Identity:
        metadata = self.metadata.get(provider.issuer)
        code = authorization.code_from_response(params, metadata=metadata)
        answer = tokens.exchange_code(self.http, metadata, code=code, verifier=verifier, redirect_uri=redirect_uri,
                                      client_id=provider.client_id, client_secret=provider.client_secret)
        claims = tokens.validate_id_token(
            answer["id_token"], keys=lambda kid: self.keys.get(metadata.jwks_uri, kid), metadata=metadata,
            client_id=provider.client_id, nonce=nonce, now=now,
        )
        if ("email" not in claims or "email_verified" not in claims) and isinstance(answer.get("access_token"), str):
            claims = {**tokens.userinfo(self.http, metadata, access_token=answer["access_token"], subject=claims["sub"]), **claims}
        return identity(metadata, claims)


def identity(metadata: Metadata, claims: dict) -> Identity:
    email = claims.get("email")
    amr = claims.get("amr")
    return Identity(
        issuer=metadata.issuer,
        subject=claims["sub"],
        email=email.strip().lower() if isinstance(email, str) and len(email) <= 320 else None,
        # Some providers write the boolean as a string.
        email_verified=claims.get("email_verified") in (True, "true"),
        name=str(claims["name"])[:200] if isinstance(claims.get("name"), str) else None,
        hosted_domain=claims.get("hd") if isinstance(claims.get("hd"), str) else None,
        amr=tuple(str(v) for v in amr) if isinstance(amr, list) else (),
        acr=claims.get("acr") if isinstance(claims.get("acr"), str) else None,
    )
