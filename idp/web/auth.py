"""The hosted sign-in pages."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from .. import clock
from ..authn.password import InvalidCredentials, authenticate
from ..extensions import db
from ..store import flows
from . import session as web_session

bp = Blueprint("auth", __name__)

MAX_FIELD = 4096  # nobody's password is longer; nobody gets to make us hash a novel


def _flow_or_none(flow_id: str | None) -> dict | None:
    flow = flows.get(flow_id) if flow_id else None
    if flow is None or flow["bind"] != web_session.browser_binding():
        return None
    return flow


@bp.get("/login")
def login() -> Response | str:
    flow_id = request.args.get("flow")
    flow = _flow_or_none(flow_id)
    if flow_id and flow is None:
        return _expired()
    email = (flow or {}).get("login_hint") or ""
    return render_template("auth/login.html", flow=flow_id, email=email)


@bp.post("/login")
def login_submit() -> Response | tuple[str, int]:
    flow_id = request.form.get("flow") or None
    flow = _flow_or_none(flow_id)
    if flow_id and flow is None:
        return _expired()
    email = request.form.get("email", "")[:320]
    password = request.form.get("password", "")[:MAX_FIELD]
    try:
        user = authenticate(email, password, passwords=current_app.extensions["idp.passwords"])
    except InvalidCredentials:
        page = render_template(
            "auth/login.html", flow=flow_id, email=email, error="Incorrect email or password."
        )
        return page, 401
    user.last_login_at = clock.now()
    db.session.commit()
    web_session.record_factor(user, "pwd")
    return _continue(flow_id)


def _continue(flow_id: str | None) -> Response:
    # 303: the browser follows with a GET and never re-posts the credentials.
    if flow_id:
        return redirect(url_for("oauth.resume", flow=flow_id), code=303)
    return redirect(url_for("auth.signed_in"), code=303)


@bp.get("/signed-in")
def signed_in() -> Response | str:
    user, _ = web_session.current_user()
    if user is None:
        return redirect(url_for("auth.login"))
    return render_template("auth/signed_in.html", user=user)


def _expired() -> tuple[str, int]:
    page = render_template(
        "oauth/error.html",
        error="expired_flow",
        description="This sign-in has expired. Go back to the application and start again.",
    )
    return page, 400
