"""WebAuthn endpoints, called by static/webauthn.js: register a security key or passkey,
use one as the second factor, or sign in with a passkey alone."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import update

from .. import audit, clock, mfa
from ..extensions import db
from ..mfa import webauthn as wa
from ..models import User, WebAuthnCredential
from ..store import challenges
from . import account, flow, session as web_session
from ..lockout.regulator import Attempt, Locked, Reservation, account_key
from . import device
from .auth import client_ip, complete, failed, pending_sign_in, second_factor_guard

bp = Blueprint("webauthn", __name__, url_prefix="/webauthn")


@bp.errorhandler(wa.CeremonyFailed)
def _malformed(exc: wa.CeremonyFailed) -> tuple[Response, int]:
    return _fail(str(exc), 400)


def _rp() -> wa.RelyingParty:
    c = current_app.config
    return wa.RelyingParty.for_issuer(c["IDP_ISSUER"], c["IDP_ISSUER_NAME"])


def _fail(message: str, status: int = 400) -> tuple[Response, int]:
    return jsonify(error=message), status


def _flow(body: dict) -> flow.Flow | None:
    flow_id, next_path = body.get("flow"), body.get("next")
    if not isinstance(flow_id, (str, type(None))) or not isinstance(next_path, (str, type(None))):
        raise wa.CeremonyFailed("flow and next must be strings")
    try:
        return flow.load(flow_id or None, next_path or None)
    except OAuth2Error:
        return None  # the client changed since the flow began: it is over


def _follow(response: Response) -> Response:
    """The browser follows our redirects itself: hand it the Location."""
    return jsonify(redirect=response.headers["Location"])


# --- registration ---------------------------------------------------------------------

@bp.post("/register/options")
def register_options() -> Response | tuple[Response, int]:
    user, state = web_session.current_user()
    if user is None:
        return _fail("not signed in", 401)
    if not account.fresh_enough(user, state):
        return _fail("confirm it's you first: reload the page", 403)
    body = wa.parse(request.get_data())
    passkey = bool(body.get("passkey"))
    name = str(body.get("name") or ("Passkey" if passkey else "Security key")).strip()[:100]
    existing = db.session.query(WebAuthnCredential).filter_by(user_id=user.id).all()
    options, challenge = wa.registration_options(
        _rp(), user_handle=user.subject.encode(), user_name=user.email, passkey=passkey, existing=existing
    )
    challenges.put("register", state.sid, {"challenge": challenge, "user_id": user.id, "passkey": passkey, "name": name})
    return Response(options, mimetype="application/json")


@bp.post("/register/verify")
def register_verify() -> Response | tuple[Response, int]:
    user, state = web_session.current_user()
    if user is None:
        return _fail("not signed in", 401)
    body = wa.parse(request.get_data())
    current = _flow(body)
    if current is None:
        return _fail("this sign-in has expired", 400)
    issued = challenges.take("register", state.sid)
    if issued is None or issued["user_id"] != user.id:
        return _fail("the request expired: try again")
    try:
        new = wa.verify_registration(_rp(), response=body.get("credential") or {}, challenge=issued["challenge"], passkey=issued["passkey"])
    except wa.CeremonyFailed as exc:
        return _fail(f"the security key could not be registered ({exc})")
    if db.session.query(WebAuthnCredential.id).filter_by(credential_id=new.credential_id).first():
        return _fail("this security key is already registered")
    first = not mfa.enrolled(user.id)
    db.session.add(WebAuthnCredential(
        user_id=user.id, credential_id=new.credential_id, public_key=new.public_key, sign_count=new.sign_count,
        name=issued["name"], is_passkey=issued["passkey"], transports=new.transports, aaguid=new.aaguid,
        backed_up=new.backed_up, created_at=clock.now(),
    ))
    return _follow(account.enrolled(user, current, "webauthn", issued["name"], first=first))


# --- as the second factor ---------------------------------------------------------------

@bp.post("/mfa/options")
def mfa_options() -> Response | tuple[Response, int]:
    body = wa.parse(request.get_data())
    current = _flow(body)
    record, user = _pending_for(current)
    if record is None or "hwk" not in record["methods"]:
        return _fail("this sign-in has expired", 400)
    credentials = db.session.query(WebAuthnCredential).filter_by(user_id=user.id).all()
    options, challenge = wa.authentication_options(_rp(), credentials=credentials, require_uv=False)
    challenges.put("mfa", web_session.pending_id(), {"challenge": challenge, "user_id": user.id})
    return Response(options, mimetype="application/json")


@bp.post("/mfa/verify")
def mfa_verify() -> Response | tuple[Response, int]:
    body = wa.parse(request.get_data())
    current = _flow(body)
    record, user = _pending_for(current)
    if record is None:
        return _fail("this sign-in has expired", 400)
    issued = challenges.take("mfa", web_session.pending_id())
    if issued is None or issued["user_id"] != user.id:
        return _fail("the request expired: try again")
    guard = second_factor_guard(user)
    if isinstance(guard, Locked):
        return _too_many(guard)
    if guard is None:
        return _fail("too many failed attempts for this sign-in: start again from the password", 429)
    response = body.get("credential") or {}
    credential = _credential(response, user_id=user.id)
    if credential is None:
        return _failed_assertion(user, guard, "unknown credential")
    outcome = _assert(credential, response, issued["challenge"], guard, require_uv=False)
    if isinstance(outcome, tuple):
        return outcome
    now = clock.now()
    factors = {"hwk": now, **({"user": now} if outcome.user_verified else {})}
    return _follow(complete(current, record, user, factors, factor="webauthn", reservation=guard))


def _pending_for(current: flow.Flow | None):  # noqa: ANN202
    return pending_sign_in(current) if current else (None, None)


# --- passkey sign-in ------------------------------------------------------------------

@bp.post("/passkey/options")
def passkey_options() -> Response:
    options, challenge = wa.authentication_options(_rp(), credentials=[], require_uv=True)
    challenges.put("passkey", web_session.browser_binding(), {"challenge": challenge})
    return Response(options, mimetype="application/json")


@bp.post("/passkey/verify")
def passkey_verify() -> Response | tuple[Response, int]:
    body = wa.parse(request.get_data())
    current = _flow(body)
    if current is None:
        return _fail("this sign-in has expired", 400)
    issued = challenges.take("passkey", web_session.browser_binding())
    if issued is None:
        return _fail("the request expired: try again")
    response = body.get("credential") or {}
    credential = _credential(response)
    user = db.session.get(User, credential.user_id) if credential else None
    account = account_key(user.email) if user else None
    try:
        reservation = _regulator().reserve(
            Attempt(account=account, ip=client_ip(), device=device.trusted_for(account) if account else None)
        )
    except Locked as locked:
        return _too_many(locked)
    if credential is None or user is None or user.disabled:
        audit.emit("login.failed", ip=client_ip(), factor="passkey")
        db.session.commit()
        return _fail("this passkey is not registered here", 401)
    inner = response.get("response") if isinstance(response, dict) else None
    handle = inner.get("userHandle") if isinstance(inner, dict) else None
    if handle and handle != wa.user_handle(user.subject):
        # WebAuthn Level 2 §7.2 step 6: the credential must belong to the user it names.
        return _failed_assertion(user, reservation, "user handle does not match the credential's owner")
    if not credential.is_passkey:
        # Registered as a second factor: it was never meant to stand in for the password.
        audit.emit("login.failed", user_id=user.id, ip=client_ip(), factor="passkey", reason="not a passkey")
        db.session.commit()
        return _fail("this security key is set up as a second factor, not as a passkey: sign in with your password", 401)
    outcome = _assert(credential, response, issued["challenge"], reservation, require_uv=True)
    if isinstance(outcome, tuple):
        return outcome
    now = clock.now()
    audit.emit("login.passkey_ok", user_id=user.id, ip=client_ip())
    user.last_login_at = now
    db.session.commit()
    _regulator().succeeded(reservation, complete=True)
    device.signed_in(user, account)
    flow.record_verified(current, user, {"hwk": now, "user": now})
    return jsonify(redirect=flow.continue_url(current))


# --- shared -----------------------------------------------------------------------------

def _credential(response: dict, user_id: int | None = None) -> WebAuthnCredential | None:
    try:
        credential_id = wa.credential_id_of(response)
    except wa.CeremonyFailed:
        return None
    query = db.session.query(WebAuthnCredential).filter_by(credential_id=credential_id)
    if user_id is not None:
        query = query.filter_by(user_id=user_id)
    return query.first()


def _assert(credential: WebAuthnCredential, response: dict, challenge: str, reservation: Reservation, *, require_uv: bool):  # noqa: ANN202
    user = db.session.get(User, credential.user_id)
    try:
        result = wa.verify_assertion(_rp(), response=response, challenge=challenge, credential=credential, require_uv=require_uv)
    except wa.CeremonyFailed as exc:
        if exc.cloned:
            audit.emit("mfa.webauthn_sign_count_regressed", user_id=user.id, ip=client_ip(),
                       credential=credential.name, stored=credential.sign_count)
            db.session.commit()
            return _fail(
                "This security key reported a use count lower than before, which can mean it was "
                "copied. It was refused. Use another factor and remove this key from your account.",
                401,
            )
        return _failed_assertion(user, reservation, str(exc))
    # A counting credential's count only moves forward, even when two assertions race.
    guard = WebAuthnCredential.sign_count < result.new_sign_count if result.new_sign_count else True
    moved = db.session.execute(
        update(WebAuthnCredential)
        .where(WebAuthnCredential.id == credential.id, guard)
        .values(sign_count=result.new_sign_count, last_used_at=clock.now())
    ).rowcount
    if moved != 1:
        return _failed_assertion(user, reservation, "sign count did not move forward")
    return result


def _failed_assertion(user: User, reservation: Reservation, reason: str) -> tuple[Response, int]:
    failed(reservation, factor="hwk", user_id=user.id, reason=reason[:200])
    return _fail("the security key could not be verified", 401)


def _too_many(locked: Locked) -> tuple[Response, int, dict]:
    response = jsonify(error=f"Too many attempts. Try again in {locked.retry_after} seconds.")
    return response, 429, {"Retry-After": str(locked.retry_after)}


def _regulator():  # noqa: ANN202
    return current_app.extensions["idp.regulator"]

