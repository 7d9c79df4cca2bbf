"""The hosted sign-in pages: password, then the second factor if one is needed."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from .. import audit, clock, mfa
from ..authn.password import InvalidCredentials, authenticate
from ..authn.policy import AuthState
from ..authn.steps import after_password, user_floor
from ..extensions import db
from ..lockout.regulator import Attempt, Locked, Regulator, Reservation, account_key
from ..mfa import recovery, totp
from ..models import TotpFactor, User
from ..store import counters, pending
from . import device, flow, session as web_session

bp = Blueprint("auth", __name__)

MAX_FIELD = 4096  # nobody's password is longer; nobody gets to make us hash a novel


def client_ip() -> str:
    return request.remote_addr or "unknown"


@bp.get("/login")
def login() -> Response | str:
    current = flow.from_request()
    if isinstance(current, Response):
        return current
    email = (current.request.login_hint if current.request else None) or ""
    return render_template("auth/login.html", flow=current, email=email)


@bp.post("/login")
def login_submit() -> Response | tuple[str, int]:
    current = flow.from_request()
    if isinstance(current, Response):
        return current
    email = request.form.get("email", "")[:320]
    password = request.form.get("password", "")[:MAX_FIELD]
    account = account_key(email)
    # Reserved before the password is looked at: a locked account, and a correct password
    # during a lockout, get the same refusal, and nothing is evaluated.
    try:
        reservation = _regulator().reserve(Attempt(account=account, ip=client_ip(), device=device.trusted_for(account)))
    except Locked as locked:
        return _locked("auth/login.html", locked, flow=current, email=email)
    try:
        user = authenticate(email, password, passwords=current_app.extensions["idp.passwords"])
    except InvalidCredentials:
        failed(reservation, factor="pwd", account=account)
        page = render_template("auth/login.html", flow=current, email=email, error="Incorrect email or password.")
        return page, 401
    now = clock.now()
    audit.emit("login.password_ok", user_id=user.id, ip=client_ip())
    db.session.commit()
    # What would the session be worth with this password? If a second factor is still
    # needed, the password waits in a pending record: the session gets nothing yet.
    _, state = web_session.current_user()
    if state is None or state.user_id != user.id:
        state = AuthState(user_id=user.id, sid="")
    outcome = flow.evaluate(current, user, state.with_factor("pwd", now), just_verified=frozenset({"pwd"}))
    enrolled = mfa.enrolled(user.id)
    second = after_password(outcome, floor=user_floor(mfa_required=user.mfa_required, enrolled=enrolled), enrolled=enrolled)
    if second is not None:
        _regulator().succeeded(reservation, complete=False)
        return flow.go_to_step(current, second, user, pwd_at=now)
    user.last_login_at = now
    db.session.commit()
    _regulator().succeeded(reservation, complete=True)
    device.signed_in(user, account)
    flow.record_verified(current, user, {"pwd": now})
    return _onward(current)


def _regulator() -> Regulator:
    return current_app.extensions["idp.regulator"]


def _locked(template: str, locked: Locked, **context) -> tuple[str, int, dict]:
    """429 with Retry-After (RFC 6585 §4), and the page says when to try again."""
    error = f"Too many attempts. Try again in {locked.retry_after} second{'s' if locked.retry_after != 1 else ''}."
    return render_template(template, error=error, **context), 429, {"Retry-After": str(locked.retry_after)}


def failed(reservation: Reservation, *, factor: str, user_id: int | None = None, **detail: str) -> None:
    """A wrong credential: its reservation stays counted; a counter that reaches its
    threshold with it is a lockout, which the audit log records."""
    db.session.rollback()
    audit.emit("login.failed", user_id=user_id, ip=client_ip(), factor=factor, **detail)
    for key in reservation.reached_lock():
        audit.emit("lockout", user_id=user_id, ip=client_ip(), counter=key.split(":")[0], factor=factor)
    db.session.commit()


def _onward(current: flow.Flow) -> Response:
    # 303: the browser follows with a GET and never re-posts the credentials.
    return redirect(flow.continue_url(current), code=303)


@bp.get("/login/continue")
def resume_next() -> Response:
    """The end of a sign-in that no client asked for (our own account pages)."""
    return flow.proceed(flow.Flow(None, None, None, flow.safe_next(request.args.get("next"))))


# --- the second factor ------------------------------------------------------------------

def pending_sign_in(current: flow.Flow) -> tuple[dict, User] | tuple[None, None]:
    """The pending record of this browser, if it is for this very flow (seed 003's holes:
    a pending state of another person or another flow is worth nothing here)."""
    record = pending.peek(web_session.pending_id())
    if record is None or record["bind"] != web_session.browser_binding():
        return None, None
    if record["flow"] != current.id or (current.id is None and record["next"] != current.next):
        return None, None
    user = db.session.get(User, record["user_id"])
    if user is None or user.disabled or record.get("epoch") != user.session_epoch:
        return None, None
    if record["purpose"] == "step_up":
        _, state = web_session.current_user()
        if state is None or state.user_id != user.id:
            return None, None
    return record, user  # "login": after the password; "reset": after a mailed reset link


def _mfa_context(record: dict, user: User) -> dict:
    return {
        "methods": record["methods"],
        "has_totp": db.session.query(TotpFactor.id).filter_by(user_id=user.id).first() is not None,
        "recovery_left": mfa.recovery_codes_left(user.id),
    }


def _mfa_page(current: flow.Flow, record: dict, user: User, error: str | None = None, status: int = 200):
    return render_template("auth/mfa.html", flow=current, error=error, **_mfa_context(record, user)), status


def with_pending(view: Callable) -> Callable:
    """The view runs inside a pending sign-in of this browser: `current, record, user`."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        current = flow.from_request()
        if isinstance(current, Response):
            return current
        record, user = pending_sign_in(current)
        if record is None:
            return flow.expired()
        return view(current, record, user, *args, **kwargs)

    return guarded


