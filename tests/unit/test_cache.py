"""The process-local caches: what a version change, a lost Redis and a racing load do."""

import threading

from idp.cache import Versions, VersionedCache
from idp.store import StoreUnavailable


class Reader:
    def __init__(self):
        self.versions = {"clients": 1}
        self.down = False
        self.reads = 0

    def __call__(self):
        self.reads += 1
        if self.down:
            raise StoreUnavailable("down")
        return dict(self.versions)


def make(reader, rows):
    versions = Versions(check_every=0, read=reader)
    loads = []

    def load(key):
        loads.append(key)
        return rows.get(key)

    return versions, VersionedCache("clients", versions, load), loads


def test_a_cached_value_is_served_until_its_version_moves():
    reader, rows = Reader(), {"a": "v1"}
    _, cache, loads = make(reader, rows)
    assert cache.get("a") == "v1" and cache.get("a") == "v1"
    assert loads == ["a"]
    rows["a"] = "v2"
    reader.versions["clients"] = 2
    assert cache.get("a") == "v2"
    assert loads == ["a", "a"]


def test_misses_are_not_remembered():
    reader = Reader()
    _, cache, loads = make(reader, {})
    assert cache.get("nobody") is None and cache.get("nobody") is None
    assert loads == ["nobody", "nobody"]


def test_without_redis_every_lookup_goes_to_the_database():
    reader, rows = Reader(), {"a": "v1"}
    _, cache, loads = make(reader, rows)
    cache.get("a")
    reader.down = True
    rows["a"] = "v2"
    assert cache.get("a") == "v2" and cache.get("a") == "v2"
    assert loads == ["a", "a", "a"]


def test_versions_are_read_at_most_once_per_period():
    reader = Reader()
    versions = Versions(check_every=3600, read=reader)
    VersionedCache("clients", versions, lambda key: "v")
    for _ in range(100):
        versions.current()
    assert reader.reads == 1


def test_a_value_loaded_across_a_change_is_not_kept():
    """A load that read the row before a change, and finishes after the cache was emptied
    for that change, must not put the old row back."""
    reader, rows = Reader(), {"a": "old"}
    versions = Versions(check_every=0, read=reader)
    started, release = threading.Event(), threading.Event()

    def slow_load(key):
        value = rows[key]
        started.set()
        release.wait(5)
        return value

    cache = VersionedCache("clients", versions, slow_load)
    result = []
    loader = threading.Thread(target=lambda: result.append(cache.get("a")))
    loader.start()
    started.wait(5)
    rows["a"] = "new"
    versions.changed_here({"clients": 2}, {"clients"})
    release.set()
    loader.join(5)
    assert result == ["old"]  # that request saw the old row, as it should have
    cache._load = lambda key: rows[key]
    assert cache.get("a") == "new"
