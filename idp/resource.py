"""A resource server's side of this provider: verify its JWT access tokens (RFC 9068) and
ask for step-up authentication when a token is not strong or recent enough (RFC 9470).

The core is framework-free and needs only the standard library and joserfc:

* `JwksCache` fetches and caches the provider's JWKS (RFC 7517), looking it up again once
  when a token names a key it does not know (rate-limited);
* `AccessTokenVerifier.verify` checks an access token as RFC 9068 §4 asks;
* `check_authentication` says whether the claims meet a route's `acr` / `max_age`;
* `www_authenticate` builds RFC 6750 §3 / RFC 9470 §3 challenges.

`ResourceServer` wraps these for Flask (imported only when a decorated view runs)::

    rs = ResourceServer("https://id.example.com")

    @app.get("/api/payment")
    @rs.require_token(scope="payments", acr="mfa", max_age=300)
    def payment():
        return {"sub": g.token_claims["sub"]}

Nothing here touches the provider's database, Redis or application: a resource server sees
only what any stranger sees over HTTP (the JWKS, optionally the discovery document).
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import import_key

# The ordering pwd < mfa < phr is the provider's (INTERFACE.md); one definition, not two.
from idp.authn import acr as acr_levels

__all__ = [
    "ACCEPTED_ALGS",
    "AccessTokenVerifier",
    "InvalidToken",
    "JwksCache",
    "KeySetUnavailable",
    "ResourceServer",
    "Shortfall",
    "check_authentication",
    "www_authenticate",
]

#: The algorithms the provider signs with (idp/oauth/jwt.py). An allow-list, so `none` and
#: the HMAC algorithms (with which a forger would use the public key as the shared secret)
#: can never be chosen by the token itself (RFC 8725 §3.1).
ACCEPTED_ALGS: tuple[str, ...] = ("RS256", "ES256", "EdDSA")

#: RFC 9068 §4: "at+jwt", or the full media type "application/at+jwt" (RFC 7515 §4.1.9
#: lets the "application/" prefix be left out; media types compare case-insensitively).
ACCESS_TOKEN_TYPES = ("at+jwt", "application/at+jwt")

#: RFC 9068 §2.2: claims every JWT access token carries.
REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")

# Which key may verify which algorithm (RFC 7518 §3.3-3.4, RFC 8037 §3.1). Checked before
# joserfc sees the key, so a JWK can never be used with an algorithm it was not made for.
_KEY_KINDS: dict[str, tuple[str, frozenset[str | None]]] = {
    "RS256": ("RSA", frozenset({None})),
    "ES256": ("EC", frozenset({"P-256"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}

#: A JWKS is a few kilobytes; refuse to read an unbounded answer.
_MAX_JWKS_BYTES = 1 << 20


def _now() -> float:
    """Wall-clock seconds (tests monkeypatch this)."""
    return time.time()


class InvalidToken(Exception):
    """The token is not one this resource server accepts (RFC 6750 §3.1 `invalid_token`)."""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


class KeySetUnavailable(Exception):
    """The JWKS could not be fetched and no copy is cached: nothing can be verified now.
    Not the token's fault, so not `invalid_token` (a client would throw a good token away)."""


# --- the key set --------------------------------------------------------------------------

Fetch = Callable[[str], Mapping[str, Any]]


def fetch_json(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """GET a JSON object over HTTP(S) with the standard library."""
    if urlsplit(url).scheme not in ("http", "https"):
        # urllib would also open file:// and ftp:// URLs; a key set never lives there.
        raise ValueError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked)
        body = response.read(_MAX_JWKS_BYTES + 1)
    if len(body) > _MAX_JWKS_BYTES:
        raise ValueError(f"{url} answered more than {_MAX_JWKS_BYTES} bytes")
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError(f"{url} did not answer a JSON object")
    return data


@dataclass(frozen=True)
class _Keys:
    by_kid: Mapping[str, Any]  # kid -> joserfc key
    without_kid: tuple[Any, ...]
    fetched_at: float  # monotonic

    def find(self, kid: str | None, alg: str) -> Any | None:
        if kid is not None:
            key = self.by_kid.get(kid)
            return key if key is not None and _usable(key, alg) else None
        # RFC 7515 §4.1.4 makes kid optional: without one, accept only an unambiguous key.
        candidates = [k for k in (*self.by_kid.values(), *self.without_kid) if _usable(k, alg)]
        return candidates[0] if len(candidates) == 1 else None


