"""Endpoints for the machinery around the provider: liveness and readiness for a load
balancer (no authentication, no versions, no host names in the answers), and metrics
for Prometheus (never public)."""

from __future__ import annotations

import hmac
import ipaddress
import json

from flask import Blueprint, Response, abort, current_app, request

from .. import metrics

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


@bp.get("/metrics")
def metrics_view() -> Response:
    """Prometheus text format, never public by default: served only when IDP_METRICS_TOKEN
    (a bearer token) or IDP_METRICS_ALLOW_FROM (addresses) is configured, and then only to
    a request that satisfies each one that is."""
    config = current_app.config
    token, networks = config.get("IDP_METRICS_TOKEN"), config.get("IDP_METRICS_NETWORKS", ())
    if not token and not networks:
        abort(404)
    if networks and not _address_in(request.remote_addr, networks):
        abort(403)
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            return Response("", status=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def _address_in(address: str | None, networks) -> bool:  # noqa: ANN001
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in network for network in networks)
