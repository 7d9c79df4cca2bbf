"""Sign-in through an upstream OpenID provider ("Continue with Google"): the buttons of the
sign-in, invitation and account pages start it; the provider sends the browser back to
/login/upstream/<name>/callback. The use-cases are idp.authn.upstream's."""

from __future__ import annotations

import functools

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from .. import accounts, i18n, mfa, upstreams
from ..authn import outcomes, upstream as use
from ..authn.policy import AuthState
from ..extensions import db
from ..models import Upstream, User
from ..upstream.client import Provider
from ..upstream.errors import UpstreamError
from . import account, device, flow, notices, onboarding, session as web_session
from .auth import enrolment_link_mailed, enrolment_token, needs_after_first_factor, signed_in

bp = Blueprint("upstream", __name__)

#: Refusals and their status; the words are in templates/auth/upstream_refused.html.
STATUS = {
    "unlinked": 403, "disabled": 403, "email_unverified": 403, "domain": 403, "email_mismatch": 403,
    "linked_elsewhere": 409, "invitation": 410, "denied": 401,
    "discovery": 502, "jwks": 502, "token": 502, "userinfo": 502,
}


def _refused(reason: str, row: Upstream | None, status: int | None = None) -> tuple[str, int]:
    page = render_template("auth/upstream_refused.html", reason=reason, upstream=row)
    return page, status or STATUS.get(reason, 400)


def _configured(name: str) -> tuple[Upstream, Provider] | None:
    row = upstreams.find(name[:64])
    return (row, upstreams.provider(row, current_app.extensions["idp.keyring"])) if row else None


def _upstream(view):  # noqa: ANN001, ANN202
    """The view runs for a configured upstream: `row, provider` (a 404 page otherwise)."""

    @functools.wraps(view)
    def guarded(name: str, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        found = _configured(name)
        if found is None:
            return _refused("unknown", None, 404)
        return view(*found, *args, **kwargs)

    return guarded


def _client():  # noqa: ANN202
    return current_app.extensions["idp.upstream_client"]


def _begin(row: Upstream, provider: Provider, purpose: str, **bound) -> Response | tuple[str, int]:
    try:
        url = use.begin(provider, client=_client(), redirect_uri=upstreams.redirect_uri(row.name),
                        binding=web_session.browser_binding(), purpose=purpose, **bound)
    except UpstreamError:
        return _refused("discovery", row)
    return redirect(url, code=303)


# --- starting -------------------------------------------------------------------------------

@bp.post("/login/upstream/<name>")
@_upstream
def login_start(row: Upstream, provider: Provider) -> Response | tuple[str, int]:
    current = flow.from_request()
    if isinstance(current, Response):
        return current
    return _begin(row, provider, "login", flow=current.id, next=None if current.id else current.next)


@bp.post("/invite/<token>/upstream/<name>")
def invite_start(token: str, name: str) -> Response | tuple[str, int]:
    invitation, state = accounts.invitation_for(token[:128])
    found = _configured(name)
    if invitation is None or state != "pending" or found is None:
        return _refused("invitation" if found else "unknown", None, None if found else 404)
    return _begin(*found, "invite", invitation_id=invitation.id)


@bp.post("/account/upstreams/<name>/link")
@account.signed_in
def link_start(user: User, state: AuthState, name: str) -> Response | tuple[str, int]:
    found = _configured(name)
    if found is None:
        return _refused("unknown", None, 404)
    if not mfa.enrolled(user.id):
        return _back_to_account(error="second factor first")
    if not account.fresh_enough(user, state):
        return account.step_up(user, "/account")
    return _begin(*found, "link", user_id=user.id)


@bp.post("/account/upstreams/<int:link_id>/unlink")
@account.signed_in
def unlink(user: User, state: AuthState, link_id: int) -> Response:
    if not account.fresh_enough(user, state):
        return account.step_up(user, "/account")
    try:
        shown = upstreams.unlink(user, link_id, ip=device.client_ip())
    except upstreams.UpstreamConfigError as exc:
        db.session.rollback()
        return _back_to_account(error=i18n.explain(exc))
    db.session.commit()
    return _back_to_account(done="unlinked", provider=shown)


# --- the way back ---------------------------------------------------------------------------

def _params(args: MultiDict) -> dict[str, str] | None:
    """RFC 6749 §3.1: no parameter twice; and nothing absurdly long."""
    if any(len(values) > 1 for values in args.listvalues()) or any(len(v) > 4096 for v in args.values()):
        return None
    return dict(args.items())


@bp.get("/login/upstream/<name>/callback")
@_upstream
def callback(row: Upstream, provider: Provider) -> Response | tuple[str, int]:
    params = _params(request.args)
    if params is None:
        return _refused("malformed", row)
    verified = use.verify_callback(
        provider, params=params, binding=web_session.browser_binding(), client=_client(),
        redirect_uri=upstreams.redirect_uri(row.name), browser=device.browser(), regulator=_regulator(),
    )
    if isinstance(verified, outcomes.Locked):
        return _locked(row, verified)
    if isinstance(verified, outcomes.Refused):
        return _refused(verified.reason, row)
    purpose = verified.record["purpose"]
    if purpose == "link":
        return _linked(row, verified)
    if purpose == "invite":
        outcome = use.accept_invitation(row, provider, verified, browser=device.browser(), regulator=_regulator())
        if isinstance(outcome, outcomes.Refused):
            return _refused(outcome.reason, row)
        return onboarding.welcome(outcome.user, outcome.factors)
    return _signed_in(row, provider, verified)


def _signed_in(row: Upstream, provider: Provider, verified: use.Verified) -> Response | tuple[str, int]:
    current = flow.from_values(verified.record.get("flow"), verified.record.get("next"))
    if isinstance(current, Response):
        _regulator().succeeded(verified.reservation, complete=False)  # the flow ended meanwhile: no fault of theirs
        return current
    outcome = use.sign_in(provider, verified, browser=device.browser(), regulator=_regulator(),
                          request_needs=functools.partial(needs_after_first_factor, current),
                          enrolment_token=enrolment_token())
    if isinstance(outcome, outcomes.Locked):
        return _locked(row, outcome)
    if isinstance(outcome, outcomes.EnrolmentLinkMailed):
        return enrolment_link_mailed()
    if isinstance(outcome, outcomes.Refused):
        return _refused(outcome.reason, row)
    if isinstance(outcome, outcomes.SecondFactorDue):
        return flow.go_to_step(current, outcome.step, outcome.user, first=outcome.first)
    return signed_in(current, outcome)


def _linked(row: Upstream, verified: use.Verified) -> Response | tuple[str, int]:
    user, _ = web_session.current_user()
    result = use.link(row, verified, user=user, browser=device.browser(), regulator=_regulator())
    if isinstance(result, outcomes.Refused):
        return _refused(result.reason, row)
    if isinstance(result, use.NotLinked):
        return _back_to_account(error=i18n.explain(result.message))
    return _back_to_account(done="linked", provider=result.display_name)


def _locked(row: Upstream, locked: outcomes.Locked) -> tuple[str, int, dict]:
    page = render_template("auth/upstream_refused.html", reason="locked", upstream=row, retry_after=locked.retry_after)
    return page, 429, {"Retry-After": str(locked.retry_after)}


def _regulator():  # noqa: ANN202
    return current_app.extensions["idp.regulator"]


def _back_to_account(*, done: str | None = None, provider: str = "", error: str | None = None) -> Response:
    if error:
        notices.refused(error)
    return redirect(account.done_here(done, provider) if done else url_for("account.index"), code=303)
