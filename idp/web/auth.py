"""The hosted sign-in pages: password, then the second factor if one is needed."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, redirect, render_template, request

from .. import audit, clock, mfa
from ..authn.password import InvalidCredentials, authenticate
from ..authn.policy import AuthState
from ..authn.steps import Step
from ..extensions import db
from ..mfa import recovery, totp
from ..models import User
from ..store import pending
from . import flow, session as web_session

bp = Blueprint("auth", __name__)

MAX_FIELD = 4096  # nobody's password is longer; nobody gets to make us hash a novel


def _flow() -> flow.Flow | None | Response:
    try:
        return flow.load(request.values.get("flow"), request.values.get("next"))
    except OAuth2Error as error:
        return flow.authorization_error(error)


def client_ip() -> str:
    return request.remote_addr or "unknown"


@bp.get("/login")
def login() -> Response | str:
    current = _flow()
    if isinstance(current, Response):
        return current
    if current is None:
        return flow.expired()
    email = (current.request.login_hint if current.request else None) or ""
    return render_template("auth/login.html", flow=current, email=email)


@bp.post("/login")
def login_submit() -> Response | tuple[str, int]:
    current = _flow()
    if isinstance(current, Response):
        return current
    if current is None:
        return flow.expired()
    email = request.form.get("email", "")[:320]
    password = request.form.get("password", "")[:MAX_FIELD]
    try:
        user = authenticate(email, password, passwords=current_app.extensions["idp.passwords"])
    except InvalidCredentials:
        audit.emit("login.failed", ip=client_ip(), factor="pwd", email=email.strip().lower()[:320])
        db.session.commit()
        page = render_template("auth/login.html", flow=current, email=email, error="Incorrect email or password.")
        return page, 401
    now = clock.now()
    user.last_login_at = now
    audit.emit("login.password_ok", user_id=user.id, ip=client_ip())
    db.session.commit()
    # What would the session be worth with this password? If a second factor is still
    # needed, the password waits in a pending record: the session gets nothing yet.
    _, state = web_session.current_user()
    if state is None or state.user_id != user.id:
        state = AuthState(user_id=user.id, sid="")
    outcome = flow.evaluate(current, user, state.with_factor("pwd", now))
    if isinstance(outcome, Step) and outcome.kind == "second_factor":
        return flow.go_to_step(current, outcome, user, pwd_at=now)
    web_session.record_factor(user, "pwd")
    return _onward(current)


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
    if user is None or user.disabled:
        return None, None
    if record["purpose"] == "step_up":
        _, state = web_session.current_user()
        if state is None or state.user_id != user.id:
            return None, None
    return record, user


def _mfa_page(current: flow.Flow, record: dict, user: User, error: str | None = None, status: int = 200):
    page = render_template(
        "auth/mfa.html", flow=current, methods=record["methods"], error=error,
        has_totp="otp" in mfa.enrolled(user.id), recovery_left=mfa.recovery_codes_left(user.id),
    )
    return page, status


@bp.get("/login/mfa", endpoint="mfa")
def mfa_page() -> Response | tuple[str, int]:
    current = _flow()
    if isinstance(current, Response):
        return current
    record, user = pending_sign_in(current) if current else (None, None)
    if record is None:
        return flow.expired()
    return _mfa_page(current, record, user)


@bp.post("/login/mfa")
def mfa_submit() -> Response | tuple[str, int]:
    current = _flow()
    if isinstance(current, Response):
        return current
    record, user = pending_sign_in(current) if current else (None, None)
    if record is None:
        return flow.expired()
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
        db.session.rollback()
        audit.emit("login.failed", user_id=user.id, ip=client_ip(), factor="otp")
        db.session.commit()
        return _mfa_page(current, record, user, error="That code is not valid.", status=401)
    return complete(current, record, user, {"otp": clock.now()}, factor=factor)


def complete(current: flow.Flow, record: dict, user: User, factors: dict[str, int], *, factor: str) -> Response:
    """Finish a pending sign-in: the record is used up, the session gets every factor."""
    if pending.take(web_session.pending_id() or "") is None:
        db.session.rollback()
        return flow.expired()
    if record["pwd_at"] is not None:
        factors = {"pwd": record["pwd_at"], **factors}
    audit.emit("login.second_factor_ok", user_id=user.id, ip=client_ip(), factor=factor)
    db.session.commit()
    web_session.record_factors(user, factors)
    return _onward(current)
