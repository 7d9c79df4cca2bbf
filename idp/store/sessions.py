"""Server-side browser sessions in Redis: the cookie holds only a random id.

Server-side, so that sign-out, admin disable and "end all my sessions" really end them, and
so that `regenerate()` gives a new id at sign-in (no session fixation).
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from . import ERRORS, StoreUnavailable

log = logging.getLogger("idp")

PREFIX = "idp:session:"
#: An anonymous session (a CSRF token before sign-in) does not need to live long.
ANONYMOUS_TTL = 3600


class RedisSession(CallbackDict, SessionMixin):
    def __init__(self, initial: dict | None = None, sid: str | None = None):
        def on_update(self: "RedisSession") -> None:
            self.modified = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.modified = False
        self.stale_sid: str | None = None
        #: Redis could not be read: the request must fail closed (see `require_store`).
        self.unavailable = False

    def regenerate(self) -> None:
        """Give the session a new id, keeping its content; the old id stops working."""
        if self.sid:
            self.stale_sid = self.sid
        self.sid = None
        self.modified = True


class RedisSessionInterface(SessionInterface):
    def __init__(self, redis_client: Any, ttl: int):
        self.redis = redis_client
        self.ttl = ttl

    def open_session(self, app: Flask, request: Request) -> RedisSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > 64:
            return RedisSession()
        try:
            raw = self.redis.get(PREFIX + sid)
        except ERRORS:
            # Raising here would escape Flask's error handlers (the session opens before
            # dispatch); the request is refused with 503 by `require_store` instead.
            session = RedisSession(sid=sid)
            session.unavailable = True
            return session
        if raw is None:
            return RedisSession()
        return RedisSession(json.loads(raw), sid=sid)

    def save_session(self, app: Flask, session: RedisSession, response: Response) -> None:  # type: ignore[override]
        if session.unavailable:
            return
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        try:
            if session.stale_sid:
                self.redis.delete(PREFIX + session.stale_sid)
            if not session:
                if session.sid:
                    self.redis.delete(PREFIX + session.sid)
                    response.delete_cookie(name, domain=domain, path=path)
                return
            if not session.modified:
                return
            ttl = self.ttl if session.get("auth") else ANONYMOUS_TTL
            if session.sid is None:
                session.sid = secrets.token_urlsafe(32)
            self.redis.set(PREFIX + session.sid, json.dumps(dict(session)), ex=ttl)
        except ERRORS as exc:
            # Too late to change the answer (it is usually the 503 of the same outage): the
            # browser gets no cookie, so nothing points at a session that does not exist.
            log.error("session not saved, redis unavailable: %s", exc)
            return
        response.set_cookie(
            name,
            session.sid,
            max_age=ttl,
            httponly=True,
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
            domain=domain,
            path=path,
        )


def require_store(session: RedisSession) -> None:
    """Before every request: no session store, no service (fail closed, 503)."""
    if getattr(session, "unavailable", False):
        raise StoreUnavailable("the session store is unreachable")
