"""REDIS_URL's three forms become the right redis-py clients (nothing is connected here)."""

import pytest
import redis

from idp.store import LazyCluster, _hosts, connect, is_cluster, redacted


def test_one_server():
    client = connect("redis://127.0.0.1:6379/3")
    assert isinstance(client, redis.Redis) and not is_cluster(client)
    assert client.connection_pool.connection_kwargs["db"] == 3


def test_sentinel_names_the_service_and_db():
    client = connect("redis+sentinel://:pw@h1:26379,h2:26380,h3/idpmaster/2")
    pool = client.connection_pool
    assert pool.service_name == "idpmaster" and pool.connection_kwargs["db"] == 2
    assert pool.connection_kwargs["password"] == "pw"
    assert [(s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
            for s in pool.sentinel_manager.sentinels] == [("h1", 26379), ("h2", 26380), ("h3", 26379)]


def test_sentinel_without_a_service_is_refused():
    with pytest.raises(ValueError, match="SERVICE"):
        connect("redis+sentinel://h1:26379/")


def test_cluster_is_made_on_first_use():
    client = connect("redis+cluster://h1:7000,[::1]:7001/")
    assert isinstance(client, LazyCluster) and is_cluster(client)
    assert [(n.host, n.port) for n in client._options["startup_nodes"]] == [("h1", 7000), ("::1", 7001)]


def test_hosts_and_redaction():
    assert _hosts("a:1,b", 26379) == [("a", 1), ("b", 26379)]
    assert redacted("redis+sentinel://:s3cret@h1:26379/m/0") == "redis+sentinel://:***@h1:26379/m/0"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
