"""A live provider for tests that need real HTTP: granian (as `make run`) with two worker processes on a
free loopback port, its own database (SQLite file, or a PostgreSQL database of its own when
TEST_DATABASE_URL is PostgreSQL) and its own Redis database index."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests import redis_db

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _live_database(tmp: Path) -> str:
    """A database of the server's own: several live servers may run in one session."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        return f"sqlite:///{tmp / 'live.sqlite3'}"
    url = make_url(base)
    name = f"{url.database}_live_{secrets.token_hex(4)}"
    _admin(url, f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def _admin(url, statement: str) -> None:  # noqa: ANN001
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(statement))
    engine.dispose()


def _drop_database(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        _admin(url.set(database=make_url(os.environ["TEST_DATABASE_URL"]).database),
               f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


@dataclass
class LiveServer:
    url: str
    env: dict
    process: subprocess.Popen
    tmp: Path

    def cli(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [str(BIN / "idp"), *args], env=self.env, input=stdin, capture_output=True, text=True, cwd=ROOT
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def cli_json(self, *args: str, stdin: str | None = None) -> dict:
        return json.loads(self.cli(*args, "--json", stdin=stdin))

    def create_client(self, *, public: bool, redirect_uri: str, **options: str) -> dict:
        args = ["clients", "create", "--name", "live", "--redirect-uri", redirect_uri]
        if public:
            args.append("--public")
        for option, value in options.items():
            args += [f"--{option.replace('_', '-')}", str(value)]
        return self.cli_json(*args)

    def create_user(self, email: str, password: str) -> dict:
        return self.cli_json("users", "create", email, "--password-stdin", stdin=password + "\n")

    def stop(self) -> None:
        terminate(self.process)
        _drop_database(self.env["DATABASE_URL"])
        shutil.rmtree(self.tmp, ignore_errors=True)


def start(extra_env: dict | None = None, workers: int = 2, server: str = "granian") -> LiveServer:
    """`server`: granian (as `make run`) or gunicorn (threads), each with `workers` processes."""
    tmp = Path(tempfile.mkdtemp(prefix="idp-live-"))
    port = free_port()
    env = {
        **os.environ,
        "IDP_ISSUER": f"http://localhost:{port}",
        "DATABASE_URL": _live_database(tmp),
        "REDIS_URL": redis_db.url("TEST_LIVE_REDIS_URL", 14),
        "IDP_INSTANCE_PATH": str(tmp / "instance"),
        "IDP_ENV": "test",
        "IDP_KEY_CACHE_SECONDS": "2",  # key rotation shows within seconds, not half a minute
        **(extra_env or {}),
    }
    redis_db.flush(env["REDIS_URL"])
    subprocess.run([str(BIN / "idp"), "db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
    log = open(tmp / "server.log", "w")
    command = {
        "gunicorn": [str(BIN / "gunicorn"), "-w", str(workers), "--threads", "4", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        "granian": [str(BIN / "granian"), "--interface", "wsgi", "--workers", str(workers), "--blocking-threads", "4",
                    "--host", "127.0.0.1", "--port", str(port), "--no-ws", "--respawn-failed-workers", "wsgi:app"],
    }[server]
    # Its own process group, so that stopping it stops its workers too (terminate).
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = LiveServer(url=env["IDP_ISSUER"], env=env, process=process, tmp=tmp)
    wait_until_serving(port, process, tmp / "server.log", server.stop, "the live server", 60)  # a loaded machine (CI beside other work) starts slowly
    return server


def terminate(process: subprocess.Popen) -> None:
    """Stop a server this test run started, by its PID: politely, then not. A server that
    leads its own process group is stopped with the group: killing only a granian master
    that was slow to stop once left a worker serving after the test run."""
    group = process.pid if _leads_group(process) else None

    def send(sig: int) -> None:
        try:
            os.killpg(group, sig) if group is not None else process.send_signal(sig)
        except ProcessLookupError:
            pass

    send(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait(10)
    if group is not None:
        send(signal.SIGKILL)  # what of the group outlived its leader


def _leads_group(process: subprocess.Popen) -> bool:
    try:
        return os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        return False


def wait_until_serving(port: int, process: subprocess.Popen, log: Path, stop, what: str, seconds: float) -> None:  # noqa: ANN001
    """Until an OpenID provider on `port` serves its discovery document; if its process
    dies or the time is up, `stop()` it and fail with its log."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/.well-known/openid-configuration", timeout=2)
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = log.read_text()
                stop()
                raise RuntimeError(f"{what} did not start:\n" + output)
            time.sleep(0.1)
