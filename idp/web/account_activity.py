"""The account page's sessions and devices, and connected apps: see them, end one session
or all the others, revoke an app. Each change needs a recent second factor, like every
other change of the account."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, url_for

from .. import audit, connected_apps
from ..authn.policy import AuthState
from ..extensions import db
from ..models import User
from ..oauth import revocation
from ..store import sessions as stored_sessions
from . import session as web_session
from .account import fresh_enough, signed_in, step_up
from .device import client_ip
from .user_agents import describe

bp = Blueprint("activity", __name__, url_prefix="/account")


def _rows(user: User) -> list[dict]:
    """One row per live session: its OIDC sid is its public name (the store key is the
    cookie's value, which no page shows)."""
    here = web_session.session_key()
    rows = []
    for key, data in stored_sessions.sessions_of(user.id):
        device = data.get("device") or {}
        browser, system = describe(device.get("ua", ""))
        rows.append({"id": data["auth"]["sid"], "key": key, "browser": browser, "system": system,
                     "ip": device.get("ip"), "at": device.get("at"), "current": key == here})
    return rows


@bp.get("/sessions")
@signed_in
def sessions(user: User, state: AuthState) -> str:
    return render_template("account/sessions.html", rows=_rows(user))


@bp.post("/sessions/<sid>/end")
@signed_in
def session_end(user: User, state: AuthState, sid: str) -> Response:
    if not fresh_enough(user, state):
        return step_up(user, "/account/sessions")
    if sid == state.sid:
        return redirect(url_for("account.index"), code=303)  # this one ends with "Sign out"
    _end(user, [row for row in _rows(user) if row["id"] == sid and not row["current"]])
    return redirect(url_for("activity.sessions", done="ended"), code=303)


@bp.post("/sessions/end-others")
@signed_in
def sessions_end_others(user: User, state: AuthState) -> Response:
    if not fresh_enough(user, state):
        return step_up(user, "/account/sessions")
    _end(user, [row for row in _rows(user) if not row["current"] and row["id"] != state.sid])
    # A new epoch ends the sessions the list cannot name too (made before it existed), and
    # sign-ins in progress elsewhere; this browser's session carries over into it.
    user.session_epoch += 1
    db.session.commit()
    web_session.carry_into_new_epoch(user)
    return redirect(url_for("activity.sessions", done="ended-others"), code=303)


def _end(user: User, rows: list[dict]) -> None:
    """Like signing out in each: the session goes, with the grants made in it."""
    if not rows:
        return
    stored_sessions.end_sessions(user.id, [row["key"] for row in rows])
    for row in rows:
        revocation.revoke_session_grants(row["id"])
    audit.emit("session.ended_by_user", user_id=user.id, ip=client_ip(), sessions=len(rows))
    db.session.commit()


@bp.get("/apps")
@signed_in
def apps(user: User, state: AuthState) -> str:
    return render_template("account/apps.html", apps=connected_apps.of(user.id))


@bp.post("/apps/<client_id>/revoke")
@signed_in
def app_revoke(user: User, state: AuthState, client_id: str) -> Response:
    if not fresh_enough(user, state):
        return step_up(user, "/account/apps")
    connected_apps.revoke(user.id, client_id[:64], ip=client_ip())
    db.session.commit()
    return redirect(url_for("activity.apps", done="revoked"), code=303)
