"""The language switch on every page: remembers the choice in a cookie and goes back."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, Response, abort, current_app, redirect, request

from .. import i18n
from ..extensions import db
from . import flow, session as web_session

bp = Blueprint("language", __name__)


def back_to(target: str | None) -> str:
    """Only a path on this site: the switch must not become an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


@bp.get("/language/<code>")
def switch(code: str) -> Response:
    if code not in i18n.LANGUAGES:
        abort(404)
    target = back_to(request.args.get("next"))
    flow_id = parse_qs(urlsplit(target).query).get("flow", [""])[0]
    if flow_id:
        flow.choose_language(flow_id, code)
    user, _state = web_session.current_user()
    if user is not None and user.locale != code:
        user.locale = code  # their mail follows
        db.session.commit()
    response = redirect(target, code=303)
    response.set_cookie(
        i18n.COOKIE, code, max_age=i18n.COOKIE_MAX_AGE, httponly=True, samesite="Lax",
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
    )
    return response
