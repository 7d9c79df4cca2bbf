"""The account security page: factors, recovery codes, password, sign-out.

Changing any of them needs a fresh second factor (step-up inside the provider itself);
the one exception is enrolling the very first second factor right after the password.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from .. import accounts, audit, clock, i18n, mail, mfa, upstreams
from ..authn.acr import FIRST_FACTORS
from ..authn.password_policy import WeakPassword
from ..authn.policy import SECOND_FACTORS, AuthState, verified_recently
from ..authn.steps import Step
from ..extensions import db
from ..mfa import recovery, totp
from ..models import TotpFactor, User, WebAuthnCredential
from ..oauth import revocation
from ..lockout.regulator import Locked, account_key
from . import device, flow, notices, session as web_session
from .device import client_ip

bp = Blueprint("account", __name__, url_prefix="/account")

#: What the account page may say once an action is done (flashed, never from the URL).
DONE = {
    "welcome": lazy_gettext("Welcome! Your account is ready."),
    "added": lazy_gettext("The second factor was added."),
    "removed": lazy_gettext("The second factor was removed."),
    "renamed": lazy_gettext("The second factor was renamed."),
    "password changed": lazy_gettext("Your password was changed."),
    "linked": lazy_gettext("%(provider)s is now linked to your account."),
    "unlinked": lazy_gettext("%(provider)s is no longer linked to your account."),
}


def done_message(code: str, provider: str) -> str | None:
    message = DONE.get(code)
    if message is None:
        return None
    return str(message) % {"provider": provider[:100]}  # a sentence without the name ignores it


def _max_age() -> int:
    return current_app.config["IDP_STEP_UP_MAX_AGE"]


def signed_in(view: Callable) -> Callable:
    """The view runs for a signed-in person, who is passed in as `user, state`."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        user, state = web_session.current_user()
        if user is None:
            return redirect(url_for("auth.login", next=flow.safe_next(request.path)))
        return view(user, state, *args, **kwargs)

    return guarded


def fresh_enough(user: User, state: AuthState) -> bool:
    """A second factor within the step-up age; with none enrolled yet, the password."""
    proof = SECOND_FACTORS if mfa.enrolled(user.id) else FIRST_FACTORS
    return verified_recently(state, proof, now=clock.now(), max_age=_max_age())


def step_up(user: User, next_path: str) -> Response:
    enrolled = mfa.enrolled(user.id)
    target = flow.Flow(None, None, None, flow.safe_next(next_path))
    if not enrolled:
        return redirect(url_for("auth.login", next=target.next), code=303)
    return flow.go_to_step(target, Step("second_factor", "mfa", tuple(sorted(enrolled))), user)


def done_here(code: str, provider: str = "") -> str:
    """The account page's URL, with the sentence for `code` (DONE) waiting for it there."""
    notices.done(done_message(code, provider) or code)
    return url_for("account.index")


@bp.get("")
@signed_in
def index(user: User, state: AuthState) -> Response | str:
    shown = notices.taken()
    return render_template(
        "account/index.html",
        user=user,
        totps=db.session.query(TotpFactor).filter_by(user_id=user.id).order_by(TotpFactor.id).all(),
        keys=db.session.query(WebAuthnCredential).filter_by(user_id=user.id).order_by(WebAuthnCredential.id).all(),
        recovery_left=mfa.recovery_codes_left(user.id),
        enrolled=mfa.enrolled(user.id),
        message=shown.get(notices.DONE), error=shown.get(notices.ERROR),
        links=upstreams.links_of(user.id),
        upstreams=upstreams.buttons(),
    )


@bp.get("/setup")
@signed_in
def setup(user: User, state: AuthState) -> Response | str:
    """A second factor is required and none is enrolled: choose one."""
    current = flow.from_request()
    if isinstance(current, Response):
        return current
    app = current.request.client if current.request else None
    return render_template("account/setup.html", flow=current, app=app, account_policy=user.mfa_required)


# --- TOTP -----------------------------------------------------------------------------

