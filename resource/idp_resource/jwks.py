"""The provider's key set (RFC 7517), fetched over HTTP and cached, looked up again once
when a token names a key it does not know."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import import_key

from .errors import InvalidToken, KeySetUnavailable

#: The algorithms the provider signs with (idp/oauth/jwt.py). An allow-list, so `none` and
#: the HMAC algorithms (with which a forger would use the public key as the shared secret)
#: can never be chosen by the token itself (RFC 8725 §3.1).
ACCEPTED_ALGS: tuple[str, ...] = ("RS256", "ES256", "EdDSA")

# Which key may verify which algorithm (RFC 7518 §3.3-3.4, RFC 8037 §3.1). Checked before
# joserfc sees the key, so a JWK can never be used with an algorithm it was not made for.
_KEY_KINDS: dict[str, tuple[str, frozenset[str | None]]] = {
    "RS256": ("RSA", frozenset({None})),
    "ES256": ("EC", frozenset({"P-256"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
}

#: A JWKS is a few kilobytes; refuse to read an unbounded answer.
_MAX_JWKS_BYTES = 1 << 20


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
