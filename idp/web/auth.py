"""The hosted sign-in pages: password, then the second factor if one is needed. The
use-cases are in idp.authn; these views parse the form, call one, and render its outcome."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_babel import gettext

from .. import audit, i18n, mfa, upstreams
from ..authn import outcomes, password, second_factor
from ..authn.policy import AuthState
from ..extensions import db
from ..lockout.regulator import Regulator, account_key
from ..models import TotpFactor, User
from ..oauth import revocation
from ..store import flows, pending
from . import device, flow, headers, session as web_session
from .device import client_ip

bp = Blueprint("auth", __name__)

MAX_FIELD = 4096  # nobody's password is longer; nobody gets to make us hash a novel

__all__ = ["bp", "client_ip", "needs_after_first_factor", "pending_sign_in", "signed_in", "with_pending"]


@bp.get("/login")
def login() -> Response | str:
    current = flow.from_request()
    if isinstance(current, Response):
        return current
    email = (current.request.login_hint if current.request else None) or ""
    return _login_page(current, email)


@bp.post("/login")
def login_submit() -> Response | tuple[str, int]:
    current = flow.from_request()
    if isinstance(current, Response):
        return current
    email = request.form.get("email", "")[:320]
    outcome = password.sign_in(
        email=email, password=request.form.get("password", "")[:MAX_FIELD], browser=device.browser(),
        regulator=_regulator(), passwords=current_app.extensions["idp.passwords"],
        request_needs=functools.partial(needs_after_first_factor, current),
        legacy=current_app.extensions["idp.legacy_verifier"], enrolment_token=enrolment_token(),
    )
    if isinstance(outcome, outcomes.Locked):
        return _locked("auth/login.html", outcome, flow=current, email=email, upstreams=upstreams.buttons())
    if isinstance(outcome, outcomes.EnrolmentLinkMailed):
        return enrolment_link_mailed()
    if isinstance(outcome, outcomes.Refused):
        return _login_page(current, email, gettext("Incorrect email or password.")), 401
    if isinstance(outcome, outcomes.SecondFactorDue):
        return flow.go_to_step(current, outcome.step, outcome.user, first=outcome.first)
    return signed_in(current, outcome)


def enrolment_token() -> str | None:
    """The enrolment link this browser opened (kept encrypted in its session), if any."""
    sealed = web_session.unstash("enrol")
    return current_app.extensions["idp.keyring"].decrypt(sealed, context=b"enrolment").decode() if sealed else None


def enrolment_link_mailed() -> tuple[str, int]:
    page = render_template(
        "oauth/error.html", error="enrolment_link_required",
        description="Your account needs a new second factor, and it is set up from a link we mail you, "
                    "never with the password alone. We have sent one to your email address: open it in this "
                    "browser, then sign in again.",
    )
    return page, 403


def _login_page(current: flow.Flow, email: str, error: str | None = None) -> str:
    # Signing in again (prompt=login, max_age, step-up): the same person, whose email is
    # filled in and locked; "not you?" signs them out first.
    signed_in_as, _state = web_session.current_user()
    if signed_in_as is not None:
        email = signed_in_as.email
    return render_template("auth/login.html", flow=current, email=email, error=error, upstreams=upstreams.buttons(),
                           locked_email=signed_in_as is not None, app=client_context(current))


def client_context(current: flow.Flow):  # noqa: ANN201
    """The app that asked, for the sign-in pages to name (its logo may be shown)."""
    client = current.request.client if current.request else None
    if client is not None:
        headers.allow_image(client.logo_uri)
    return client


@bp.post("/login/cancel")
def cancel() -> Response:
    """"Cancel and return to the app": the client hears access_denied, with its state and
    our iss, at its verified redirect_uri (RFC 6749 §4.1.2.1, RFC 9207 §2)."""
    current = flow.from_request()
    if isinstance(current, Response):
        return current
    if current.request is None:
        return redirect(url_for("home.index"), code=303)
    if not flows.delete(current.id):  # single use, like a completed sign-in
        return flow.expired()
    pending.discard(web_session.pending_id())
    return flow.redirect_error(current.request, "access_denied", "the person cancelled the sign-in")


@bp.post("/login/switch")
def switch_account() -> Response:
    """"Not you?": sign the session's person out, then the same sign-in from the start."""
    current = flow.from_request()
    if isinstance(current, Response):
        return current
    state = web_session.end_keeping_flows()
    if state is not None:
        revocation.revoke_session_grants(state.sid)
        audit.emit("logout", user_id=state.user_id, ip=client_ip())
        db.session.commit()
    return redirect(url_for("auth.login", **flow.where(current)), code=303)


