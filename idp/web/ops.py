"""Endpoints for the machinery around the provider: liveness and readiness for a load
balancer. No authentication, no versions, no host names in the answers."""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app

bp = Blueprint("ops", __name__)


def _json(status: int, body: dict) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers. Touches nothing, so a database or Redis outage never
    gets a healthy process restarted."""
    return _json(200, {"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: the database and Redis answer and the signing key is loaded; otherwise
    503 naming what is missing, so the load balancer sends sign-ins elsewhere."""
    missing = current_app.extensions["idp.readiness"].missing()
    if missing:
        return _json(503, {"status": "unavailable", "missing": missing})
    return _json(200, {"status": "ready"})
