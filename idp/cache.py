"""Process-local caches of rarely changing rows (clients, signing keys), kept correct across
processes by the versions in Redis (store.versions).

The versions are read at most once per `check_every` seconds, so a change committed in one
process is seen by every other within that time. Without Redis a cache trusts nothing: it
is emptied and every lookup goes to the database until the versions can be read again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from .store import StoreUnavailable, versions

log = logging.getLogger("idp")

V = TypeVar("V")


class Versions:
    """One process's last reading of the versions, refreshed at most every `check_every` s.

    Caches are also emptied every `max_age` seconds whatever the versions say, so a change
    whose bump was lost (Redis down at that moment) is seen within that time too."""

    def __init__(self, check_every: float = 1.0, max_age: float = 60.0, read: Callable[[], dict[str, int]] = versions.read):
        self._read = read
        self.check_every = check_every
        self.max_age = max_age
        self._seen: dict[str, int] | None = None
        self._checked_at = float("-inf")
        self._cleared_at = time.monotonic()
        self._lock = threading.Lock()
        self._caches: list[VersionedCache] = []

    def register(self, cache: "VersionedCache") -> None:
        self._caches.append(cache)

    def current(self) -> dict[str, int] | None:
        """The versions as last read, re-read if due; None when Redis cannot say."""
        now = time.monotonic()
        if now - self._checked_at < self.check_every:
            return self._seen
        with self._lock:
            if now - self._checked_at < self.check_every:
                return self._seen
            try:
                seen: dict[str, int] | None = self._read()
            except StoreUnavailable as exc:
                log.warning("versions unreadable, caches bypassed: %s", exc)
                seen = None
            expired = now - self._cleared_at > self.max_age
            if expired:
                self._cleared_at = now
            for cache in self._caches:
                if expired or seen is None or self._seen is None or seen.get(cache.name, 0) != self._seen.get(cache.name, 0):
                    cache.clear()
            self._seen, self._checked_at = seen, now
            return seen

    def changed_here(self, bumped: dict[str, int] | None, names: set[str]) -> None:
        """This process just committed a change to `names` and bumped their versions (None:
        the bump failed). Its own caches go at once; emptied after the bump, they cannot
        keep anything read before a change that another process bumped earlier."""
        with self._lock:
            for cache in self._caches:
                if cache.name in names:
                    cache.clear()
            if bumped is not None and self._seen is not None:
                self._seen = {**self._seen, **bumped}
            else:
                self._checked_at = float("-inf")


class VersionedCache(Generic[V]):
    """A bounded map filled by `load`; misses are not remembered (unknown ids cannot fill it).

    A value loaded while the cache was being emptied is not kept: it may predate the change
    that emptied it (the generation says so)."""

    def __init__(self, name: str, versions_: Versions, load: Callable[[Hashable], V | None], max_entries: int = 10_000):
        self.name = name
        self._versions = versions_
        self._load = load
        self._max = max_entries
        self._entries: dict[Hashable, V] = {}
        self._generation = 0
        self._lock = threading.Lock()
        versions_.register(self)

    def get(self, key: Hashable) -> V | None:
        if self._versions.current() is None:
            return self._load(key)
        value = self._entries.get(key)
        if value is not None:
            return value
        generation = self._generation
        value = self._load(key)
        if value is not None:
            with self._lock:
                if generation == self._generation:
                    if len(self._entries) >= self._max:
                        self._entries = {}
                    self._entries[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries = {}
