"""Every error becomes a clear page or JSON answer with the right status; never a bare 500."""

from __future__ import annotations

import json
import logging

from authlib.oauth2.rfc6749.errors import InsecureTransportError
from flask import Flask, Response, current_app, render_template, request
from flask_babel import force_locale, gettext, lazy_gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError, TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, abort

from .. import metrics, store
from ..extensions import db
from ..lockout.regulator import Busy
from ..migration.verifier import VerifierUnavailable
from ..security.passwords import HasherBusy
from ..store import StoreUnavailable

log = logging.getLogger("idp")

_SIGN_IN_UNAVAILABLE = lazy_gettext("Sign-in is unavailable for a moment. Please try again shortly.")
_JSON_PATHS = ("/token", "/revoke", "/introspect", "/userinfo", "/jwks.json", "/.well-known/", "/webauthn/")


def _wants_json() -> bool:
    return request.path.startswith(_JSON_PATHS)


#: A page's heading for its status.
_HEADINGS = {
    404: lazy_gettext("Not found"),
    429: lazy_gettext("Too many attempts"),
    503: lazy_gettext("Temporarily unavailable"),
}
#: What a page says in place of Werkzeug's English description of an HTTP error.
_DESCRIPTIONS = {
    404: lazy_gettext("There is no page at this address. Check the link, or start from the sign-in page."),
    405: lazy_gettext("This page cannot be used this way. Go back and try again."),
    413: lazy_gettext("What was sent is too large."),
}
_GENERIC = lazy_gettext("The request could not be handled. Go back and try again.")


def _answer(status: int, error: str, description: str, retry_after: int | None = None) -> Response:
    """`description`: a lazy string, or text of our own, said in the reader's language on a
    page; an API client reads it in English (it is for the developer, RFC 6749 §5.2)."""
    if _wants_json():
        with force_locale("en"):
            body = json.dumps({"error": error, "error_description": str(description)})
        response = Response(body, status=status, mimetype="application/json")
    else:
        heading = _HEADINGS.get(status, lazy_gettext("Something is wrong"))
        page = render_template("errors/error.html", status=status, error=error, heading=heading, description=description)
        response = Response(page, status=status)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    response.headers["Cache-Control"] = "no-store"
    return response


def _too_large() -> str:
    return gettext("The request is too large: at most %(limit)d bytes are accepted.",
                   limit=current_app.config["MAX_CONTENT_LENGTH"])


def register(app: Flask) -> None:
    def body_within_limit() -> None:
        # Issue 9, item 2: refused on its Content-Length alone, before anything (CSRF
        # protection, the NUL check, a view) reads a byte of it.
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        if limit is None:
            return
        if request.content_length is not None:
            if request.content_length > limit:
                abort(413, description=_too_large())
        elif request.environ.get("wsgi.input_terminated") and "chunked" in request.environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            # Chunked, no length: werkzeug stops reading at the limit but would hand the
            # view a truncated body. Read it here (kept for the view), at most `limit` bytes.
            # Only then: granian marks every request's input terminated, and reading an
            # empty body on every GET cost 5 % of a request's time.
            if len(request.get_data(cache=True)) >= limit:
                abort(413, description=_too_large())

    def no_nul_characters() -> None:
        # PostgreSQL refuses NUL in text: such input is malformed, not a server error.
        values = [request.path, *request.args.values(), *(request.form.values() if request.form else ())]
        if any("\x00" in value for value in values):
            abort(400, description=lazy_gettext("The request contains a NUL character."))

    # First of all before_request hooks: before CSRF protection reads the session.
    app.before_request_funcs.setdefault(None, [])[:0] = [body_within_limit, no_nul_characters]

    @app.errorhandler(StoreUnavailable)
    def store_down(exc: StoreUnavailable) -> Response:
        # Fail closed: without Redis there is no session, lockout or replay protection.
        log.error("redis unavailable: %s", exc)
        metrics.redis_unavailable()
        return _answer(503, "temporarily_unavailable", _SIGN_IN_UNAVAILABLE, 5)

    if hasattr(app.session_interface, "unavailable"):
        # A session Redis refused to save (out of memory): the page that needed it is not shown.
        app.session_interface.unavailable = lambda: _answer(503, "temporarily_unavailable", _SIGN_IN_UNAVAILABLE, 5)

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def database_down(exc: OperationalError | PoolTimeout) -> Response:
        # A lost connection (a database restart): the pool is rebuilt for the next request.
        # No free connection within pool_timeout (more requests at once than the pools hold,
        # or a stuck statement): the same answer.
        log.error("database unavailable: %s", exc)
        db.session.rollback()
        return _answer(503, "temporarily_unavailable", lazy_gettext("The service is unavailable for a moment. Please try again shortly."), 5)

    @app.errorhandler(HasherBusy)
    def hasher_busy(exc: HasherBusy) -> Response:
        return _answer(503, "temporarily_unavailable", lazy_gettext("Too many sign-ins at once. Please try again in a moment."), 2)

    @app.errorhandler(Busy)
    def attempts_in_flight(exc: Busy) -> Response:
        # Not a lockout and not a failure: others' attempts on this account are still being
        # evaluated. A short wait, never a step of the doubling schedule.
        return _answer(503, "temporarily_unavailable", "Several sign-ins to this account are under way. Please try again in a moment.", exc.retry_after)

    @app.errorhandler(VerifierUnavailable)
    def legacy_verifier_down(exc: VerifierUnavailable) -> Response:
        # Fail closed: the old system could not say whether the password is right.
        log.error("%s", exc)
        return _answer(503, "temporarily_unavailable", _SIGN_IN_UNAVAILABLE, 5)

    @app.errorhandler(InsecureTransportError)
    def insecure_transport(exc: InsecureTransportError) -> Response:
        # authlib checks the request's URI before its own error handling: plain http to
        # anything but loopback, or a Host header it cannot parse, is the client's error.
        return _answer(400, "invalid_request", lazy_gettext("The request did not come over https, or its address is not valid."))

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Response:
        if not store.is_reachable():
            # Without the session store no token can match: say what is really wrong.
            return store_down(StoreUnavailable("the session store is unreachable"))
        return _answer(400, "invalid_request", lazy_gettext("The form expired or was not sent by this site. Go back, reload the page and try again."))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code == 413:  # werkzeug's own (a stream or a form past its limits) says less
            return _answer(413, "request_too_large", _too_large())
        description = exc.description or ""
        if not _wants_json() and description == type(exc).description:
            # Werkzeug's own English sentence: a page says one of ours.
            description = _DESCRIPTIONS.get(exc.code, _GENERIC)
        return _answer(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), description)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return _answer(500, "server_error", lazy_gettext("Something went wrong on our side. Please try again."))
