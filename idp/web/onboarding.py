"""Pages reached from a mailed link: accepting an invitation, resetting a forgotten password.

There is no sign-up page: an account comes to exist only here (an invitation) or from
`idp users create`.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from .. import accounts, clock, i18n, mfa, upstreams
from ..authn.password_policy import WeakPassword
from ..authn.policy import SECOND_FACTORS, verified_recently
from ..authn.steps import Step
from ..extensions import db
from ..models import User
from . import flow, session as web_session
from .account import done_here
from .device import client_ip

bp = Blueprint("onboarding", __name__)

MAX_FIELD = 1024

_INVALID = {
    "used": lazy_gettext("This invitation was already used. Sign in instead, or ask for a new invitation."),
    "expired": lazy_gettext("This invitation has expired. Ask the person who invited you for a new one."),
    "revoked": lazy_gettext("This invitation was withdrawn. Ask the person who invited you for a new one."),
    "unknown": lazy_gettext("This invitation link is not valid. Check that you copied all of it."),
}


def _gone(message: str, status: int = 410) -> tuple[str, int]:
    return render_template("oauth/error.html", error="invalid_link", description=message), status


def _invite_page(row, token: str, error: str | None = None) -> str:  # noqa: ANN001
    return render_template("onboarding/invite.html", invitation=row, token=token, upstreams=upstreams.buttons(), error=error)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invite(token: str) -> Response | str | tuple[str, int]:
    row, state = accounts.invitation_for(token[:128])
    if row is None or state != "pending":
        return _gone(str(_INVALID[state]), 404 if state == "unknown" else 410)
    if request.method == "GET":
        return _invite_page(row, token)
    password = request.form.get("password", "")[:MAX_FIELD]
    if password != request.form.get("password_confirm", "")[:MAX_FIELD]:
        return _invite_page(row, token, gettext("The two passwords differ.")), 400
    try:
        user = accounts.complete_invitation(
            token, password, name=request.form.get("name"), passwords=current_app.extensions["idp.passwords"],
            locale=i18n.current(),
        )
    except WeakPassword as weak:
        db.session.rollback()
        return _invite_page(row, token, i18n.explain(weak)), 400
    except accounts.AccountError as exc:
        db.session.rollback()
        return _gone(i18n.explain(exc))
    db.session.commit()
    return welcome(user, {"pwd": clock.now()})


def welcome(user: User, factors: dict[str, int]) -> Response:
    """A new account, signed in: a fresh session (new id) for the new person, then
    enrolment if their account needs it."""
    web_session.end()
    web_session.record_factors(user, factors)
    if user.mfa_required:
        return redirect(url_for("account.setup", next="/account"), code=303)
    return redirect(done_here("welcome"), code=303)


@bp.get("/enrol/<token>")
def enrol_link(token: str) -> Response | tuple[str, int]:
    """The link mailed after `reset-mfa`: like a reset link, the token moves into this
    browser's session at once (encrypted); the sign-in that follows uses it, once."""
    if not accounts.enrolment_link_is_live(token[:128]):
        return _gone("This link is not valid any more. Sign in with your password to be mailed a new one.")
    keyring = current_app.extensions["idp.keyring"]
    web_session.stash("enrol", keyring.encrypt(token[:128].encode(), context=b"enrolment"))
    return redirect(url_for("auth.login", next="/account"), code=303)


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot() -> str:
    if request.method == "GET":
        return render_template("onboarding/forgot.html")
    accounts.request_password_reset(request.form.get("email", "")[:320], ip=client_ip())
    db.session.commit()
    # The same answer, after the same work, whether the account exists or not.
    return render_template("onboarding/forgot.html", sent=True)


@bp.get("/password/reset/<token>")
def reset_link(token: str) -> Response | tuple[str, int]:
    """The mailed link: the token moves into this browser's session at once, so it appears
    in no later URL, pending record or log line."""
    row, _ = accounts.reset_for(token[:128])
    if row is None:
        return _gone(gettext("This link is not valid any more. Ask for a new one."))
    keyring = current_app.extensions["idp.keyring"]
    web_session.stash("reset", keyring.encrypt(token.encode(), context=b"password-reset"))
    return redirect(url_for("onboarding.reset"), code=303)


@bp.route("/password/reset", methods=["GET", "POST"])
def reset() -> Response | str | tuple[str, int]:
    sealed = web_session.unstash("reset")
    token = current_app.extensions["idp.keyring"].decrypt(sealed, context=b"password-reset").decode() if sealed else ""
    row, user = accounts.reset_for(token) if token else (None, None)
    if row is None:
        return _gone(gettext("This link is not valid any more. Ask for a new one."))
    enrolled = mfa.enrolled(user.id)
    if enrolled and not _second_factor_just_verified(user.id):
        # A stolen mailbox alone does not take the account: the second factor first.
        here = flow.Flow(None, None, None, "/password/reset")
        return flow.go_to_step(here, Step("second_factor", "mfa", tuple(sorted(enrolled))), user, purpose="reset")
    if request.method == "GET":
        return render_template("onboarding/reset.html", second_factor_required=user.mfa_required)
    password = request.form.get("password", "")[:MAX_FIELD]
    if password != request.form.get("password_confirm", "")[:MAX_FIELD]:
        return render_template("onboarding/reset.html", second_factor_required=user.mfa_required, error=gettext("The two passwords differ.")), 400
    try:
        user = accounts.complete_password_reset(token, password, passwords=current_app.extensions["idp.passwords"], ip=client_ip())
    except WeakPassword as weak:
        db.session.rollback()
        return render_template("onboarding/reset.html", second_factor_required=user.mfa_required, error=i18n.explain(weak)), 400
    except accounts.AccountError as exc:
        db.session.rollback()
        return _gone(i18n.explain(exc))
    db.session.commit()
    web_session.unstash("reset", keep=False)
    web_session.record_factor(user, "pwd")
    return redirect(done_here("password changed"), code=303)


def _second_factor_just_verified(user_id: int) -> bool:
    state = web_session.auth_state()
    if state is None or state.user_id != user_id:
        return False
    return verified_recently(state, SECOND_FACTORS, now=clock.now(), max_age=current_app.config["IDP_STEP_UP_MAX_AGE"])

