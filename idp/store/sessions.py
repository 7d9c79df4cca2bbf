"""Server-side browser sessions in Redis: the cookie holds only a random id.

Server-side, so that sign-out, admin disable and "end all my sessions" really end them, and
so that `regenerate()` gives a new id at sign-in (no session fixation).

A signed-in session ends at the first of two limits, both checked here at every read and
both set as the Redis TTL at every write: IDP_SESSION_TTL after sign-in (absolute, whatever
the activity) and IDP_SESSION_IDLE_TTL after the last request (idle). The sign-in time is in
the session value (`SIGNED_IN_AT`, written by web.session), with the time of the last write.
"""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin

from .. import clock
from . import ERRORS, StoreUnavailable, reachable

log = logging.getLogger("idp")

PREFIX = "idp:session:"
#: An anonymous session (a CSRF token before sign-in) does not need to live long.
ANONYMOUS_TTL = 3600
#: The session key holding the time of the last sign-in (a first factor verified).
SIGNED_IN_AT = "signed_in_at"
#: Kept beside the content in Redis, not in it: when the session was last written.
_SAVED_AT = "_saved_at"
#: A read-only request rewrites a signed-in session (one SET) once this fraction of the
#: idle timeout has passed since its last write, so activity keeps it alive and a burst of
#: requests costs no extra round trip.
TOUCH_FRACTION = 10


class RedisSession(SessionMixin):
    """A session read from Redis only when a view first looks at it: the protocol endpoints
    (token, userinfo, introspection, JWKS) never do, and cost no round trip for it. An
    unreachable Redis at that moment is StoreUnavailable, which answers 503 (fail closed)."""

    def __init__(self, load: Callable[[], dict] | None = None, sid: str | None = None):
        self._load = load
        self._data: dict | None = None if load else {}
        self.sid = sid
        self.modified = False
        self.stale_sid: str | None = None
        self.saved_at: int | None = None

    @property
    def loaded(self) -> bool:
        return self._data is not None

    def _items(self) -> dict:
        if self._data is None:
            assert self._load is not None
            self._data, self._load = self._load(), None
            self.saved_at = self._data.pop(_SAVED_AT, None)
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._items()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._items()[key] = value
        self.modified = True

    def __delitem__(self, key: str) -> None:
        del self._items()[key]
        self.modified = True

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def regenerate(self) -> None:
        """Give the session a new id, keeping its content; the old id stops working."""
        self._items()
        if self.sid:
            self.stale_sid = self.sid
        self.sid = None
        self.modified = True


