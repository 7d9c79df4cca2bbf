"""The dashboard and the alert rules in deploy/ name only metrics the provider exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import generate_latest

from idp import metrics  # noqa: F401  (registers the metrics)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SUFFIXES = ("_bucket", "_count", "_sum")


def exported() -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in generate_latest().decode().splitlines()
            if line.startswith("idp_")}


def named(expression: str) -> set[str]:
    return set(re.findall(r"\bidp_[a-z0-9_]+", expression))


def test_the_dashboard_queries_exported_metrics():
    dashboard = json.loads((DEPLOY / "grafana/idp-dashboard.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = set().union(*map(named, expressions))
    assert used and used <= exported(), used - exported()


def test_three_alert_rules_on_exported_metrics():
    rules = (DEPLOY / "prometheus/alerts.yml").read_text()
    alerts = re.findall(r"- alert: (\w+)", rules)
    assert alerts == ["IdpLockoutStorm", "IdpRefreshTokenReuseSpike", "IdpRedisDown"]
    used = set().union(*map(named, re.findall(r"expr: (.+)", rules)))
    assert used <= exported(), used - exported()
    assert all(not name.endswith(SUFFIXES) or name in exported() for name in used)
