"""Moving a sign-in forward: from wherever the person is, to the one step still missing, and
finally back to the client with a code (or to the account page they came from).

Every hosted page ends by calling `proceed`, so the decision lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext

from .. import clock, i18n, metrics, mfa
from ..authn import acr as acrs
from ..authn.policy import AuthState, Demand, Satisfied
from ..authn.steps import Step, next_step, user_floor
from ..extensions import db
from ..lockout.addresses import counted_address
from ..models import User
from ..oauth import authorize as authz
from ..store import flows, pending
from . import device, session as web_session


@dataclass(frozen=True)
class Flow:
    """A pending authorization request (or, with no request, a sign-in for our own pages)."""

    id: str | None
    request: authz.AuthorizationRequest | None
    #: Factors verified inside this flow: {"uid": …, "factors": [...]}.
    verified: dict | None = None
    next: str = "/account"


SAFE_NEXT = ("/account", "/admin", "/password/reset")


def safe_next(path: str | None) -> str:
    """Only our own pages: `next` must never become an open redirect."""
    if path and not path.isprintable():
        # CR/LF would end up in a Location header (issue 9, item 15): malformed, not ours.
        abort(400, description="next must be a path on this site.")
    if path and path.startswith(SAFE_NEXT) and "//" not in path and "\\" not in path and ".." not in path:
        return path
    return "/account"


class TooManyFlows(Exception):
    """This client address started as many sign-ins as it may for now."""


def start(params: dict[str, str], req: authz.AuthorizationRequest) -> str:
    """Store the request as a flow bound to this browser. Bounded (issue 9, item 1): a
    browser keeps its last MAX_OPEN_FLOWS, an address starts IDP_FLOWS_PER_ADDRESS per
    IDP_FLOW_TTL; the parameters were capped by authz.request_parameters."""
    c = current_app.config
    mine = web_session.open_flows()
    excess = max(0, len(mine) - web_session.MAX_OPEN_FLOWS + 1)  # the new one counts too
    evict, mine = mine[:excess], mine[excess:]
    flow_id = flows.put(
        {"params": params, "bind": web_session.browser_binding(), "login_hint": req.login_hint},
        c["IDP_FLOW_TTL"], address=counted_address(device.client_ip(), v6_prefix=c["IDP_LOCKOUT_IPV6_PREFIX"]),
        per_address=c["IDP_FLOWS_PER_ADDRESS"],
        evict=evict,
    )
    if flow_id is None:
        web_session.drop_if_unsaved()  # nor a session for a browser that brought none
        raise TooManyFlows()
    web_session.note_open_flows([*mine, flow_id])
    return flow_id


def load(flow_id: str | None, next_path: str | None = None) -> Flow | None:
    """The flow, if it exists and belongs to this browser; raises OAuth2Error if its request
    no longer validates (a client changed since)."""
    if not flow_id:
        return Flow(None, None, None, safe_next(next_path))
    data = flows.get(flow_id)
    if data is None or data["bind"] != web_session.browser_binding():
        return None
    # The switch, used within this flow, wins over the client's ui_locales (choose_language).
    i18n.use_ui_locales(data.get("language") or data["params"].get("ui_locales"))
    server = current_app.extensions["idp.authorization_server"]
    req = authz.validate(server, data["params"], url_for("oauth.authorize", _external=True))
    return Flow(flow_id, req, web_session.verified_in_flow(flow_id))


def choose_language(flow_id: str, code: str) -> None:
    """The language switch, pressed on a page of this browser's flow: the person's choice
    beats the ui_locales the client sent, for the rest of the flow."""
    data = flows.get(flow_id)
    if data is not None and data["bind"] == web_session.browser_binding():
        flows.replace(flow_id, {**data, "language": code})


def from_request() -> Flow | Response:
    """The flow a hosted page was opened in (`flow=` or `next=`), or the page to show
    instead: an expired flow, or an error for a request that no longer validates."""
    return from_values(request.values.get("flow"), request.values.get("next"))


def from_values(flow_id: str | None, next_path: str | None) -> Flow | Response:
    """The same, for a flow named elsewhere (an upstream sign-in keeps it with its state)."""
    try:
        current = load(flow_id, next_path)
    except OAuth2Error as error:
        return authorization_error(error)
    return expired() if current is None else current


def record_verified(current: Flow, user: User, factors: dict[str, int]) -> None:
    """Put freshly verified factors in the session and, within a flow, note them as
    verified for its request."""
    web_session.record_factors(user, factors)
    if current.id:
        web_session.mark_verified_in_flow(current.id, user.id, list(factors))


def demand(flow: Flow, user: User | None, enrolled: set[str], just_verified: frozenset[str] = frozenset()) -> Demand:
    floor = None
    verified: frozenset[str] = just_verified
    if user is not None:
        floor = user_floor(mfa_required=user.mfa_required, enrolled=enrolled)
        if flow.verified and flow.verified.get("uid") == user.id:
            verified |= frozenset(flow.verified["factors"])
    req = flow.request
    return Demand(
        acr=acrs.strongest([req.acr if req else None, floor]),
        max_age=req.max_age if req else None,
        verified_in_flow=verified,
        hint_user_id=req.hint_user_id if req else None,
    )


def evaluate(
    flow: Flow, user: User | None, state: AuthState | None, just_verified: frozenset[str] = frozenset(),
    enrolled: set[str] | None = None,
) -> Satisfied | Step:
    """`just_verified`: factors verified by the request being handled, not yet recorded;
    `enrolled`: the person's second factors, when the caller has them already."""
    if enrolled is None:
        enrolled = mfa.enrolled(user.id) if user is not None else set()
    return next_step(state, demand(flow, user, enrolled, just_verified), enrolled=enrolled, now=clock.now())


