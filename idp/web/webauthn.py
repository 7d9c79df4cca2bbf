"""WebAuthn endpoints, called by static/webauthn.js: register a security key or passkey,
use one as the second factor, or sign in with a passkey alone."""

from __future__ import annotations

import logging

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext, lazy_gettext

from .. import clock, i18n, mfa
from ..authn import outcomes, security_key
from ..extensions import db
from ..mfa import webauthn as wa
from ..models import WebAuthnCredential
from ..store import challenges
from . import account, device, flow, session as web_session
from .auth import pending_sign_in, signed_in

bp = Blueprint("webauthn", __name__, url_prefix="/webauthn")
log = logging.getLogger("idp.webauthn")


@bp.before_request
def _page_language() -> None:
    """Answer in the language of the page that calls (static/webauthn.js sends it): its
    sentences are shown there, and that page may speak the flow's ui_locales."""
    i18n.use_ui_locales(request.headers.get("X-Page-Language", "")[:8])


@bp.errorhandler(wa.CeremonyFailed)
def _malformed(exc: wa.CeremonyFailed) -> tuple[Response, int]:
    log.info("webauthn request refused: %s", exc)
    return _fail(gettext("The browser's answer could not be read. Reload the page and try again."), 400)


def _expired() -> tuple[Response, int]:
    return _fail(gettext("This sign-in has expired. Start again."), 400)


def _try_again() -> tuple[Response, int]:
    return _fail(gettext("The request expired. Try again."))


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
        return _fail(gettext("You are no longer signed in. Reload the page and sign in again."), 401)
    if not account.fresh_enough(user, state):
        return _fail(gettext("Confirm it's you first: reload the page."), 403)
    body = wa.parse(request.get_data())
    passkey = bool(body.get("passkey"))
    name = str(body.get("name") or (gettext("Passkey") if passkey else gettext("Security key"))).strip()[:100]
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
        return _fail(gettext("You are no longer signed in. Reload the page and sign in again."), 401)
    body = wa.parse(request.get_data())
    current = _flow(body)
    if current is None:
        return _expired()
    issued = challenges.take("register", state.sid)
    if issued is None or issued["user_id"] != user.id:
        return _try_again()
    try:
        new = wa.verify_registration(_rp(), response=body.get("credential") or {}, challenge=issued["challenge"], passkey=issued["passkey"])
    except wa.CeremonyFailed as exc:
        log.info("webauthn registration refused: %s", exc)
        return _fail(gettext("The security key could not be registered. Try again, or use another key."))
    if db.session.query(WebAuthnCredential.id).filter_by(credential_id=new.credential_id).first():
        return _fail(gettext("This security key is already registered. Use another one, or sign in with it."))
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
        return _expired()
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
        return _expired()
    pending_id = web_session.pending_id() or ""
    issued = challenges.take("mfa", pending_id)
    if issued is None or issued["user_id"] != user.id:
        return _try_again()
    outcome = security_key.verify_as_second_factor(
        _rp(), user=user, record=record, pending_id=pending_id, response=_credential_of(body),
        challenge=issued["challenge"], browser=device.browser(), regulator=_regulator(),
        max_attempts=current_app.config["IDP_MFA_MAX_ATTEMPTS"],
    )
    if isinstance(outcome, outcomes.StartOver):
        return _fail(gettext("Too many failed attempts for this sign-in. Start again from the password."), 429)
    if isinstance(outcome, outcomes.Expired):
        return _expired()
    return _render(current, outcome)


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
        return _expired()
    issued = challenges.take("passkey", web_session.browser_binding())
    if issued is None:
        return _try_again()
    outcome = security_key.sign_in_with_passkey(
        _rp(), response=_credential_of(body), challenge=issued["challenge"], browser=device.browser(),
        regulator=_regulator(),
    )
    return _render(current, outcome)


# --- shared -----------------------------------------------------------------------------

_REFUSALS = {
    "unknown": lazy_gettext("This passkey is not registered here. Sign in with your password."),
    "not_passkey": lazy_gettext("This security key is set up as a second factor, not as a passkey: sign in with your password first."),
    "cloned": lazy_gettext(
        "This security key reported a use count lower than before, which can mean it was "
        "copied. It was refused. Use another factor and remove this key from your account."
    ),
}


def _render(current: flow.Flow, outcome: outcomes.Outcome) -> Response | tuple[Response, int]:
    if isinstance(outcome, outcomes.Locked):
        response = jsonify(error=i18n.try_again_in(outcome.retry_after))
        return response, 429, {"Retry-After": str(outcome.retry_after)}
    if isinstance(outcome, outcomes.Refused):
        refusal = _REFUSALS.get(outcome.reason)
        return _fail(str(refusal) if refusal else gettext("The security key could not be verified. Try again."), 401)
    assert isinstance(outcome, outcomes.SignedIn)
    return _follow(signed_in(current, outcome))


def _credential_of(body: dict) -> dict:
    credential = body.get("credential") or {}
    if not isinstance(credential, dict):
        raise wa.CeremonyFailed("credential must be a JSON object")
    return credential


def _regulator():  # noqa: ANN202
    return current_app.extensions["idp.regulator"]
