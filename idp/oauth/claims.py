"""Which claims about the person each token carries: the scopes' claims (OIDC Core §5.4)
at userinfo, and in the ID token those the `claims` request parameter asks for (§5.5),
never more than the granted scopes release."""

from __future__ import annotations

import json
from typing import Any, Protocol

from authlib.oauth2.rfc6749 import InvalidRequestError

#: OIDC Core §5.4: the claims each scope releases (of those this provider knows).
SCOPE_CLAIMS = {"profile": ("name",), "email": ("email", "email_verified")}


class Person(Protocol):
    subject: str
    email: str
    name: str | None


def released(scope: str) -> set[str]:
    """The person's claims the granted `scope` allows."""
    return {claim for s in scope.split() for claim in SCOPE_CLAIMS.get(s, ())}


def claims_for(person: Person, scopes: set[str]) -> dict[str, Any]:
    """The userinfo response: `sub` and what the scopes release."""
    claims: dict[str, Any] = {"sub": person.subject}
    if "profile" in scopes:
        claims["name"] = person.name or person.email
    if "email" in scopes:
        # Only invited (mail received) or admin-created accounts exist: the address is known.
        claims["email"] = person.email
        claims["email_verified"] = True
    return claims


def requested_for_id_token(claims_param: str | None, scope: str) -> list[str] | None:
    """The person's claims that `claims.id_token` asks for and the scope releases, sorted;
    None when it asks for none. (A claim the scope does not release is left out, not an
    error: §5.5 makes even essential claims best effort.)"""
    if not claims_param:
        return None
    try:
        parsed = json.loads(claims_param)
    except ValueError:
        raise InvalidRequestError("claims is not valid JSON") from None
    section = parsed.get("id_token") if isinstance(parsed, dict) else None
    if section is None:
        return None
    if not isinstance(section, dict):
        raise InvalidRequestError("claims.id_token must be a JSON object")
    names = sorted(set(section) & released(scope))
    return names or None


def id_token_claims(person: Person, names: list[str] | None) -> dict[str, Any]:
    """The values of the requested claims for the ID token."""
    if not names:
        return {}
    values = claims_for(person, {"profile", "email"})
    return {name: values[name] for name in names if name in values}
