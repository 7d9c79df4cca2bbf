"""The only code that touches flask.session: the signed-in state and flow binding."""

from __future__ import annotations

import secrets

from flask import request, session
from sqlalchemy import bindparam, exists, or_, select

from .. import clock
from ..authn.acr import FIRST_FACTORS, level as acr_level
from ..authn.policy import AuthState
from ..direct_sql import read_row
from ..extensions import db
from ..models import RecoveryCode, TotpFactor, User, WebAuthnCredential
from ..oauth.records import SignedInPerson
from ..store.sessions import SIGNED_IN_AT

#: Factors that make a sign-in (a passkey's `user` verification included), as opposed to a
#: step-up within one.
SIGN_IN_FACTORS = {*FIRST_FACTORS, "user"}


def auth_state() -> AuthState | None:
    return AuthState.from_dict(session.get("auth"))


def current_user() -> tuple[User, AuthState] | tuple[None, None]:
    """The signed-in person, if the session has one who may still sign in."""
    state = auth_state()
    if state is None:
        return None, None
    user = db.session.get(User, state.user_id)
    return (user, state) if _still_signed_in(user, state) else (None, None)


def _still_signed_in(person: User | SignedInPerson | None, state: AuthState) -> bool:
    """The session's person still exists, is enabled and has not ended their sessions
    since (the epoch); a session that fails this forgets its sign-in."""
    if person is None or person.disabled or state.epoch != person.session_epoch:
        session.pop("auth", None)
        return False
    return acr_level(state.factors) is not None  # a second factor alone (mid password reset) is no sign-in


_USERS = User.__table__
_SIGNED_IN = select(
    _USERS.c.id, _USERS.c.subject, _USERS.c.disabled, _USERS.c.session_epoch, _USERS.c.mfa_required,
    or_(exists().where(TotpFactor.user_id == _USERS.c.id),
        exists().where(RecoveryCode.user_id == _USERS.c.id, RecoveryCode.used_at.is_(None))),
    exists().where(WebAuthnCredential.user_id == _USERS.c.id),
).where(_USERS.c.id == bindparam("user_id"))


def signed_in_person() -> tuple[SignedInPerson, AuthState] | tuple[None, None]:
    """current_user for an authorization request: the same rules, with the person and
    their second factors in one statement outside any transaction (the hot path of a
    signed-in browser). Only for requests that have written nothing yet."""
    state = auth_state()
    if state is None:
        return None, None
    row = read_row(_SIGNED_IN, {"user_id": state.user_id})
    person = SignedInPerson(*row) if row is not None else None
    return (person, state) if _still_signed_in(person, state) else (None, None)


def record_factors(user: User, factors: dict[str, int]) -> AuthState:
    """Add verified factors to the session, with a new session id (no fixation).

    The same person keeps their session's other factors and `sid`; anyone else starts over.
    """
    state = auth_state()
    if state is None or state.user_id != user.id or state.epoch != user.session_epoch:
        state = AuthState(user_id=user.id, sid=secrets.token_urlsafe(16), epoch=user.session_epoch)
        signing_in = True
    else:
        # A step-up (a second factor alone) does not extend the session's absolute lifetime.
        signing_in = bool(set(factors) & SIGN_IN_FACTORS)
    if signing_in:
        # What the person's list of sessions shows of this one.
        session["device"] = {"ua": request.user_agent.string[:300], "ip": request.remote_addr or "", "at": clock.now()}
    for factor, at in factors.items():
        state = state.with_factor(factor, at)
    session.pop("pending", None)
    session.regenerate()  # type: ignore[attr-defined]
    session["auth"] = state.to_dict()
    if signing_in:
        session[SIGNED_IN_AT] = clock.now()  # IDP_SESSION_TTL counts from here
    return state


def carry_into_new_epoch(user: User) -> None:
    """After the person ended all their sessions (a password change), keep this one: same
    factors, new epoch, new session id."""
    state = auth_state()
    if state is not None and state.user_id == user.id:
        session.regenerate()  # type: ignore[attr-defined]
        session["auth"] = AuthState(user.id, state.sid, state.factors, user.session_epoch).to_dict()


def record_factor(user: User, factor: str) -> AuthState:
    return record_factors(user, {factor: clock.now()})


#: Flows of this browser whose verified factors are remembered (older ones fall off).
MAX_FLOWS_VERIFIED = 4


def mark_verified_in_flow(flow_id: str, user_id: int, factors: list[str]) -> None:
    """Note that `factors` were verified within this flow: prompt=login and max_age count
    them as fresh, whatever the clock's resolution. Kept in the session the flow is bound
    to, which is written at this moment anyway (a sign-in gives it a new id)."""
    verified = dict(session.get("verified") or {})
    done = verified.pop(flow_id, None) or {}
    if done.get("uid") != user_id:
        done = {"uid": user_id, "factors": []}
    done["factors"] = sorted(set(done["factors"]) | set(factors))
    verified[flow_id] = done
    session["verified"] = dict(list(verified.items())[-MAX_FLOWS_VERIFIED:])


def verified_in_flow(flow_id: str) -> dict | None:
    return (session.get("verified") or {}).get(flow_id)


def set_pending(pending_id: str) -> None:
    session["pending"] = pending_id


def pending_id() -> str | None:
    return session.get("pending")


def stash(name: str, value: object) -> None:
    """Short-lived per-browser values of the hosted pages (an enrolment in progress)."""
    session[f"stash:{name}"] = value


def unstash(name: str, *, keep: bool = True) -> object:
    return session.get(f"stash:{name}") if keep else session.pop(f"stash:{name}", None)


#: Flows a browser may have open at once (tabs); starting one more drops the oldest.
MAX_OPEN_FLOWS = 10


def open_flows() -> list[str]:
    return list(session.get("flows") or [])


def note_open_flows(flow_ids: list[str]) -> None:
    session["flows"] = flow_ids[-MAX_OPEN_FLOWS:]


def drop_if_unsaved() -> None:
    """Forget a session that was never stored: a refused request leaves nothing in Redis."""
    if getattr(session, "sid", None) is None:
        session.clear()


def browser_binding() -> str:
    """A random value of this browser's session that pending flows are bound to."""
    value = session.get("bind")
    if value is None:
        value = session["bind"] = secrets.token_urlsafe(16)
    return value


def end() -> AuthState | None:
    state = auth_state()
    session.clear()
    return state


def end_keeping_flows() -> AuthState | None:
    """Sign out, but keep this browser's binding: its pending sign-ins stay its own."""
    state = auth_state()
    bind = session.get("bind")
    session.clear()
    session.regenerate()  # type: ignore[attr-defined]
    if bind is not None:
        session["bind"] = bind
    return state


def remember_logout_redirect(uri: str | None) -> None:
    session["logout_redirect"] = uri


def take_logout_redirect() -> str | None:
    return session.pop("logout_redirect", None)


def session_key() -> str | None:
    """This browser's session key in the store (never shown: it is the cookie's value)."""
    return getattr(session, "sid", None)
