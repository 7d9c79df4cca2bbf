"""Redis topologies for the tests, on loopback ports, each process started here and stopped
by its PID: a primary with a replica watched by three sentinels, and a three-primary
Cluster. Debian's redis-server, redis-sentinel and redis-cli."""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.live import free_port, terminate

AVAILABLE = all(shutil.which(tool) for tool in ("redis-server", "redis-sentinel", "redis-cli"))
SERVICE = "idpmaster"


def until(condition, what: str, seconds: float = 30):  # noqa: ANN001, ANN201
    """Poll `condition` until it returns something true (a bounded wait, not an assertion
    about speed: the test fails only if it never happens)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            value = condition()
            if value:
                return value
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {seconds} s")
        time.sleep(0.1)


def _server(port: int, tmp: Path, *extra: str, persistent: bool = False) -> subprocess.Popen:
    """`persistent`: an append-only file in `tmp`, so a node restarted there has its data."""
    return subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "yes" if persistent else "no", "--dir", str(tmp), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _ping(port: int) -> bool:
    return bool(redis.Redis(port=port, socket_connect_timeout=0.5).ping())


@dataclass
class SentinelSetup:
    """One primary, one replica, three sentinels (quorum 2, down after 1 s). The two data
    nodes keep an append-only file, as Redis asks of replicated nodes that restart on their
    own: a node that came back empty could be promoted by a second failover before it has
    copied the primary, and the primary would then copy the empty node ("Safety of
    replication when master has persistence turned off", Redis's replication docs)."""

    primary_port: int
    replica_port: int
    sentinel_ports: list[int]
    tmp: Path
    processes: dict[int, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def primary(self) -> int:
        """The port the sentinels name as primary now."""
        answer = redis.Redis(port=self.sentinel_ports[0], socket_timeout=1).sentinel_get_master_addr_by_name(SERVICE)
        return int(answer[1])

    def kill(self, port: int) -> None:
        process = self.processes.pop(port)
        process.kill()  # SIGKILL: no goodbye to the replica or the sentinels
        process.wait(10)

    def restart(self, port: int) -> None:
        """The killed node comes back with its append-only file; the sentinels make it a
        replica of the new primary."""
        self.processes[port] = _server(port, self.tmp / str(port), persistent=True)
        until(lambda: _ping(port), f"redis on {port}")

    def stall_until_replaced(self, port: int) -> None:
        """The primary on `port` stops answering (SIGSTOP), as one does on a machine that
        stalls, until the sentinels name another primary; then it goes on (SIGCONT)."""
        process = self.processes[port]
        process.send_signal(signal.SIGSTOP)
        try:
            until(lambda: self.primary() != port, f"a failover away from {port}", 60)
        finally:
            process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        for process in self.processes.values():
            terminate(process)
        shutil.rmtree(self.tmp, ignore_errors=True)


def start_sentinels() -> SentinelSetup:
    tmp = Path(tempfile.mkdtemp(prefix="idp-sentinel-"))
    setup = SentinelSetup(free_port(), free_port(), [free_port() for _ in range(3)], tmp)
    try:
        for port in (setup.primary_port, setup.replica_port):
            (tmp / str(port)).mkdir()
        setup.processes[setup.primary_port] = _server(setup.primary_port, tmp / str(setup.primary_port), persistent=True)
        until(lambda: _ping(setup.primary_port), "the primary")
        setup.processes[setup.replica_port] = _server(
            setup.replica_port, tmp / str(setup.replica_port), "--replicaof", "127.0.0.1", str(setup.primary_port),
            persistent=True)
        until(lambda: redis.Redis(port=setup.replica_port).info("replication")["master_link_status"] == "up",
              "the replica's link")
        for port in setup.sentinel_ports:
            conf = tmp / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {tmp}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {setup.primary_port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 10000\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            setup.processes[port] = subprocess.Popen(["redis-sentinel", str(conf)], stdout=subprocess.DEVNULL,
                                                     stderr=subprocess.DEVNULL)
        for port in setup.sentinel_ports:  # each knows the replica and the other sentinels
            until(lambda port=port: _sentinel_ready(port), f"sentinel on {port}")
    except BaseException:
        setup.stop()
        raise
    return setup


def _sentinel_ready(port: int) -> bool:
    master = redis.Redis(port=port, socket_timeout=1).sentinel_master(SERVICE)
    return master["num-slaves"] >= 1 and master["num-other-sentinels"] >= 2


@dataclass
class Cluster:
    """Three primaries, no replicas: every slot covered, keys spread over three nodes."""

    ports: list[int]
    tmp: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports) + "/"

    def stop(self) -> None:
        for process in self.processes:
            terminate(process)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free too, below 55536."""
    while True:
        port = random.randint(20000, 45000)
        if all(_free(p) for p in (port, port + 10000)):
            return port


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_cluster() -> Cluster:
    tmp = Path(tempfile.mkdtemp(prefix="idp-cluster-"))
    cluster = Cluster([_cluster_port() for _ in range(3)], tmp)
    try:
        for port in cluster.ports:
            (tmp / str(port)).mkdir()
            cluster.processes.append(_server(port, tmp / str(port), "--cluster-enabled", "yes",
                                             "--cluster-config-file", str(tmp / str(port) / "nodes.conf")))
        for port in cluster.ports:
            until(lambda port=port: _ping(port), f"redis on {port}")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in cluster.ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        for port in cluster.ports:
            until(lambda port=port: redis.Redis(port=port).cluster("info")["cluster_state"] == "ok",
                  f"cluster state on {port}")
    except BaseException:
        cluster.stop()
        raise
    return cluster