def _usable(key: Any, alg: str) -> bool:
    """May `key` verify a signature made with `alg`? (RFC 7517 §4.2-4.4: use, key_ops, alg.)"""
    kty, curves = _KEY_KINDS[alg]
    if key.key_type != kty or key.get("crv") not in curves:
        return False
    if key.get("use") not in (None, "sig"):
        return False
    ops = key.get("key_ops")
    if ops is not None and "verify" not in ops:
        return False
    return key.get("alg") in (None, alg)


def _parse_jwks(document: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[Any, ...]]:
    keys = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(keys, list):
        raise ValueError('the JWKS has no "keys" array')
    by_kid: dict[str, Any] = {}
    without_kid: list[Any] = []
    for data in keys:
        # RFC 7517 §5: skip keys we cannot use rather than failing the whole set.
        if not isinstance(data, dict) or "d" in data:  # a private key has no place in a JWKS
            continue
        try:
            key = import_key(data)
        except (JoseError, ValueError, TypeError, KeyError):
            continue
        kid = data.get("kid")
        if isinstance(kid, str):
            by_kid.setdefault(kid, key)
        else:
            without_kid.append(key)
    return by_kid, tuple(without_kid)


class JwksCache:
    """The provider's JWKS, cached for `ttl` seconds; thread-safe. A key the provider
    revoked (`idp keys revoke`) verifies nothing once the copy is older than `ttl`: one
    minute by default, as the provider's JWKS says in its Cache-Control.

    A token naming an unknown `kid` makes it look the set up again once, because the
    provider may have published a key since (OIDC Core §10.1.1 expects verifiers to do so on
    rotation). At most one fetch happens every `min_refetch_interval` seconds, so a flood of
    tokens with made-up kids cannot turn the resource server into a proxy hammering the
    provider. If a fetch fails, the previous copy stays in use.

    `jwks_uri` may be a zero-argument callable, resolved at the first fetch (discovery).
    `fetch` replaces the HTTP GET (tests, custom transports); `monotonic` the clock.
    """

    def __init__(
        self,
        jwks_uri: str | Callable[[], str],
        *,
        ttl: float = 60,
        min_refetch_interval: float = 10,
        timeout: float = 5.0,
        fetch: Fetch | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._uri = jwks_uri
        self.ttl = ttl
        self.min_refetch_interval = min_refetch_interval
        self._fetch = fetch or (lambda url: fetch_json(url, timeout))
        self._monotonic = monotonic
        self._keys: _Keys | None = None
        self._last_attempt: float | None = None
        # One fetch at a time; readers never wait for it unless they need what it brings.
        self._lock = threading.Lock()
        #: How many times the JWKS was requested (successfully or not): for tests and metrics.
        self.fetch_count = 0

    @property
    def jwks_uri(self) -> str:
        return self._uri() if callable(self._uri) else self._uri

    def key_for(self, kid: str | None, alg: str) -> Any:
        """The key that verifies a token with this `kid` and `alg`; raises InvalidToken."""
        keys = self._current()
        key = keys.find(kid, alg)
        if key is not None:
            return key
        if kid is None or kid in keys.by_kid:
            # The kid is known (or absent) and still no usable key: a new fetch cannot help.
            raise InvalidToken("no key in the provider's JWKS can verify this token")
        fresh = self._refresh(keys, self.min_refetch_interval)
        key = fresh.find(kid, alg)
        if key is None:
            raise InvalidToken("the token's key (kid) is not in the provider's JWKS")
        return key

    def _current(self) -> _Keys:
        keys = self._keys
        if keys is None or self._monotonic() - keys.fetched_at >= self.ttl:
            # Failed attempts count too: a provider that is down is not asked on every request.
            keys = self._refresh(keys, self.min_refetch_interval)
        return keys

    def _refresh(self, seen: _Keys | None, min_interval: float) -> _Keys:
        """Fetch again unless another thread already did since `seen` was read, or the last
        attempt was under `min_interval` seconds ago. Returns the newest copy we have."""
        with self._lock:
            current = self._keys
            if current is not seen and current is not None:
                return current  # someone else fetched while we waited for the lock
            now = self._monotonic()
            if self._last_attempt is not None and now - self._last_attempt < min_interval:
                if current is None:
                    raise KeySetUnavailable("the provider's JWKS could not be fetched")
                return current
            self._last_attempt = now
            self.fetch_count += 1
            try:
                by_kid, without_kid = _parse_jwks(self._fetch(self.jwks_uri))
            except (OSError, ValueError, http.client.HTTPException) as exc:
                if current is None:
                    raise KeySetUnavailable(f"the provider's JWKS could not be fetched: {exc}") from exc
                return current  # keep verifying with what we had: keys rarely vanish
            self._keys = _Keys(by_kid, without_kid, now)
            return self._keys


# --- verifying an access token ---------------------------------------------------------

def _b64url_json(segment: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken("the token is not a JWT") from exc


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class AccessTokenVerifier:
    """Checks a JWT access token as RFC 9068 §4 asks: typ, alg, signature, iss, aud, exp."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks: JwksCache,
        *,
        leeway: float = 0,
        clock: Callable[[], float] | None = None,
    ):
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwks
        self.leeway = leeway
        self._clock = clock

    def now(self) -> float:
        return self._clock() if self._clock is not None else _now()

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; raises InvalidToken (or KeySetUnavailable)."""
        parts = token.split(".")
        if len(parts) != 3:
            # Five parts would be an encrypted token (RFC 9068 §4 step 2); we issue none.
            raise InvalidToken("the token is not a signed JWT")
        header = _b64url_json(parts[0])
        if not isinstance(header, dict):
            raise InvalidToken("the token is not a JWT")
        alg = header.get("alg")
        if alg not in ACCEPTED_ALGS:
            raise InvalidToken(f"the algorithm {str(alg)[:20]!r} is not accepted")
        typ = header.get("typ")
        # RFC 9068 §4: refuse anything else, notably ID tokens (typ JWT) of the same issuer.
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("not an access token (the typ header is not at+jwt)")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("the kid header is not a string")
        key = self.jwks.key_for(kid, alg)
        try:
            # Exactly the header's alg, already checked against the allow-list and the key.
            claims = dict(jwt.decode(token, key, algorithms=[alg]).claims)
        except BadSignatureError as exc:
            raise InvalidToken("the token's signature does not verify") from exc
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidToken(f"the token cannot be verified ({str(exc)[:80] or type(exc).__name__})") from exc
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims: dict[str, Any]) -> None:
        missing = [c for c in REQUIRED_CLAIMS if c not in claims]
        if missing:
            raise InvalidToken(f"the token lacks {', '.join(missing)}")
        if claims["iss"] != self.issuer:  # RFC 9068 §4 step 3: exact match
            raise InvalidToken("the token was issued by another issuer")
        aud = claims["aud"]
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if self.audience not in audiences:  # RFC 9068 §4 step 4, RFC 7519 §4.1.3
            raise InvalidToken("the token is meant for another audience")
        now = self.now()
        exp, iat, nbf = claims["exp"], claims["iat"], claims.get("nbf")
        if not _number(exp) or not _number(iat) or (nbf is not None and not _number(nbf)):
            raise InvalidToken("the token's times are not numbers")
        # RFC 7519 §4.1.4: the current time must be before exp; leeway absorbs clock skew.
        if now >= exp + self.leeway:
            raise InvalidToken("the token has expired")
        if nbf is not None and now + self.leeway < nbf:
            raise InvalidToken("the token is not valid yet")
        if iat > now + self.leeway:
            raise InvalidToken("the token was issued in the future")


# --- authentication requirements (RFC 9470) ---------------------------------------------

@dataclass(frozen=True)
class Shortfall:
    """What the token's authentication lacks: `acr` is the level required and not reached,
    `max_age` the freshness required and not met (None where that part is satisfied)."""

    acr: str | None = None
    max_age: int | None = None

    @property
    def description(self) -> str:
        if self.acr and self.max_age is not None:
            return "A stronger and more recent authentication is required"
        if self.acr:
            return "A stronger authentication is required"
        return "A more recent authentication is required"


def _check_requirements(acr: str | None, max_age: int | None) -> None:
    if acr is not None and acr not in acr_levels.LEVELS:
        raise ValueError(f"unknown acr {acr!r}; choose from {', '.join(acr_levels.LEVELS)}")
    if max_age is not None and (not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0):
        raise ValueError("max_age must be a non-negative number of seconds")


def check_authentication(
    claims: Mapping[str, Any], *, acr: str | None = None, max_age: int | None = None, now: float
) -> Shortfall | None:
    """None if the claims meet `acr` (ordered pwd < mfa < phr, so a stronger level satisfies
    a weaker requirement) and `max_age` (seconds since `auth_time`, OIDC Core §2); otherwise
    what is missing. A token without `acr` or `auth_time` falls short of a requirement on it."""
    _check_requirements(acr, max_age)
    short_acr = short_age = None
    if acr is not None:
        achieved = claims.get("acr")
        known = achieved if isinstance(achieved, str) and achieved in acr_levels.LEVELS else None
        if not acr_levels.satisfies(known, acr):
            short_acr = acr
    if max_age is not None:
        auth_time = claims.get("auth_time")
        if not _number(auth_time) or now - auth_time > max_age:
            short_age = max_age
    if short_acr is None and short_age is None:
        return None
    return Shortfall(acr=short_acr, max_age=short_age)


# --- challenges (RFC 6750 §3, RFC 9470 §3) -----------------------------------------------

def _is_param_text(value: str) -> bool:
    # RFC 6750 §3: error, error_description and scope use %x20-21 / %x23-5B / %x5D-7E only,
    # so they never need quoted-pair escapes (no '"', no '\').
    return all(c in (" ", "!") or "#" <= c <= "[" or "]" <= c <= "~" for c in value)


def _clean_description(text: str) -> str:
    cleaned = "".join(c if _is_param_text(c) else " " for c in text)
    return " ".join(cleaned.split())  # no control characters, no runs of spaces


def www_authenticate(
    error: str | None = None,
    description: str | None = None,
    *,
    acr_values: str | Iterable[str] | None = None,
    max_age: int | None = None,
    scope: str | Iterable[str] | None = None,
    realm: str | None = None,
) -> str:
    """A `WWW-Authenticate` value for the Bearer scheme.

    No `error` gives the bare `Bearer` challenge (RFC 6750 §3.1: a request without any
    token gets no error code). `acr_values` and `max_age` are RFC 9470 §3's parameters for
    `insufficient_user_authentication`; `scope` is RFC 6750 §3's for `insufficient_scope`.
    """
    params: list[tuple[str, str]] = []
    if realm is not None:
        params.append(("realm", realm))
    if error is not None:
        params.append(("error", error))
    if description:
        params.append(("error_description", _clean_description(description)))
    if scope is not None:
        params.append(("scope", scope if isinstance(scope, str) else " ".join(scope)))
    if acr_values is not None:
        params.append(("acr_values", acr_values if isinstance(acr_values, str) else " ".join(acr_values)))
    if max_age is not None:
        if not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0:
            raise ValueError("max_age must be a non-negative integer")
        params.append(("max_age", str(max_age)))
    for name, value in params:
        if not _is_param_text(value):
            raise ValueError(f"{name} contains characters a challenge cannot carry: {value!r}")
    if not params:
        return "Bearer"
    return "Bearer " + ", ".join(f'{name}="{value}"' for name, value in params)


# --- Flask ------------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def _scopes(scope: str | Iterable[str] | None) -> tuple[str, ...]:
    if scope is None:
        return ()
    return tuple(scope.split()) if isinstance(scope, str) else tuple(scope)


class _BadRequest(Exception):
    pass


def _bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header (RFC 6750 §2.1); None without one.
    The scheme name is case-insensitive (RFC 9110 §11.1)."""
    if not authorization:
        return None
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None  # another scheme: for us, no bearer credentials at all
    parts = rest.split()
    if len(parts) != 1:
        raise _BadRequest("the Authorization header must carry exactly one bearer token")
    return parts[0]


class ResourceServer:
    """Flask integration: `require_token` protects a view with this provider's tokens.

    `audience` defaults to the issuer, as the provider's IDP_ACCESS_TOKEN_AUDIENCE does.
    The JWKS is `jwks_uri`, else (with `discover=True`) the `jwks_uri` of the provider's
    discovery document (OIDC Discovery §4), else `issuer + "/jwks.json"`. Pass `jwks` to
    bring a JwksCache of your own; `fetch` replaces HTTP for both look-ups.
    """

    def __init__(
        self,
        issuer: str,
        audience: str | None = None,
        jwks_uri: str | None = None,
        *,
        discover: bool = False,
        jwks: JwksCache | None = None,
        leeway: float = 0,
        ttl: float = 60,
        min_refetch_interval: float = 10,
        timeout: float = 5.0,
        fetch: Fetch | None = None,
        realm: str | None = None,
    ):
        self.issuer = issuer  # iss is compared exactly (RFC 9068 §4): no normalising
        self.audience = audience or issuer
        self.realm = realm
        self._fetch = fetch or (lambda url: fetch_json(url, timeout))
        self._jwks_uri_found: str | None = None
        if jwks is None:
            uri: str | Callable[[], str]
            if jwks_uri:
                uri = jwks_uri
            elif discover:
                uri = self._discovered_jwks_uri
            else:
                uri = issuer.rstrip("/") + "/jwks.json"
            jwks = JwksCache(uri, ttl=ttl, min_refetch_interval=min_refetch_interval, fetch=self._fetch)
        self.jwks = jwks
        self.verifier = AccessTokenVerifier(self.issuer, self.audience, jwks, leeway=leeway)

    def _discovered_jwks_uri(self) -> str:
        if self._jwks_uri_found is None:
            url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                doc = self._fetch(url)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                raise ValueError(f"discovery at {url} failed: {exc}") from exc
            # OIDC Discovery §4.3: the document must name exactly the issuer we trust.
            if doc.get("issuer") != self.issuer or not isinstance(doc.get("jwks_uri"), str):
                raise ValueError(f"{url} is not this issuer's discovery document")
            self._jwks_uri_found = doc["jwks_uri"]
        return self._jwks_uri_found

    def require_token(
        self,
        scope: str | Iterable[str] | None = None,
        acr: str | None = None,
        max_age: int | None = None,
    ) -> Callable[[F], F]:
        """Decorate a view: it runs only with a valid access token meeting `scope` (all of
        them), `acr` and `max_age`; the claims are in `flask.g.token_claims`.

        Answers otherwise: no token, 401 with a bare `Bearer` challenge (RFC 6750 §3.1);
        a malformed header, 400 `invalid_request`; a bad token, 401 `invalid_token`; too
        weak or too old an authentication, 401 `insufficient_user_authentication` with the
        route's `acr_values` and `max_age` (RFC 9470 §3); missing scope, 403
        `insufficient_scope` (RFC 6750 §3.1); JWKS unreachable, 503.
        """
        _check_requirements(acr, max_age)
        required = _scopes(scope)

        def decorate(view: F) -> F:
            @wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                from flask import g, request

                try:
                    token = _bearer_token(request.headers.get("Authorization"))
                except _BadRequest as exc:
                    return self._error(400, "invalid_request", str(exc))
                if token is None:
                    return self._error(401, None, "An access token is required")
                try:
                    claims = self.verifier.verify(token)
                except InvalidToken as exc:
                    return self._error(401, "invalid_token", exc.description)
                except KeySetUnavailable:
                    response = self._error(503, "temporarily_unavailable", "Cannot verify tokens right now")
                    response.headers["Retry-After"] = "10"
                    return response
                # Authentication before authorization: a step-up may also be what the user
                # needs for the scope, and 401 before 403 is HTTP's order.
                shortfall = check_authentication(claims, acr=acr, max_age=max_age, now=self.verifier.now())
                if shortfall is not None:
                    # The challenge names every requirement of the route, not only the one
                    # that failed: the client's next authorization request must meet them all
                    # (a fresh sign-in at pwd would otherwise fail on acr next time).
                    return self._error(
                        401, "insufficient_user_authentication", shortfall.description,
                        acr_values=acr, max_age=max_age,
                    )
                granted = claims.get("scope")
                granted_set = set(granted.split()) if isinstance(granted, str) else set()
                if not set(required) <= granted_set:
                    return self._error(
                        403, "insufficient_scope", "The token lacks a scope this resource needs",
                        scope=" ".join(required),
                    )
                g.token_claims = claims
                return view(*args, **kwargs)

            return wrapper  # type: ignore[return-value]

        return decorate

    def _error(self, status: int, error: str | None, description: str, **params: Any) -> Any:
        from flask import jsonify

        body: dict[str, Any] = {"error": error, "error_description": description} if error else {
            "error_description": description  # RFC 6750 §3.1: no error code without a token
        }
        response = jsonify(body)
        response.status_code = status
        if status in (401, 403) or error == "invalid_request":
            response.headers["WWW-Authenticate"] = www_authenticate(
                error, description if error else None, realm=self.realm, **params
            )
        response.headers["Cache-Control"] = "no-store"
        return response
