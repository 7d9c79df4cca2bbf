"""Jinja filters beside idp.i18n's `when`: how long ago, in the viewer's language."""

from __future__ import annotations

from flask import Flask
from flask_babel import format_timedelta

from .. import clock


def ago(timestamp: int | None) -> str:
    """How long ago, e.g. "3 minutes" (the template says "ago" in its own words)."""
    if timestamp is None:
        return ""
    return format_timedelta(max(0, clock.now() - int(timestamp)), threshold=0.9)


def register(app: Flask) -> None:
    app.jinja_env.filters["ago"] = ago
