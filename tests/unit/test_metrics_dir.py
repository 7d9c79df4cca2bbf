"""Which directory a server's workers share for their metric files."""

from __future__ import annotations

import os
import subprocess

from idp import metrics_dir


def test_nothing_when_metrics_are_not_served(tmp_path):
    environ: dict = {}
    assert metrics_dir.prepare(tmp_path, environ) is None
    assert environ == {} and not (tmp_path / "metrics").exists()


def test_the_operators_directory_is_used_as_it_is(tmp_path):
    environ = {"IDP_METRICS_TOKEN": "x" * 16, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "run")}
    assert metrics_dir.prepare(tmp_path / "instance", environ) == tmp_path / "run"
    assert (tmp_path / "run").is_dir() and not (tmp_path / "instance").exists()


def test_one_directory_per_server_and_the_gone_ones_removed(tmp_path):
    base = tmp_path / "metrics"
    zombie = subprocess.Popen(["true"])  # not reaped before prepare(): its /proc entry stays
    zombie_started = open(f"/proc/{zombie.pid}/stat").read().rsplit(")", 1)[1].split()[19]
    alive = f"{os.getpid()}-{metrics_dir._started(os.getpid())}"
    for name in ("999999999-1", alive, f"{zombie.pid}-{zombie_started}"):
        (base / name).mkdir(parents=True)
    environ = {"IDP_METRICS_ALLOW_FROM": "127.0.0.1"}
    os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    path = metrics_dir.prepare(tmp_path, environ)
    zombie.wait()
    assert path == base / f"{os.getppid()}-{metrics_dir._started(os.getppid())}"
    assert environ["PROMETHEUS_MULTIPROC_DIR"] == str(path)
    assert sorted(p.name for p in base.iterdir()) == sorted({path.name, alive})
