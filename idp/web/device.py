"""Device cookies (OWASP Authentication Cheat Sheet, "device cookies"): a signed cookie
that a browser gets after a complete sign-in to an account. Attempts from that browser for
that account are counted on their own, so an attacker elsewhere who exhausts the
account's counter cannot lock this browser out. It proves nothing about the person: it
only picks which counter an attempt is charged to."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from flask import Flask, Response, current_app, g, request
from itsdangerous import BadSignature, URLSafeSerializer

from ..authn.browser import Browser

if TYPE_CHECKING:
    from ..models import User

COOKIE = "idp_device"
MAX_ACCOUNTS = 5  # a shared family computer; older accounts fall off
MAX_AGE = 365 * 86400


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="idp-device")


def _read() -> dict | None:
    """The cookie's verified content, read once per request: a sign-in asks three times
    (the lockout's browser, whether it is new to the account, the cookie to write back)."""
    if "idp_device" not in g:
        g.idp_device = _verified()
    return g.idp_device


def _verified() -> dict | None:
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 2048:
        return None
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("d"), str) or not isinstance(data.get("a"), list):
        return None
    return data


def browser() -> Browser:
    """Who is trying, for the lockout: the client address and this browser's device cookie."""
    data = _read()
    if data is None:
        return Browser(ip=client_ip())
    return Browser(ip=client_ip(), device=data["d"], trusted_accounts=frozenset(a for a in data["a"] if isinstance(a, str)))


def client_ip() -> str:
    return request.remote_addr or "unknown"


def is_new_for(account: str) -> bool:
    """Whether this browser never completed a sign-in to `account` before."""
    data = _read()
    return not (data and account in data["a"])


def signed_in(user: "User", account: str) -> None:
    """A complete sign-in from this browser: tell the person if the browser is new to the
    account (as Cognito's advanced security does), and remember it on the response."""
    if is_new_for(account):
        _notify_new_device(user)
    g.idp_trust_account = account


def _notify_new_device(user: "User") -> None:
    from .. import mail

    from ..accounts import language_of

    subject, body = mail.compose(
        "new_device", language_of(user), site=current_app.config["IDP_ISSUER"], when=datetime.now(timezone.utc),
        address=request.remote_addr,
        browser=(request.user_agent.string or "")[:200],
    )
    mail.send_later(user.email, subject, body)


def register(app: Flask) -> None:
    @app.after_request
    def write_device_cookie(response: Response) -> Response:
        account = g.pop("idp_trust_account", None)
        if account is None:
            return response
        data = _read() or {"d": secrets.token_urlsafe(16), "a": []}
        accounts = [a for a in data["a"] if a != account][-(MAX_ACCOUNTS - 1):] + [account]
        response.set_cookie(
            COOKIE, _serializer().dumps({"d": data["d"], "a": accounts}), max_age=MAX_AGE,
            httponly=True, secure=current_app.config["SESSION_COOKIE_SECURE"], samesite="Lax",
        )
        return response