def proceed(flow: Flow, evaluated: tuple[User | None, AuthState | None, Satisfied | Step] | None = None) -> Response:
    """Send the browser to the next step, or finish. `evaluated`: the session's person,
    state and evaluation, when the caller just made them for this very flow."""
    if evaluated is None:
        user, state = web_session.signed_in_person()
        outcome = evaluate(flow, user, state, enrolled=user.enrolled if user is not None else set())
    else:
        user, state, outcome = evaluated
    req = flow.request
    if isinstance(outcome, Satisfied):
        if req is None:
            return redirect(flow.next, code=303)
        if flow.id and not flows.delete(flow.id):  # single use: a second tab cannot finish it again
            return error_page("expired_flow", gettext("This sign-in was already completed. Go back to the application."))
        return issue_code(req, user, state, outcome)
    if req is not None and "none" in req.prompts:
        # OIDC Core 3.1.2.6: no interaction allowed, so say what would have been needed.
        error = "login_required" if outcome.kind == "password" else "interaction_required"
        return redirect_error(req, error, "the person must authenticate")
    if outcome.kind == "password" and outcome.reason == "id_token_hint" and flow.verified:
        # Someone signed in within this flow, and it is not the person id_token_hint names.
        return redirect_error(req, "login_required", "the signed-in person is not the one id_token_hint names")
    if outcome.kind == "unmet":
        return redirect_error(req, "unmet_authentication_requirements",
                              f"no enrolled authenticator can reach acr {outcome.target}") if req else \
            error_page("unmet_authentication_requirements", gettext("None of your authenticators can do what this page needs."), 403)
    return go_to_step(flow, outcome, user)


def go_to_step(flow: Flow, step: Step, user: User | None, *, first: dict[str, int] | None = None,
               purpose: str | None = None) -> Response:
    """Redirect to the page for `step` (303 after a POST: never re-send credentials).
    `first`: the first factors of a sign-in in progress, which wait with the pending record."""
    code = 303 if request.method == "POST" else 302
    if step.kind == "password":
        return redirect(url_for("auth.login", **where(flow)), code=code)
    if step.kind == "enroll":
        return redirect(url_for("account.setup", **where(flow)), code=code)
    purpose = purpose or ("login" if first else "step_up")
    if purpose == "step_up":
        metrics.step_up("asked")
    record = {
        "user_id": user.id,
        "purpose": purpose,
        "first": first or {},
        "flow": flow.id,
        "next": flow.next if flow.id is None else None,
        "bind": web_session.browser_binding(),
        "epoch": user.session_epoch,  # a disable or reset meanwhile ends it too
        "target": step.target,
        "methods": list(step.methods),
    }
    web_session.set_pending(pending.start(record))
    return redirect(url_for("auth.mfa", **where(flow)), code=code)