class RedisSessionInterface(SessionInterface):
    def __init__(self, redis_client: Any, *, absolute_ttl: int, idle_ttl: int):
        self.redis = redis_client
        self.absolute_ttl = absolute_ttl
        self.idle_ttl = idle_ttl
        #: The answer to give instead when the session cannot be saved (web.errors sets it).
        self.unavailable: Callable[[], Response] | None = None

    def open_session(self, app: Flask, request: Request) -> RedisSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > 64:
            return RedisSession()
        return RedisSession(functools.partial(self._read, sid), sid=sid)

    def _read(self, sid: str) -> dict:
        try:
            raw = self.redis.get(PREFIX + sid)
        except ERRORS as exc:
            raise StoreUnavailable(str(exc)) from exc
        data = json.loads(raw) if raw else {}
        if data.get("auth") and self._ttl(data, now=clock.now(), saved_at=data.get(_SAVED_AT)) <= 0:
            return {}  # over a limit (Redis has not expired it yet): empty, so deleted at save
        return data

    def _ttl(self, data: dict, *, now: int, saved_at: int | None) -> int:
        """Seconds a signed-in session has left: the nearer of its two limits."""
        signed_in_at = data.get(SIGNED_IN_AT, now)
        idle_left = self.idle_ttl - (now - saved_at) if saved_at is not None else self.idle_ttl
        return min(idle_left, signed_in_at + self.absolute_ttl - now)

    def save_session(self, app: Flask, session: RedisSession, response: Response) -> None:  # type: ignore[override]
        if not session.loaded or (session.sid is None and not session.modified):
            return  # nobody looked, or a new session that nobody wrote to: nothing to save
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        try:
            # One round trip: the old id's removal (a regenerated session) with the write.
            pipe = self.redis.pipeline(transaction=False)
            if session.stale_sid:
                pipe.delete(PREFIX + session.stale_sid)
            if not session:
                if session.sid:
                    pipe.delete(PREFIX + session.sid)
                    response.delete_cookie(name, domain=domain, path=path)
                if len(pipe):
                    pipe.execute()
                return
            now = clock.now()
            signed_in = bool(session.get("auth"))
            if signed_in and SIGNED_IN_AT not in session:
                session[SIGNED_IN_AT] = now  # a session from before the limit: it starts now
            touch = signed_in and session.saved_at is not None and \
                now - session.saved_at >= self.idle_ttl // TOUCH_FRACTION
            if not session.modified and not touch:
                if len(pipe):
                    pipe.execute()
                return
            # Measured from this write: the idle timeout starts again, the absolute one does not.
            ttl = self._ttl(session, now=now, saved_at=None) if signed_in else ANONYMOUS_TTL
            if ttl <= 0:
                if session.sid:
                    pipe.delete(PREFIX + session.sid)
                    response.delete_cookie(name, domain=domain, path=path)
                if len(pipe):
                    pipe.execute()
                return
            if session.sid is None:
                session.sid = secrets.token_urlsafe(32)
            pipe.set(PREFIX + session.sid, json.dumps({**session, _SAVED_AT: now}), ex=ttl)
            _index(pipe, session, self.absolute_ttl)
            pipe.execute()
        except ERRORS as exc:
            # The browser gets no cookie, so nothing points at a session that does not
            # exist; and not the page either, whose form or redirect would need it: the
            # answer becomes the 503 of an outage (issue 9, item 1: out of memory too).
            log.error("session not saved, redis unavailable: %s", exc)
            if response.status_code < 500 and self.unavailable is not None:
                _replace(response, self.unavailable())
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


def _replace(response: Response, answer: Response) -> None:
    """Flask has already chosen the response object: make it say what `answer` says."""
    response.status_code = answer.status_code
    response.set_data(answer.get_data())
    response.headers.pop("Location", None)
    for name in ("Content-Type", "Retry-After", "Cache-Control"):
        if name in answer.headers:
            response.headers[name] = answer.headers[name]


# --- a person's sessions (the account page's "sessions and devices") ----------------------

INDEX = "idp:sessions-of:"


def _index(pipe: Any, session: RedisSession, ttl: int) -> None:
    """Note a signed-in session under its person, in the pipeline that writes it (no extra
    round trip). The index outlives every session it names (`ttl` is the longest a session
    lives); names of sessions that ended meanwhile are dropped when it is read."""
    auth = session.get("auth")
    if not auth:
        return
    key = INDEX + str(auth["uid"])
    if session.stale_sid:
        pipe.srem(key, session.stale_sid)
    pipe.sadd(key, session.sid)
    pipe.expire(key, ttl)


def sessions_of(user_id: int) -> list[tuple[str, dict]]:
    """The person's live sessions: (session key, content), oldest first."""
    key = INDEX + str(user_id)
    with reachable() as r:
        ids = sorted(m.decode() for m in r.smembers(key))
        if not ids:
            return []
        raws = r.mget([PREFIX + i for i in ids])
        live, gone = [], []
        for sid, raw in zip(ids, raws):
            data = json.loads(raw) if raw else None
            if data and (data.get("auth") or {}).get("uid") == user_id:
                live.append((sid, data))
            else:
                gone.append(sid)
        if gone:
            r.srem(key, *gone)
    return sorted(live, key=lambda item: (item[1].get("device") or {}).get("at", 0))


def end_sessions(user_id: int, sids: list[str]) -> None:
    """End these sessions of the person (their browsers are signed out at once)."""
    if not sids:
        return
    with reachable() as r:
        pipe = r.pipeline(transaction=False)
        pipe.delete(*(PREFIX + sid for sid in sids))
        pipe.srem(INDEX + str(user_id), *sids)
        pipe.execute()