def needs_after_first_factor(current: flow.Flow, user: User, first: dict[str, int], enrolled: set[str]):  # noqa: ANN201
    """What the request would still need with these first factors in the session."""
    _, state = web_session.current_user()
    if state is None or state.user_id != user.id:
        state = AuthState(user_id=user.id, sid="")
    for factor, at in first.items():
        state = state.with_factor(factor, at)
    return flow.evaluate(current, user, state, just_verified=frozenset(first), enrolled=enrolled)


def signed_in(current: flow.Flow, outcome: outcomes.SignedIn) -> Response:
    """A complete sign-in: the device cookie, the session's factors, then onward (303: the
    browser follows with a GET and never re-posts the credentials)."""
    device.signed_in(outcome.user, account_key(outcome.user.email))
    flow.record_verified(current, outcome.user, outcome.factors)
    if outcome.purpose == "reset":
        # Back to the reset page, which now finds the second factor it asked for.
        return redirect(flow.safe_next(outcome.next), code=303)
    return redirect(flow.continue_url(current), code=303)


def _regulator() -> Regulator:
    return current_app.extensions["idp.regulator"]


def _locked(template: str, locked: outcomes.Locked, **context) -> tuple[str, int, dict]:
    """429 with Retry-After (RFC 6585 §4), and the page says when to try again."""
    error = i18n.try_again_in(locked.retry_after)
    if locked.second_factor_cap:
        error = gettext("Too many wrong codes for this account since its last sign-in. Sign in another way "
                        "(a passkey), or ask an administrator to unlock the account.")
    return render_template(template, error=error, **context), 429, {"Retry-After": str(locked.retry_after)}


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


def _mfa_context(current: flow.Flow, record: dict, user: User) -> dict:
    return {
        "purpose": record["purpose"],
        "app": client_context(current),
        "methods": record["methods"],
        "has_totp": db.session.query(TotpFactor.id).filter_by(user_id=user.id).first() is not None,
        "recovery_left": mfa.recovery_codes_left(user.id),
    }


def _mfa_page(current: flow.Flow, record: dict, user: User, error: str | None = None, status: int = 200):
    return render_template("auth/mfa.html", flow=current, error=error, **_mfa_context(current, record, user)), status


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
    outcome = second_factor.verify_code(
        user=user, record=record, pending_id=web_session.pending_id() or "",
        code=request.form.get("code", "")[:64], recovery_code=request.form.get("recovery_code", "")[:64],
        browser=device.browser(), regulator=_regulator(), keyring=current_app.extensions["idp.keyring"],
        max_attempts=current_app.config["IDP_MFA_MAX_ATTEMPTS"],
    )
    if isinstance(outcome, outcomes.Locked):
        return _locked("auth/mfa.html", outcome, flow=current, **_mfa_context(current, record, user))
    if isinstance(outcome, outcomes.StartOver):
        return start_over(current)
    if isinstance(outcome, outcomes.Refused):
        return _mfa_page(current, record, user, error=gettext("That code is not valid."), status=401)
    if isinstance(outcome, outcomes.Expired):
        return flow.expired()
    return signed_in(current, outcome)


def start_over(current: flow.Flow) -> tuple[str, int]:
    page = render_template(
        "oauth/error.html", error="too_many_attempts",
        description=gettext("Too many wrong codes for this sign-in. Start again from the password."),
        retry_url=url_for("auth.login", flow=current.id) if current.id else url_for("auth.login", next=current.next),
    )
    return page, 429