@bp.route("/mfa/totp/new", methods=["GET", "POST"])
@signed_in
def totp_new(user: User, state: AuthState) -> Response | str | tuple[str, int]:
    current = flow.from_request()
    if isinstance(current, Response):
        return current
    if not fresh_enough(user, state):
        return step_up(user, request.full_path if current.id is None else "/account")
    keyring = current_app.extensions["idp.keyring"]
    started = web_session.unstash("totp")
    if request.method == "POST" and not started:
        return redirect(request.full_path, code=303)
    if request.method == "GET" or not (isinstance(started, dict) and started.get("uid") == user.id):
        # Someone else signed in in this browser since the enrolment began (issue 9,
        # item 15): their secret is not this person's to confirm. Start again.
        secret = totp.new_secret()
        web_session.stash("totp", {"uid": user.id, "sealed": totp.seal(keyring, secret, user_id=user.id)})
        if request.method == "GET":
            return _totp_page(user, secret, current)
        return _totp_page(user, secret, current, error="This enrolment was begun for another account. "
                          "Scan this new code and enter the code it shows."), 400
    sealed = started["sealed"]
    secret = keyring.decrypt(sealed, context=f"totp:{user.id}".encode()).decode()
    step = totp.matching_step(secret, request.form.get("code", "")[:64], now=clock.now())
    if step is None:
        return _totp_page(user, secret, current, error=gettext("That code is not valid. Check the time on your phone and try again.")), 401
    label = (request.form.get("label") or "").strip()[:100] or gettext("Authenticator app")
    first = not mfa.enrolled(user.id)
    # The confirming code's step is spent: it cannot be replayed to sign in.
    db.session.add(TotpFactor(user_id=user.id, label=label, secret_encrypted=sealed,
                              last_used_step=step, created_at=clock.now(), last_used_at=clock.now()))
    web_session.unstash("totp", keep=False)
    return enrolled(user, current, "totp", label, first=first)


def _totp_page(user: User, secret: str, current: flow.Flow, error: str | None = None) -> str:
    uri = totp.provisioning_uri(secret, account=user.email, issuer=current_app.config["IDP_ISSUER_NAME"])
    groups = [secret[i:i + 4] for i in range(0, len(secret), 4)]
    return render_template("account/totp_new.html", secret=secret, groups=groups, uri=uri, qr=totp.qr_svg(uri),
                           flow=current, error=error)


def enrolled(user: User, current: flow.Flow, kind: str, name: str, *, first: bool) -> Response:
    """After a factor is added: audit, count it as used now, and show recovery codes once
    if it was the first one."""
    audit.emit("mfa.added", user_id=user.id, ip=client_ip(), kind=kind, name=name)
    codes = recovery.generate(user.id) if first else None
    db.session.commit()
    web_session.unstash("enrol", keep=False)  # the owner's mail: notifications, on "mfa.added"
    factor = "hwk" if kind == "webauthn" else "otp"
    flow.record_verified(current, user, {factor: clock.now()})
    onward = flow.continue_url(current) if current.id or current.next != "/account" else done_here("added")
    if codes:
        # Shown once, on the next page; they wait in this browser's session until then,
        # encrypted like everything secret we keep.
        sealed = current_app.extensions["idp.keyring"].encrypt(json.dumps(codes).encode(), context=b"recovery-codes")
        web_session.stash("recovery_codes", {"codes": sealed, "continue": onward})
        return redirect(url_for("account.recovery_show"), code=303)
    return redirect(onward, code=303)


@bp.get("/recovery-codes/new")
def recovery_show() -> Response | str:
    shown = web_session.unstash("recovery_codes", keep=False)
    if not shown:
        return redirect(url_for("account.index"))
    codes = json.loads(current_app.extensions["idp.keyring"].decrypt(shown["codes"], context=b"recovery-codes"))
    return render_template("account/recovery_codes.html", codes=codes, continue_url=shown["continue"])


@bp.post("/mfa/totp/<int:factor_id>/delete")
@signed_in
def totp_delete(user: User, state: AuthState, factor_id: int) -> Response:
    return _delete(user, state, TotpFactor, factor_id, "totp")


@bp.post("/mfa/webauthn/<int:factor_id>/delete")
@signed_in
def webauthn_delete(user: User, state: AuthState, factor_id: int) -> Response:
    return _delete(user, state, WebAuthnCredential, factor_id, "webauthn")


