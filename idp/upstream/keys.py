"""The provider's signing keys (its JWKS), fetched again when a token names a key we do not
have (key rotation), but at most once a minute: a flood of unknown `kid`s costs nothing."""

from __future__ import annotations

import threading
import time

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ..net import Http, NetError
from .errors import UpstreamError

TTL = 3600
REFETCH_AFTER = 60


class KeySetCache:
    def __init__(self, http: Http):
        self._http = http
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, KeySet]] = {}

    def get(self, jwks_uri: str, kid: str | None) -> KeySet:
        with self._lock:
            entry = self._entries.get(jwks_uri)
        age = time.monotonic() - entry[0] if entry else None
        if entry and age < TTL and (kid is None or _has(entry[1], kid) or age < REFETCH_AFTER):
            return entry[1]
        keys = self._fetch(jwks_uri)
        with self._lock:
            self._entries[jwks_uri] = (time.monotonic(), keys)
        return keys

    def _fetch(self, jwks_uri: str) -> KeySet:
        try:
            return KeySet.import_key_set(self._http.get_json(jwks_uri))
        except (NetError, JoseError, ValueError, TypeError, KeyError) as exc:
            raise UpstreamError("jwks", str(exc)) from None


def _has(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)
