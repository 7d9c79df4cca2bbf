"""The CPU time each side's processes spend in one measurement, read from /proc.

The rates say how much each side got done with two shared cores; the CPU time per request
says what a request cost it, and where: in its server or in its store. So each measurement
also records, before and after wrk runs, the CPU time of the side's server processes and of
the stores it uses:
- the Redis that both sides share, counted for the side under load (the other is idle);
- ours only: the PostgreSQL backends connected to the benchmark's database.

wrk's own CPU is left out of both sides, and so are PostgreSQL's background processes (its
WAL writer and checkpointer): a backend writes and flushes its own commit's WAL.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

from .servers import stat_fields

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _ticks(pid: int) -> int | None:
    """utime + stime of `pid` (fields 14 and 15 of /proc/PID/stat), None if it is gone."""
    fields = stat_fields(pid)
    return None if fields is None else int(fields[11]) + int(fields[12])


@dataclass(frozen=True)
class Sample:
    server: dict[int, int]
    stores: dict[int, int]


def sample(server: Iterable[int], stores: Iterable[int]) -> Sample:
    def read(pids: Iterable[int]) -> dict[int, int]:
        return {pid: t for pid in pids if (t := _ticks(pid)) is not None}

    return Sample(read(server), read(stores))


def spent(before: Sample, after: Sample) -> tuple[float, float]:
    """Seconds of CPU (server, stores) between two samples. A process first seen in `after`
    started during the measurement: all of its time counts."""

    def delta(a: dict[int, int], b: dict[int, int]) -> float:
        return sum(t - a.get(pid, 0) for pid, t in b.items()) / TICKS_PER_SECOND

    return delta(before.server, after.server), delta(before.stores, after.stores)


def postgres_backends(admin_dsn: str, database: str) -> list[int]:
    """The server processes of the connections to `database` (ours: its pools)."""
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)).fetchall()
    return [pid for (pid,) in rows]
