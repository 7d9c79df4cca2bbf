"""The life cycle of every process and database the benchmark starts.

Each server binds to 127.0.0.1 only, runs in a process group of its own, and is stopped by
its PID (the group it leads) when the run ends, also on Ctrl-C or an error: `Stack` is a
context manager that stops in reverse order whatever was started inside it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
PEER = BENCH / "peer"
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV") or ROOT / ".venv") / "bin"
HOST = "127.0.0.1"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"

#: The servers our provider can run under, and the default: what `make run` uses.
SERVERS = ("gunicorn-gthread", "gunicorn-sync", "granian")
DEFAULT_SERVER, DEFAULT_WORKERS, DEFAULT_THREADS = "granian", 2, 4


class StartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command (so field 3, the state, comes first),
    None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The command may contain spaces and parentheses: split after the last ')'.
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = stat_fields(int(entry))
        if fields is None:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Process:
    """A child process leading its own process group; its output goes to a log file."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path, log: Path):
        self.name, self.argv, self.env, self.cwd, self.log = name, argv, env, cwd, log
        self.popen: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> "Process":
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def pids(self) -> list[int]:
        return _descendants(self.pid) if self.alive() else []

    def rss_mib(self) -> float:
        """Resident memory now, summed over the process and its children."""
        return sum(_status_kib(p, "VmRSS") for p in self.pids()) / 1024

    def peak_rss_mib(self) -> float:
        """The sum of each process's peak resident memory (VmHWM)."""
        return sum(_status_kib(p, "VmHWM") for p in self.pids()) / 1024

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM to the group this process leads, SIGKILL if it is still there after `timeout`."""
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(5)
        # Workers that outlived their parent would still be in the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_http(url: str, process: Process, timeout: float = 60) -> None:
    """Until `url` answers 200; fails early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise StartError(f"{process.name} exited during start-up:\n{process.tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise StartError(f"{process.name} did not answer {url} within {timeout:.0f} s:\n{process.tail()}")


class Stack(contextlib.ExitStack):
    """Stops (in reverse order) every process and database registered with `own`."""

    def own(self, thing):  # noqa: ANN001, ANN201
        self.callback(thing.stop)
        return thing


# --- Redis and PostgreSQL ---------------------------------------------------------------

def start_redis(workdir: Path) -> tuple[Process, str]:
    port = free_port()
    process = Process(
        "redis", ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
                  "--dir", str(workdir), "--protected-mode", "yes"],
        env=dict(os.environ), cwd=workdir, log=workdir / "redis.log",
    ).start()
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            if s.recv(16).startswith(b"+PONG"):
                return process, f"redis://{HOST}:{port}"
        if not process.alive() or time.monotonic() > deadline:
            raise StartError(f"redis-server did not start:\n{process.tail()}")
        time.sleep(0.1)


@dataclass
class Database:
    """A fresh PostgreSQL database, dropped at the end (WITH (FORCE): no connection survives)."""

    name: str

    @classmethod
    def create(cls, prefix: str = "bench") -> "Database":
        name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
        with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return cls(name)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{self.name}"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:5432/{self.name}"

    def stop(self) -> None:
        with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


# --- our provider -------------------------------------------------------------------------

@dataclass(frozen=True)
class ServerChoice:
    kind: str = DEFAULT_SERVER
    workers: int = DEFAULT_WORKERS
    threads: int = DEFAULT_THREADS

    def describe(self) -> str:
        if self.kind == "gunicorn-sync":
            return f"gunicorn sync, {self.workers} workers"
        if self.kind == "granian":
            return f"granian wsgi, {self.workers} workers x {self.threads} blocking threads"
        return f"gunicorn gthread, {self.workers} workers x {self.threads} threads"

    def argv(self, port: int) -> list[str]:
        bind = f"{HOST}:{port}"
        if self.kind == "gunicorn-sync":
            return [str(VENV_BIN / "gunicorn"), "-k", "sync", "--workers", str(self.workers), "--bind", bind, "wsgi:app"]
        if self.kind == "gunicorn-gthread":
            return [str(VENV_BIN / "gunicorn"), "-k", "gthread", "--workers", str(self.workers),
                    "--threads", str(self.threads), "--keep-alive", "30", "--bind", bind, "wsgi:app"]
        if self.kind == "granian":
            return [str(VENV_BIN / "granian"), "--interface", "wsgi", "--host", HOST, "--port", str(port),
                    "--workers", str(self.workers), "--blocking-threads", str(self.threads), "--no-ws", "wsgi:app"]
        raise ValueError(f"unknown server {self.kind!r}; choose from {', '.join(SERVERS)}")


class Ours:
    """Our provider: its environment, its command line (`idp ...`) and its servers."""

    def __init__(self, workdir: Path, database_url: str, redis_url: str):
        self.workdir = workdir
        self.env = dict(os.environ)
        self.env.update(
            IDP_ENV="test",
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            IDP_INSTANCE_PATH=str(workdir / "instance"),
            # The bench's password sign-ins come "from" many addresses (X-Forwarded-For), as
            # real ones do; behind a load balancer this is the production setting too.
            IDP_TRUSTED_PROXIES="1",
            PYTHONUNBUFFERED="1",
        )
        for key in ("IDP_SMTP_URL",):
            self.env.pop(key, None)

    def cli(self, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
        done = subprocess.run(
            [str(VENV_BIN / "idp"), *args], env=self.env, cwd=ROOT, input=stdin, capture_output=True,
            text=True, timeout=timeout,
        )
        if done.returncode != 0:
            raise StartError(f"idp {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    def start(self, choice: ServerChoice, *, name: str = "ours", signing_alg: str = "RS256") -> tuple[Process, str]:
        port = free_port()
        # A pool smaller than the threads opens a connection per request past it (README).
        env = dict(self.env, IDP_ISSUER=self.issuer_for(port), IDP_SIGNING_ALG=signing_alg,
                   IDP_DB_POOL_SIZE=str(max(5, choice.threads)))
        process = Process(name, choice.argv(port), env=env, cwd=ROOT, log=self.workdir / f"{name}.log").start()
        base = f"http://{HOST}:{port}"
        wait_http(base + "/.well-known/openid-configuration", process)
        return process, base

    @staticmethod
    def issuer_for(port: int) -> str:
        return f"http://{HOST}:{port}"


# --- the peer ------------------------------------------------------------------------

def start_peer(workdir: Path, fixtures_file: Path, port: int, name: str = "peer") -> tuple[Process, str]:
    process = Process(
        name, ["node", "server.mjs"], env=dict(os.environ, PEER_FIXTURES=str(fixtures_file), NODE_ENV="production"),
        cwd=PEER, log=workdir / f"{name}.log",
    ).start()
    base = f"http://{HOST}:{port}"
    wait_http(base + "/.well-known/openid-configuration", process)
    return process, base

