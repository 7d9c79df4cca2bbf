"""The machine and the versions a run used, and the load on the machine."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from .servers import PEER


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)


def fmt_load(load: tuple[float, float, float]) -> str:
    return "/".join(f"{x:.2f}" for x in load)


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    out = (done.stdout or done.stderr).strip().splitlines()
    return out[0].strip() if out else "?"


def _npm_version(package: str) -> str:
    import json

    try:
        return json.loads((PEER / "node_modules" / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"


def _pip_version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "-"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def describe() -> dict[str, str]:
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores (nproc {_first_line(['nproc'])}), {_memory_gib():.1f} GiB, {platform.machine()}",
        "python": platform.python_version(),
        "node": _first_line(["node", "--version"]),
        "oidc-provider": _npm_version("oidc-provider"),
        "jose (npm)": _npm_version("jose"),
        "wrk": _first_line(["wrk", "--version"]).split(" [")[0],
        "PostgreSQL": _first_line(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "show server_version"]),
        "Redis": _first_line(["redis-server", "--version"]).split(" sha=")[0],
        "gunicorn": _pip_version("gunicorn"),
        "granian": _pip_version("granian"),
        "Flask": _pip_version("Flask"),
        "SQLAlchemy": _pip_version("SQLAlchemy"),
        "PyJWT": _pip_version("PyJWT"),
    }


__all__ = ["describe", "fmt_load", "load_average"]
