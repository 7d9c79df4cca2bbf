"""`/`: a small landing page, so nobody who types the bare address meets a 404."""

from __future__ import annotations

from flask import Blueprint, render_template

from . import session as web_session

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> str:
    user, _state = web_session.current_user()
    return render_template("home/index.html", user=user)