@bp.post("/mfa/totp/<int:factor_id>/rename")
@signed_in
def totp_rename(user: User, state: AuthState, factor_id: int) -> Response:
    return _rename(user, state, TotpFactor, factor_id, "label")


@bp.post("/mfa/webauthn/<int:factor_id>/rename")
@signed_in
def webauthn_rename(user: User, state: AuthState, factor_id: int) -> Response:
    return _rename(user, state, WebAuthnCredential, factor_id, "name")


def _rename(user: User, state: AuthState, model: type, factor_id: int, column: str) -> Response:
    if not fresh_enough(user, state):
        return step_up(user, "/account")
    name = (request.form.get("name") or "").strip()[:100]
    row = db.session.query(model).filter_by(id=factor_id, user_id=user.id).first()
    if row is None or not name:
        return redirect(url_for("account.index"), code=303)
    old = getattr(row, column)
    setattr(row, column, name)
    audit.emit("mfa.renamed", user_id=user.id, ip=client_ip(), old=old, name=name)
    db.session.commit()
    return redirect(url_for("account.index", done="renamed"), code=303)


def _delete(user: User, state: AuthState, model: type, factor_id: int, kind: str) -> Response:
    if not fresh_enough(user, state):
        return step_up(user, "/account")
    row = db.session.query(model).filter_by(id=factor_id, user_id=user.id).first()
    if row is None:
        return redirect(url_for("account.index"), code=303)
    db.session.delete(row)
    db.session.flush()
    if not mfa.authenticators(user.id):
        recovery.discard(user.id)  # no second factor left: recovery codes would recover nothing
    audit.emit("mfa.removed", user_id=user.id, ip=client_ip(), kind=kind, name=getattr(row, "label", None) or getattr(row, "name", None))
    db.session.commit()
    return redirect(done_here("removed"), code=303)


# --- recovery codes, password, sign-out -----------------------------------------------

@bp.post("/recovery-codes")
@signed_in
def recovery_regenerate(user: User, state: AuthState) -> Response | str:
    if not mfa.enrolled(user.id):
        return redirect(url_for("account.index"), code=303)
    if not fresh_enough(user, state):
        return step_up(user, "/account")
    codes = recovery.generate(user.id)
    audit.emit("mfa.recovery_codes_regenerated", user_id=user.id, ip=client_ip())
    db.session.commit()
    return render_template("account/recovery_codes.html", codes=codes, continue_url=url_for("account.index"))


@bp.route("/password", methods=["GET", "POST"])
@signed_in
def password(user: User, state: AuthState) -> Response | str | tuple[str, int]:
    if not fresh_enough(user, state):
        return step_up(user, "/account/password")
    if request.method == "GET":
        return render_template("account/password.html", second_factor_required=user.mfa_required)
    new = request.form.get("password", "")[:1024]
    if new != request.form.get("password_confirm", "")[:1024]:
        return render_template("account/password.html", second_factor_required=user.mfa_required, error=gettext("The two new passwords differ.")), 400
    # The current password is a guess like any other: it goes through the lockout.
    regulator = current_app.extensions["idp.regulator"]
    try:
        reservation = regulator.reserve(device.browser().attempt(account_key(user.email)))
    except Locked as locked:
        return render_template("account/password.html", second_factor_required=user.mfa_required, error=i18n.try_again_in(locked.retry_after)), 429
    try:
        accounts.change_password(user, request.form.get("current_password", "")[:1024], new,
                                 passwords=current_app.extensions["idp.passwords"], ip=client_ip())
    except (accounts.AccountError, WeakPassword) as exc:
        db.session.rollback()
        if isinstance(exc, WeakPassword):
            regulator.succeeded(reservation, complete=False)  # the current password was right
        else:
            reservation.failed()
        return render_template("account/password.html", second_factor_required=user.mfa_required, error=i18n.explain(exc)), 400
    db.session.commit()
    regulator.succeeded(reservation, complete=False)
    web_session.carry_into_new_epoch(user)
    return redirect(done_here("password changed"), code=303)


@bp.post("/sign-out")
def sign_out() -> Response | str:
    state = web_session.end()
    if state is not None:
        revocation.revoke_session_grants(state.sid)
        audit.emit("logout", user_id=state.user_id, ip=client_ip())
        db.session.commit()
    return render_template("oauth/logged_out.html")
