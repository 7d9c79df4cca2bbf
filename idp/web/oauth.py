"""Protocol endpoints: discovery, JWKS, authorization, token, userinfo, revocation,
introspection and RP-initiated logout."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for

from .. import clock
from ..authn import policy
from ..extensions import csrf, db
from ..models import User
from ..oauth import access, authorize as authz, revocation
from ..store import flows
from . import cors, session as web_session

bp = Blueprint("oauth", __name__)


def _server():  # noqa: ANN202
    return current_app.extensions["idp.authorization_server"]


# --- discovery and keys -----------------------------------------------------------------

def _cached_json(body: bytes, etag: str, max_age: int) -> Response:
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")
def discovery() -> Response:
    body, etag = current_app.extensions["idp.discovery"]
    return _cached_json(body, etag, 3600)


@bp.get("/jwks.json")
def jwks() -> Response:
    snap = current_app.extensions["idp.keys"].snapshot()
    # Short enough that a resource server sees the next key long before it signs anything.
    return _cached_json(snap.jwks_body, snap.jwks_etag, 300)


# --- authorization ----------------------------------------------------------------------

@bp.route("/authorize", methods=["GET", "POST"])
@csrf.exempt  # a protocol endpoint: OIDC Core 3.1.2.1 allows POST from any origin
def authorize() -> Response:
    try:
        params = authz.single_valued(request.values.to_dict(flat=False))
        req = authz.validate(_server(), params, request.base_url)
    except OAuth2Error as error:
        return _authorization_error(error)
    user, state = web_session.current_user()
    outcome = policy.evaluate(state, _demand(req), now=clock.now())
    if isinstance(outcome, policy.Satisfied):
        return _issue_code(req, user, state, outcome)
    if "none" in req.prompts:
        # OIDC Core 3.1.2.6: no interaction allowed, so say what would have been needed.
        return _redirect_error(req, outcome.error, "the person must sign in")
    flow_id = flows.put(
        {
            "params": params,
            "created_at": clock.now(),
            "bind": web_session.browser_binding(),
            "login_hint": req.login_hint,
        },
        current_app.config["IDP_FLOW_TTL"],
    )
    return redirect(url_for("auth.login", flow=flow_id), code=303 if request.method == "POST" else 302)


@bp.get("/authorize/resume")
def resume() -> Response:
    """Back from the sign-in pages: re-validate the stored request and issue the code."""
    flow_id = request.args.get("flow", "")
    flow = flows.get(flow_id)
    if flow is None or flow["bind"] != web_session.browser_binding():
        return _error_page("expired_flow", "This sign-in has expired. Go back to the application and start again.")
    try:
        req = authz.validate(_server(), flow["params"], url_for("oauth.authorize", _external=True))
    except OAuth2Error as error:
        return _authorization_error(error)
    user, state = web_session.current_user()
    demand = _demand(req, fresh_after=flow["created_at"])
    outcome = policy.evaluate(state, demand, now=clock.now())
    if not isinstance(outcome, policy.Satisfied):
        return redirect(url_for("auth.login", flow=flow_id))
    if not flows.delete(flow_id):  # single use: a second tab cannot complete it again
        return _error_page("expired_flow", "This sign-in was already completed.")
    return _issue_code(req, user, state, outcome)


def _demand(req: authz.AuthorizationRequest, fresh_after: int | None = None) -> policy.Demand:
    return policy.Demand(
        acr=req.acr,
        max_age=req.max_age,
        fresh_after=fresh_after,
        hint_user_id=req.hint_user_id,
    )


def _issue_code(req: authz.AuthorizationRequest, user: User, state, outcome: policy.Satisfied) -> Response:  # noqa: ANN001
    grant = req.grant
    grant.request.user = user
    grant.request.auth_context = _AuthContext(outcome.acr, outcome.amr, outcome.auth_time, state.sid)
    code = grant.generate_authorization_code()
    grant.save_authorization_code(code, grant.request)
    db.session.commit()
    return _respond(req.redirect_uri, req.response_mode, {"code": code, "state": req.state})


class _AuthContext:
    def __init__(self, acr: str, amr: list[str], auth_time: int, sid: str):
        self.acr, self.amr, self.auth_time, self.sid = acr, amr, auth_time, sid


def _authorization_error(error: OAuth2Error) -> Response:
    if not error.redirect_uri:
        # Client or redirect URI unverified: tell the person, redirect nowhere.
        return _error_page(error.error, error.description or "The request is not valid.", status=400)
    params = {"error": error.error, "error_description": error.description, "state": error.state}
    return _respond(error.redirect_uri, getattr(error, "response_mode", "query"), params)


def _redirect_error(req: authz.AuthorizationRequest, error: str, description: str) -> Response:
    params = {"error": error, "error_description": description, "state": req.state}
    return _respond(req.redirect_uri, req.response_mode, params)


def _respond(redirect_uri: str, mode: str, params: dict) -> Response:
    """An authorization response, with `iss` (RFC 9207 §2) in successes and errors alike."""
    params = {k: v for k, v in params.items() if v is not None}
    params["iss"] = current_app.config["IDP_ISSUER"]
    if mode == "form_post":
        return Response(render_template("oauth/form_post.html", action=redirect_uri, params=params))
    sep = "&" if "?" in redirect_uri else "?"
    # 303 after a POST so the browser does not re-send the body to the client (RFC 9700 §4.11).
    return redirect(redirect_uri + sep + urlencode(params), code=303 if request.method == "POST" else 302)


def _error_page(error: str, description: str, status: int = 400) -> Response:
    return Response(
        render_template("oauth/error.html", error=error, description=description), status=status
    )


# --- token, revocation, introspection -----------------------------------------------

@bp.post("/token", provide_automatic_options=False)
@csrf.exempt
def token() -> Response:
    return cors.for_client(_server().create_token_response())


@bp.post("/revoke", provide_automatic_options=False)
@csrf.exempt
def revoke() -> Response:
    return cors.for_client(_server().create_endpoint_response("revocation"))


@bp.post("/introspect")
@csrf.exempt
def introspect() -> Response:
    response = _server().create_endpoint_response("introspection")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/token", methods=["OPTIONS"])
@bp.route("/revoke", methods=["OPTIONS"])
@bp.route("/userinfo", methods=["OPTIONS"])
def preflight() -> Response:
    return cors.preflight()


# --- userinfo -------------------------------------------------------------------------

@bp.route("/userinfo", methods=["GET", "POST"], provide_automatic_options=False)
@csrf.exempt
def userinfo() -> Response:
    token_value = _bearer_token()
    found = access.validate(token_value) if token_value else None
    if found is None or found.user is None:
        # RFC 6750 §3.1
        error = 'Bearer error="invalid_token"' if token_value else 'Bearer realm="idp"'
        response = Response(status=401, headers={"WWW-Authenticate": error})
        return cors.for_token(response, None)
    scopes = set(str(found.claims.get("scope", "")).split())
    if "openid" not in scopes:
        response = Response(status=403, headers={"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="openid"'})
        return cors.for_token(response, found.claims)
    response = Response(json.dumps(claims_for(found.user, scopes)), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return cors.for_token(response, found.claims)


def claims_for(user: User, scopes: set[str]) -> dict:
    """OIDC Core 5.4: which claims each scope releases."""
    claims: dict = {"sub": user.subject}
    if "profile" in scopes:
        claims["name"] = user.name or user.email
    if "email" in scopes:
        # Only invited (mail received) or admin-created accounts exist: the address is known.
        claims["email"] = user.email
        claims["email_verified"] = True
    return claims


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        return request.form.get("access_token") or None  # RFC 6750 §2.2
    return None


# --- RP-initiated logout --------------------------------------------------------------

@bp.route("/logout", methods=["GET", "POST"])
@csrf.exempt  # the RP may POST here; the confirmation form below carries a CSRF token
def logout() -> Response:
    try:
        end = _server().validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return _error_page(error.error, error.description or "The logout request is not valid.")
    user, _ = web_session.current_user()
    hint_sub = (end.id_token_claims or {}).get("sub")
    if user is not None and hint_sub != user.subject:
        # Without a hint naming the signed-in person, a cross-site request could sign them
        # out: ask first (OIDC RP-Initiated Logout §2).
        web_session.remember_logout_redirect(end.redirect_uri)
        return Response(render_template("oauth/logout_confirm.html", client=end.client))
    _end_session()
    if end.redirect_uri:
        return redirect(end.redirect_uri, code=303 if request.method == "POST" else 302)
    return Response(render_template("oauth/logged_out.html"))


@bp.post("/logout/confirm")
def logout_confirm() -> Response:
    target = web_session.take_logout_redirect()  # validated by logout() above
    _end_session()
    if target:
        return redirect(target, code=303)
    return Response(render_template("oauth/logged_out.html"))


def _end_session() -> None:
    state = web_session.end()
    if state is not None:
        revocation.revoke_session_grants(state.sid)
        db.session.commit()
