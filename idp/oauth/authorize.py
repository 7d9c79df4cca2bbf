"""The authorization request (RFC 6749 §4.1.1, OIDC Core 3.1.2.1) as a pipeline of checks.

The order matters (node-oidc-provider's rule): until the client and its redirect URI are
verified, an error is shown to the person and never redirected anywhere; after that,
errors go back to the client.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError
from flask import current_app

from ..authn import acr as acrs
from ..models import Client, User
from ..extensions import db
from . import dpop, jwt, pkce
from .server import AuthorizationServer, StoredAuthorizationRequest

RESPONSE_MODES = ("query", "form_post")

#: The parameters of an authorization request that we read (RFC 6749 §4.1.1, OIDC Core
#: 3.1.2.1, RFC 7636 §4.3, RFC 9449 §10), each with the longest value accepted. Anything
#: else is ignored (RFC 6749 §3.1) and never stored: a pending flow costs a few KB of
#: Redis, whatever the request carries (issue 9, item 1).
PARAMETERS = {
    "response_type": 32,
    "client_id": 64,
    "redirect_uri": 2048,
    "scope": 1024,
    "state": 2048,
    "response_mode": 32,
    "nonce": 512,
    "display": 16,
    "prompt": 64,
    "max_age": 10,
    "ui_locales": 128,
    "claims_locales": 128,
    "id_token_hint": 4096,
    "login_hint": 320,
    "acr_values": 256,
    "claims": 2048,
    "code_challenge": 128,
    "code_challenge_method": 16,
    "dpop_jkt": 128,
    # Refused by validate() (OIDC Core 6), never stored; bounded like the rest.
    "request": 8192,
    "request_uri": 2048,
}
PROMPTS = {"none", "login", "consent", "select_account"}


class AuthorizationError(OAuth2Error):
    """An error with an OIDC error code authlib has no class for."""

    def __init__(self, error: str, description: str | None = None):
        super().__init__(description=description, error=error)


@dataclass
class AuthorizationRequest:
    """A validated authorization request, ready for the login policy."""

    params: dict[str, str]
    client: Client
    redirect_uri: str
    response_mode: str
    state: str | None
    scope: str
    prompts: set[str] = field(default_factory=set)
    max_age: int | None = None
    acr: str | None = None  # the floor from acr_values, essential claims and the client
    hint_user_id: int | None = None
    login_hint: str | None = None
    grant: object = None  # authlib's grant, which issues the code


def request_parameters(values: dict[str, list[str]]) -> dict[str, str]:
    """The known parameters, each once (RFC 6749 §3.1) and within its length; unknown ones
    are dropped. Raised before the client is known, so an error is a page (400)."""
    params = {}
    for name, given in values.items():
        limit = PARAMETERS.get(name)
        if limit is None:
            continue
        if len(given) > 1:
            raise InvalidRequestError(f"parameter repeated: {name}")
        value = given[0]
        if len(value) > limit:
            raise InvalidRequestError(f"{name} is longer than {limit} characters")
        if any(unicodedata.category(c) == "Cc" for c in value):
            raise InvalidRequestError(f"{name} contains a control character")
        if name in WORDS and not _WORDS.fullmatch(value):
            # Echoed by the error that refuses them, whose text allows only this (RFC 6749 §4.1.2.1).
            raise InvalidRequestError(f"{name} is not a valid value")
        params[name] = value
    return params


#: Parameters whose values are words from a short list (RFC 6749 §3.1.1, OIDC Core 3.1.2.1)
#: and are quoted in the description of the error that refuses them.
WORDS = {"response_type", "prompt"}
_WORDS = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")


def validate(server: AuthorizationServer, params: dict[str, str], uri: str) -> AuthorizationRequest:
    client = server.query_client(params.get("client_id", ""))
    if client is None:
        raise InvalidRequestError("unknown client_id")
    redirect_uri = params.get("redirect_uri")
    # OIDC Core 3.1.2.1: redirect_uri is REQUIRED; authlib would fall back to a default.
    if not redirect_uri:
        raise InvalidRequestError("redirect_uri is required")
    if not client.check_redirect_uri(redirect_uri):
        raise InvalidRequestError("redirect_uri is not registered for this client")

    # From here on errors are redirected to the verified redirect_uri.
    state = params.get("state")
    mode = params.get("response_mode") or "query"
    try:
        if mode not in RESPONSE_MODES:
            mode = "query"
            raise InvalidRequestError("response_mode must be query or form_post")
        # OIDC Core 6: we support neither request objects nor request_uri, and say so
        # rather than silently ignoring them.
        if "request" in params:
            raise AuthorizationError("request_not_supported", "request objects are not supported")
        if "request_uri" in params:
            raise AuthorizationError("request_uri_not_supported", "request_uri is not supported")
        grant = server.get_consent_grant(request=StoredAuthorizationRequest(params, uri))
        if not grant.request.scope:
            raise InvalidScopeError("none of the requested scopes is allowed for this client")
        pkce.check_challenge(
            params.get("code_challenge"), params.get("code_challenge_method"),
            required=client.pkce_required or client.is_public, nonce=params.get("nonce"), scope=grant.request.scope,
        )
        dpop.check_jkt_parameter(params.get("dpop_jkt"))
        req = AuthorizationRequest(
            params=params,
            client=client,
            redirect_uri=redirect_uri,
            response_mode=mode,
            state=state,
            scope=grant.request.scope,
            grant=grant,
        )
        req.prompts = _prompts(params.get("prompt"))
        req.max_age = _max_age(params.get("max_age"))
        if "login" in req.prompts:
            req.max_age = 0
        req.acr = acrs.strongest(
            [acrs.minimum_requested(params.get("acr_values")), _essential_acr(params.get("claims")), client.min_acr]
        )
        req.hint_user_id = _hinted_user(params.get("id_token_hint"))
        req.login_hint = params.get("login_hint") or None
        return req
    except OAuth2Error as error:
        error.redirect_uri = redirect_uri
        error.state = state
        error.response_mode = mode  # type: ignore[attr-defined]
        raise


def _prompts(value: str | None) -> set[str]:
    prompts = set((value or "").split())
    if "create" in prompts:
        # Accounts exist only by invitation: there is no sign-up to prompt for.
        raise InvalidRequestError("prompt=create is not supported: accounts are invitation-only")
    unknown = prompts - PROMPTS
    if unknown:
        raise InvalidRequestError(f"unsupported prompt value: {sorted(unknown)[0]}")
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values")
    return prompts


def _max_age(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        raise InvalidRequestError("max_age must be a non-negative integer")
    return int(value)


def _essential_acr(claims: str | None) -> str | None:
    """OIDC Core 5.5.1.1: an essential `acr` claim with `values` (or `value`) is a demand."""
    if not claims:
        return None
    try:
        parsed = json.loads(claims)
    except ValueError:
        raise InvalidRequestError("claims is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise InvalidRequestError("claims must be a JSON object")
    floors = []
    for where in ("id_token", "userinfo"):
        section = parsed.get(where)
        if section is not None and not isinstance(section, dict):
            raise InvalidRequestError(f"claims.{where} must be a JSON object")
        spec = (section or {}).get("acr")
        if isinstance(spec, dict) and spec.get("essential"):
            values = spec.get("values") or ([spec["value"]] if "value" in spec else [])
            if not isinstance(values, list):
                raise InvalidRequestError("claims acr values must be a list")
            floors.append(acrs.minimum_requested(" ".join(str(v) for v in values)))
    return acrs.strongest(floors)


def _hinted_user(id_token_hint: str | None) -> int | None:
    if not id_token_hint:
        return None
    try:
        header, claims = jwt.verify(current_app.extensions["idp.keys"], id_token_hint)
    except jwt.InvalidToken:
        raise InvalidRequestError("id_token_hint is not a valid ID token of this issuer") from None
    if header.get("typ") == "at+jwt" or claims.get("iss") != current_app.config["IDP_ISSUER"]:
        raise InvalidRequestError("id_token_hint is not a valid ID token of this issuer")
    user = db.session.query(User).filter_by(subject=claims.get("sub")).first()
    if user is None:
        raise InvalidRequestError("id_token_hint names no known subject")
    return user.id
