"""The outermost layer of every request: its id (for the logs and the response), its
security headers, and its duration (for the latency histogram). WSGI, not Flask hooks, so
the time includes the session's save and every hook, a request id exists before the first
log line, and the headers cost a list operation rather than werkzeug's validation."""

from __future__ import annotations

import contextvars
import itertools
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request

from .. import metrics
from . import headers as security_headers

#: The id of the request being handled in this thread, for the log formatter.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("idp_request_id", default=None)

HEADER = "X-Request-ID"
ENDPOINT = "idp.endpoint"
# What a proxy's id looks like (uuids, hex, base64url): anything else is replaced, so a
# client cannot write arbitrary text into our logs.
_VALID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}")


_ids = itertools.count()
_prefix: tuple[int, str] = (0, "")


def _new_id() -> str:
    """32 hex digits, unique without a system call per request: a random prefix drawn once
    per process (after the server's fork, hence the pid) and a counter."""
    global _prefix
    pid = os.getpid()
    if _prefix[0] != pid:
        _prefix = (pid, secrets.token_hex(10))
    return f"{_prefix[1]}{next(_ids) % (1 << 48):012x}"


class RequestContext:
    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        given = environ.get("HTTP_X_REQUEST_ID", "")
        rid = given if _VALID.fullmatch(given) else _new_id()
        token = request_id.set(rid)

        def start_with_id(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            secured = security_headers.secure(status, headers)
            secured.append((HEADER, rid))
            return start_response(status, secured, exc_info)

        try:
            return self.app(environ, start_with_id)
        finally:
            request_id.reset(token)
            metrics.request_took(environ.get(ENDPOINT, "unmatched"), time.perf_counter() - started)


def install(app: Flask) -> None:
    """Wrap the app, and note each request's route for the histogram (Flask forgets the
    request object before the middleware's `finally` runs)."""
    from .constant_documents import ConstantDocuments

    app.wsgi_app = RequestContext(ConstantDocuments(app.wsgi_app, app))  # type: ignore[method-assign]

    @app.teardown_request
    def note_endpoint(exc: BaseException | None) -> None:
        rule = request.url_rule
        if rule is not None:
            request.environ[ENDPOINT] = rule.rule
