"""Running wrk: one measurement of one endpoint at one concurrency, read back from the
JSON line the Lua scripts print (bench/wrk/common.lua)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

WRK_DIR = Path(__file__).resolve().parent / "wrk"


@dataclass(frozen=True)
class Job:
    """A wrk run: its script in bench/wrk/, the server's base URL and the script's arguments."""

    script: str
    base: str
    args: tuple[str, ...]
    #: One connection per thread (the flow script needs it).
    one_connection_per_thread: bool = False


@dataclass(frozen=True)
class Measurement:
    units: int  # requests, or completed flows
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors + non-2xx/3xx answers + broken flows
    requests: int
    #: Password flows: the median of their sign-in requests alone (the POST of the password).
    signin_p50_ms: float = float("nan")

    @property
    def rate(self) -> float:
        return self.units / self.seconds if self.seconds else 0.0


class LoadError(RuntimeError):
    pass


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise LoadError("wrk is not installed: `make bench` installs it (apt-get install -y wrk)")
    return path


def threads_for(job: Job, connections: int) -> int:
    if job.one_connection_per_thread:
        return connections
    return min(2, connections)  # two cores: more wrk threads would only compete with the servers


def run(job: Job, connections: int, seconds: int, *, timeout_s: int = 10) -> Measurement:
    """`seconds` is whole: wrk takes no fractions."""
    threads = threads_for(job, connections)
    argv = [
        wrk_path(), "-t", str(threads), "-c", str(connections), "-d", f"{int(seconds)}s",
        "--timeout", f"{int(timeout_s)}s", "-s", str(WRK_DIR / job.script), job.base + "/",
        "--", f"threads={threads}", *job.args,
    ]
    env = dict(os.environ, BENCH_WRK_DIR=str(WRK_DIR))
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + timeout_s + 30)
    except subprocess.TimeoutExpired as exc:
        raise LoadError(f"wrk did not finish: {' '.join(argv[:12])}") from exc
    line = next((l for l in done.stdout.splitlines() if l.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise LoadError(f"wrk failed ({done.returncode}): {done.stderr[-1500:] or done.stdout[-1500:]}")
    data = json.loads(line[len("BENCH "):])
    errors = sum(data["errors"].values())
    return Measurement(
        units=data["units"], seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_ms"] if data["p50_ms"] is not None else float("nan"),
        p99_ms=data["p99_ms"] if data["p99_ms"] is not None else float("nan"),
        errors=errors, requests=data["requests"],
        signin_p50_ms=data["signin_p50_ms"] if data.get("signin_p50_ms") is not None else float("nan"),
    )