def where(flow: Flow) -> dict[str, str]:
    """The query that keeps a page inside this flow."""
    return {"flow": flow.id} if flow.id else {"next": flow.next}


def continue_url(flow: Flow) -> str:
    """Where a hosted page sends the browser once its own step is done."""
    if flow.id:
        return url_for("oauth.resume", flow=flow.id)
    return url_for("auth.resume_next", next=flow.next)


# --- finishing ------------------------------------------------------------------------

class _AuthContext:
    def __init__(self, acr: str, amr: list[str], auth_time: int, sid: str):
        self.acr, self.amr, self.auth_time, self.sid = acr, amr, auth_time, sid


def issue_code(req: authz.AuthorizationRequest, user: User, state: AuthState, outcome: Satisfied) -> Response:
    grant = req.grant
    grant.request.user = user
    grant.request.auth_context = _AuthContext(outcome.acr, outcome.amr, outcome.auth_time, state.sid)
    db.session.commit()  # what the sign-in wrote, before the code exists
    code = grant.generate_authorization_code()
    grant.save_authorization_code(code, grant.request)
    return respond(req.redirect_uri, req.response_mode, {"code": code, "state": req.state})


def authorization_error(error: OAuth2Error) -> Response:
    if not error.redirect_uri:
        # Client or redirect URI unverified: tell the person, redirect nowhere.
        return error_page(error.error, str(_OAUTH_ERRORS.get(error.error, _OAUTH_ERRORS["invalid_request"])),
                          detail=error.description)
    params = {"error": error.error, "error_description": error.description, "state": error.state}
    return respond(error.redirect_uri, getattr(error, "response_mode", "query"), params)


def redirect_error(req: authz.AuthorizationRequest, error: str, description: str) -> Response:
    params = {"error": error, "error_description": description, "state": req.state}
    return respond(req.redirect_uri, req.response_mode, params)


def respond(redirect_uri: str, mode: str, params: dict) -> Response:
    """An authorization response, with `iss` (RFC 9207 §2) in successes and errors alike."""
    params = {k: v for k, v in params.items() if v is not None}
    params["iss"] = current_app.config["IDP_ISSUER"]
    if mode == "form_post":
        return Response(render_template("oauth/form_post.html", action=redirect_uri, params=params))
    sep = "&" if "?" in redirect_uri else "?"
    # 303 after a POST so the browser does not re-send the body to the client (RFC 9700 §4.11).
    return redirect(redirect_uri + sep + urlencode(params), code=303 if request.method == "POST" else 302)


#: What a person is told about a request we cannot even answer to its app (client or
#: redirect URI unverified); the protocol's own description follows as a detail.
_OAUTH_ERRORS = {
    "invalid_request": lazy_gettext("The application sent a sign-in request that cannot be accepted. Go back to it and try again; if this happens again, tell its developers."),
    "invalid_client": lazy_gettext("The application is not registered here. Tell its developers."),
    "unauthorized_client": lazy_gettext("The application is not allowed to sign people in this way. Tell its developers."),
    "invalid_scope": lazy_gettext("The application asked for access that is not offered here. Tell its developers."),
}


def error_page(error: str, description: str, status: int = 400, detail: str | None = None) -> Response:
    """`detail`: the protocol's description (English, for the developer), under the sentence."""
    page = render_template("oauth/error.html", error=error, description=description, detail=detail)
    return Response(page, status=status)


def too_many_flows() -> Response:
    response = error_page("temporarily_unavailable", gettext("Too many sign-ins were started from your network. "
                                                             "Try again in a few minutes."), 429)
    response.headers["Retry-After"] = "60"
    return response


def expired() -> Response:
    return error_page("expired_flow", gettext("This sign-in has expired. Go back to the application and start again."))
