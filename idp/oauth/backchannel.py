"""OpenID Connect Back-Channel Logout 1.0: when grants end with their session (sign-out,
disabled account, password change, second factors reset), every client registered with a
`backchannel_logout_uri` that had a grant in that session is sent a signed `logout_token`.

Tokens are signed in the request that ended the session and collected on the database
session; they leave only after it commits (a rolled-back sign-out notifies no one). A
daemon thread per process delivers them, retrying with a bounded exponential backoff, so
the person's request never waits for a client. Delivery is best effort: a process that dies
with tokens still queued loses them (the grants are revoked regardless, and the client's
next refresh or userinfo call fails).
"""

from __future__ import annotations

import atexit
import logging
import queue
import secrets
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from .. import clock
from ..net import Http, NetError
from . import client_lookup, jwt

log = logging.getLogger("idp.backchannel")

EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: §2.4 recommends a short lifetime; the client checks iat/exp with its own clock.
TOKEN_TTL = 120
_PENDING = "idp.backchannel"


@dataclass(frozen=True)
class Delivery:
    client_id: str
    url: str
    logout_token: str


def logout_token(*, issuer: str, client_id: str, subject: str, sid: str | None) -> dict[str, Any]:
    """The claims of a logout token (Back-Channel Logout 1.0 §2.4): never a nonce."""
    now = clock.now()
    claims: dict[str, Any] = {
        "iss": issuer, "aud": client_id, "iat": now, "exp": now + TOKEN_TTL,
        "jti": secrets.token_urlsafe(16), "sub": subject, "events": {EVENT: {}},
    }
    if sid:
        claims["sid"] = sid
    return claims


def sessions_ended(session: Session, ended: Iterable[tuple[str, str | None, str]]) -> None:
    """Queue a logout token for each (client_id, sid, subject) whose client asked for one;
    sent once `session` commits."""
    if not has_app_context():
        return
    keys, issuer = current_app.extensions["idp.keys"], current_app.config["IDP_ISSUER"]
    pending: dict[tuple[str, str | None], Delivery] = session.info.setdefault(_PENDING, {})
    for client_id, sid, subject in ended:
        client = client_lookup.find(client_id)
        url = getattr(client, "backchannel_logout_uri", None)
        if not url or (client_id, sid) in pending:
            continue
        claims = logout_token(issuer=issuer, client_id=client_id, subject=subject, sid=sid)
        pending[(client_id, sid)] = Delivery(client_id, url, jwt.sign(keys, claims, typ="logout+jwt"))
    if pending:
        session.info[_PENDING + ".sender"] = current_app.extensions["idp.backchannel"]


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    sender = session.info.pop(_PENDING + ".sender", None)
    if pending and sender is not None:
        for delivery in pending.values():
            sender.submit(delivery)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_PENDING + ".sender", None)


class Sender:
    """Delivers logout tokens from a queue on one daemon thread, retrying failures after
    base·2^n seconds (n < attempts); what still fails is logged and dropped."""

    def __init__(self, http: Http, *, attempts: int = 5, base_delay: float = 1.0):
        self.http = http
        self.attempts = attempts
        self.base_delay = base_delay
        self._queue: queue.Queue[tuple[float, int, Delivery]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, delivery: Delivery) -> None:
        self._queue.put((time.monotonic(), 0, delivery))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="backchannel-logout", daemon=True)
                self._thread.start()

    def drain(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for queued deliveries (a CLI process about to exit)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)

    def _run(self) -> None:
        while True:
            due, attempt, delivery = self._queue.get()
            try:
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if not self._deliver(delivery) and attempt + 1 < self.attempts:
                    self._queue.put((time.monotonic() + self.base_delay * 2**attempt, attempt + 1, delivery))
                elif attempt + 1 >= self.attempts:
                    log.warning("back-channel logout to client %s failed %d times; dropped", delivery.client_id, self.attempts)
            finally:
                self._queue.task_done()

    def _deliver(self, delivery: Delivery) -> bool:
        """§2.5: POST the token form-encoded; §2.8: 200 (or 204) means received."""
        body = urlencode({"logout_token": delivery.logout_token}).encode()
        try:
            answer = self.http.request("POST", delivery.url, body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Cache-Control": "no-store",
            })
        except NetError as exc:
            log.info("back-channel logout to client %s: %s", delivery.client_id, exc)
            return False
        return answer.status in (200, 204)


def init_app(app: Any) -> None:
    c = app.config
    sender = Sender(Http(c["IDP_BACKCHANNEL_TIMEOUT"], c["IDP_ENV"] != "production"),
                    attempts=c["IDP_BACKCHANNEL_ATTEMPTS"], base_delay=c["IDP_BACKCHANNEL_RETRY_SECONDS"])
    app.extensions["idp.backchannel"] = sender
    _SENDERS.add(sender)


_SENDERS: weakref.WeakSet[Sender] = weakref.WeakSet()


@atexit.register
def _drain_at_exit() -> None:
    # A command (idp users disable …) exits right after its commit: give delivery a moment.
    for sender in list(_SENDERS):
        sender.drain(10.0)
