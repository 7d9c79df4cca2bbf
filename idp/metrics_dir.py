"""Where the worker processes of one server keep their metric files
(PROMETHEUS_MULTIPROC_DIR), decided before prometheus-client is imported.

prometheus-client's multiprocess mode has every process write its own files in one
directory, and `/metrics` (answered by any worker) adds them up. That directory must be
shared by all the workers of a server, must keep the files of workers that exited (their
counts still count), and must start empty for each new server, or counters would carry
the last run's values on. Two ways to get that:

- The operator sets PROMETHEUS_MULTIPROC_DIR to a directory that is emptied at each start
  of the service (systemd's `RuntimeDirectory=`, as deploy/idp.service does). Used as is.
- Otherwise, `<instance>/metrics/<server>/`, where <server> is the process that started the
  workers (their parent: gunicorn's arbiter, granian's main process) with its start time,
  so a new server never reuses an old directory even when its pid was reused. Directories
  of servers that are gone are removed by the next server's first worker.

`wsgi.py` calls `prepare()` first thing, so it runs in each worker before the app is
built (gunicorn and granian both import the application in the worker). Under gunicorn's
`--preload` the arbiter imports wsgi.py itself and its parent is the shell or systemd:
set PROMETHEUS_MULTIPROC_DIR then (the fallback would reuse one directory across runs).
Nothing is set up when metrics are not served (neither IDP_METRICS_TOKEN nor
IDP_METRICS_ALLOW_FROM): counts then stay in each process's memory, and no file is written.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def _started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (proc(5), field 22), or None if
    there is no such process, or only its corpse (a zombie not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def _alive(name: str) -> bool:
    pid, _, started = name.partition("-")
    return pid.isdigit() and _started(int(pid)) == started


def prepare(instance: Path, environ: os._Environ | dict = os.environ) -> Path | None:  # type: ignore[type-arg]
    """Point PROMETHEUS_MULTIPROC_DIR at this server's directory (creating it); the
    directory, or None when metrics are not served."""
    if not (environ.get("IDP_METRICS_TOKEN") or environ.get("IDP_METRICS_ALLOW_FROM")):
        return None
    if environ.get(VARIABLE):
        path = Path(environ[VARIABLE])
        path.mkdir(parents=True, exist_ok=True)
        return path
    server = os.getppid()
    base = instance / "metrics"
    path = base / f"{server}-{_started(server) or 0}"
    path.mkdir(parents=True, exist_ok=True)
    for other in base.iterdir():
        if other != path and not _alive(other.name):
            shutil.rmtree(other, ignore_errors=True)
    environ[VARIABLE] = str(path)
    return path
