"""The dashboard and the alert rules in deploy/ name only metrics the provider exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

from idp import metrics  # noqa: F401  (registers the metrics)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SUFFIXES = ("_bucket", "_count", "_sum")


def exported() -> set[str]:
    """The series names of our metric families (a histogram's exist before its first sample)."""
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("idp_"):
            names |= {family.name + s for s in SUFFIXES} if family.type == "histogram" else {family.name + "_total"}
    return names


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
