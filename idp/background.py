"""Work that leaves the request: it runs after the answer, in a thread of its own with an
app context of its own (its own database session), so that what it costs, or whether it
runs at all, shows in no response time."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import current_app

from .extensions import db

log = logging.getLogger("idp")


def later(name: str, job: Callable[..., None], /, *args: Any, **kwargs: Any) -> None:
    """Run `job(*args, **kwargs)` in the background; a failure is logged, never raised."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        with app.app_context():
            try:
                job(*args, **kwargs)
            except Exception:  # noqa: BLE001 (nobody is left to answer: log it)
                db.session.rollback()
                log.exception("background job %s failed", name)

    threading.Thread(target=run, name=f"idp-{name}", daemon=True).start()