@bp.get("/login/mfa", endpoint="mfa")
@with_pending
def mfa_page(current: flow.Flow, record: dict, user: User) -> Response | tuple[str, int]:
    return _mfa_page(current, record, user)


@bp.post("/login/mfa")
@with_pending
def mfa_submit(current: flow.Flow, record: dict, user: User) -> Response | tuple[str, int]:
    guard = second_factor_guard(user)
    if isinstance(guard, Locked):
        context = _mfa_context(record, user)
        return _locked("auth/mfa.html", guard, flow=current, **context)
    if guard is None:
        return _start_over(current)
    keyring = current_app.extensions["idp.keyring"]
    code = request.form.get("code", "")[:64]
    recovery_code = request.form.get("recovery_code", "")[:64]
    factor = None
    if code and "otp" in record["methods"] and totp.verify(user_id=user.id, code=code, keyring=keyring):
        factor = "totp"
    elif recovery_code and "otp" in record["methods"] and recovery.consume(user_id=user.id, code=recovery_code):
        factor = "recovery_code"
        audit.emit("mfa.recovery_code_used", user_id=user.id, ip=client_ip(),
                   remaining=mfa.recovery_codes_left(user.id))
    if factor is None:
        failed(guard, factor="recovery_code" if recovery_code and not code else "otp", user_id=user.id)
        return _mfa_page(current, record, user, error="That code is not valid.", status=401)
    return complete(current, record, user, {"otp": clock.now()}, factor=factor, reservation=guard)


def second_factor_guard(user: User) -> Reservation | Locked | None:
    """Before a second factor is evaluated: the lockout (it counts like a password), then
    this sign-in's own small budget. None: the budget is spent and the sign-in is dead."""
    account = account_key(user.email)
    try:
        reservation = _regulator().reserve(Attempt(account=account, ip=client_ip(), device=device.trusted_for(account)))
    except Locked as locked:
        return locked
    pending_id = web_session.pending_id() or ""
    tries = counters.incr_once(f"pending:{pending_id}", pending.TTL)
    if tries > current_app.config["IDP_MFA_MAX_ATTEMPTS"]:
        pending.discard(pending_id)
        audit.emit("login.second_factor_budget_spent", user_id=user.id, ip=client_ip())
        db.session.commit()
        return None
    return reservation


def _start_over(current: flow.Flow) -> tuple[str, int]:
    page = render_template(
        "oauth/error.html", error="too_many_attempts",
        description="Too many wrong codes for this sign-in. Start again from the password.",
        retry_url=url_for("auth.login", flow=current.id) if current.id else url_for("auth.login", next=current.next),
    )
    return page, 429


def complete(
    current: flow.Flow, record: dict, user: User, factors: dict[str, int], *, factor: str, reservation: Reservation
) -> Response:
    """Finish a pending sign-in: the record is used up, the session gets every factor."""
    if pending.take(web_session.pending_id() or "") is None:
        db.session.rollback()
        return flow.expired()
    _regulator().succeeded(reservation, complete=True)
    device.signed_in(user, account_key(user.email))
    if record["pwd_at"] is not None:
        factors = {"pwd": record["pwd_at"], **factors}
    audit.emit("login.second_factor_ok", user_id=user.id, ip=client_ip(), factor=factor)
    user.last_login_at = clock.now()
    db.session.commit()
    flow.record_verified(current, user, factors)
    if record["purpose"] == "reset":
        # Back to the reset page, which now finds the second factor it asked for.
        return redirect(flow.safe_next(record["next"]), code=303)
    return _onward(current)
