"""Every error becomes a clear page or JSON answer with the right status; never a bare 500."""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, abort

from .. import metrics, store
from ..extensions import db
from ..migration.verifier import VerifierUnavailable
from ..security.passwords import HasherBusy
from ..store import StoreUnavailable

log = logging.getLogger("idp")

_JSON_PATHS = ("/token", "/revoke", "/introspect", "/userinfo", "/jwks.json", "/.well-known/", "/webauthn/")


def _wants_json() -> bool:
    return request.path.startswith(_JSON_PATHS)


def _answer(status: int, error: str, description: str, retry_after: int | None = None) -> Response:
    if _wants_json():
        body = json.dumps({"error": error, "error_description": description})
        response = Response(body, status=status, mimetype="application/json")
    else:
        page = render_template("errors/error.html", status=status, error=error, description=description)
        response = Response(page, status=status)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app: Flask) -> None:
    def no_nul_characters() -> None:
        # PostgreSQL refuses NUL in text: such input is malformed, not a server error.
        values = [request.path, *request.args.values(), *(request.form.values() if request.form else ())]
        if any("\x00" in value for value in values):
            abort(400, description="The request contains a NUL character.")

    # First of all before_request hooks: before CSRF protection reads the session.
    app.before_request_funcs.setdefault(None, []).insert(0, no_nul_characters)

    @app.errorhandler(StoreUnavailable)
    def store_down(exc: StoreUnavailable) -> Response:
        # Fail closed: without Redis there is no session, lockout or replay protection.
        log.error("redis unavailable: %s", exc)
        metrics.redis_unavailable()
        return _answer(503, "temporarily_unavailable", "Sign-in is unavailable for a moment. Please try again shortly.", 5)

    @app.errorhandler(OperationalError)
    def database_down(exc: OperationalError) -> Response:
        # A lost connection (a database restart): the pool is rebuilt for the next request.
        log.error("database unavailable: %s", exc)
        db.session.rollback()
        return _answer(503, "temporarily_unavailable", "The service is unavailable for a moment. Please try again shortly.", 5)

    @app.errorhandler(HasherBusy)
    def hasher_busy(exc: HasherBusy) -> Response:
        return _answer(503, "temporarily_unavailable", "Too many sign-ins at once. Please try again in a moment.", 2)

    @app.errorhandler(VerifierUnavailable)
    def legacy_verifier_down(exc: VerifierUnavailable) -> Response:
        # Fail closed: the old system could not say whether the password is right.
        log.error("%s", exc)
        return _answer(503, "temporarily_unavailable", "Sign-in is unavailable for a moment. Please try again shortly.", 5)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Response:
        if not store.is_reachable():
            # Without the session store no token can match: say what is really wrong.
            return store_down(StoreUnavailable("the session store is unreachable"))
        return _answer(400, "invalid_request", "The form expired or was not sent by this site. Go back, reload the page and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return _answer(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or "")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return _answer(500, "server_error", "Something went wrong on our side. Please try again.")
