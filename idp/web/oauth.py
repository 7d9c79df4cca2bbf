"""Protocol endpoints: discovery, JWKS, authorization, token, userinfo, revocation,
introspection and RP-initiated logout."""

from __future__ import annotations

import json
from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, redirect, render_template, request
from flask_babel import gettext
from idp_resource.dpop import InvalidProof

from .. import i18n, metrics
from ..authn import policy
from ..extensions import csrf, db
from ..oauth import access, authorize as authz, dpop, revocation
from ..oauth.claims import claims_for
from . import constant_documents, cors, flow, session as web_session

bp = Blueprint("oauth", __name__)


def _server():  # noqa: ANN202
    return current_app.extensions["idp.authorization_server"]


# --- discovery and keys -----------------------------------------------------------------

def _document(document: constant_documents.Document) -> Response:
    """The Flask answer for a request the WSGI layer passed on (a query string, say)."""
    unchanged = constant_documents.not_modified(document, request.headers.get("If-None-Match"))
    body = b"" if unchanged else document.body
    return Response(body, status=304 if unchanged else 200, headers=constant_documents.headers(document, unchanged))


@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")
def discovery() -> Response:
    return _document(constant_documents.discovery(current_app))


@bp.get("/jwks.json")
def jwks() -> Response:
    return _document(constant_documents.jwks(current_app))


# --- authorization ----------------------------------------------------------------------

@bp.route("/authorize", methods=["GET", "POST"])
@csrf.exempt  # a protocol endpoint: OIDC Core 3.1.2.1 allows POST from any origin
def authorize() -> Response:
    try:
        params = authz.request_parameters(request.values.to_dict(flat=False))
        i18n.use_ui_locales(params.get("ui_locales"))
        req = authz.validate(_server(), params, request.base_url)
    except OAuth2Error as error:
        return flow.authorization_error(error)
    user, state = web_session.signed_in_person()
    current = flow.Flow(None, req, None)
    outcome = flow.evaluate(current, user, state, enrolled=user.enrolled if user is not None else set())
    if isinstance(outcome, policy.Satisfied) or "none" in req.prompts or outcome.kind == "unmet":
        return flow.proceed(current, (user, state, outcome))
    try:
        flow_id = flow.start(params, req)
    except flow.TooManyFlows:
        return flow.too_many_flows()
    return flow.go_to_step(flow.Flow(flow_id, req, None), outcome, user)


@bp.get("/authorize/resume")
def resume() -> Response:
    """Back from a sign-in page: re-validate the stored request and take the next step."""
    try:
        current = flow.load(request.args.get("flow", ""))
    except OAuth2Error as error:
        return flow.authorization_error(error)
    if current is None or current.id is None:
        return flow.expired()
    return flow.proceed(current)


# --- token, revocation, introspection -----------------------------------------------

@bp.post("/token", provide_automatic_options=False)
@csrf.exempt
def token() -> Response:
    response = _server().create_token_response()
    if response.status_code == 200:
        metrics.token_issued(request.form.get("grant_type"))
    return cors.for_client(response)


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
    scheme, token_value = _access_token()
    found = access.validate(token_value) if token_value else None
    if found is None or found.user is None:
        # RFC 6750 §3.1
        error = f'{scheme} error="invalid_token"' if token_value else 'Bearer realm="idp"'
        response = Response(status=401, headers={"WWW-Authenticate": error})
        return cors.for_token(response, None)
    refused = _dpop_refusal(scheme, token_value, found.claims)
    if refused is not None:
        return cors.for_token(refused, None)
    scopes = set(str(found.claims.get("scope", "")).split())
    if "openid" not in scopes:
        response = Response(status=403, headers={"WWW-Authenticate": 'Bearer error="insufficient_scope", scope="openid"'})
        return cors.for_token(response, found.claims)
    response = Response(json.dumps(claims_for(found.user, scopes)), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return cors.for_token(response, found.claims)


def _access_token() -> tuple[str, str | None]:
    """The scheme (Bearer or DPoP) and the access token of the request."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "dpop") and value.strip():
        return ("DPoP" if scheme.lower() == "dpop" else "Bearer"), value.strip()
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        return "Bearer", request.form.get("access_token") or None  # RFC 6750 §2.2
    return "Bearer", None


def _dpop_refusal(scheme: str, token_value: str, claims: dict) -> Response | None:
    """RFC 9449 §7: a DPoP-bound token needs the DPoP scheme and a proof of its key; a
    bearer token is not sent as DPoP. None when the request may go on."""
    cnf = claims.get("cnf")
    bound = cnf.get("jkt") if isinstance(cnf, dict) else None
    if bound is None and scheme == "Bearer":
        return None
    algs = " ".join(dpop.ALGS)
    if bound is None or scheme != "DPoP":
        return Response(status=401, headers={"WWW-Authenticate": f'DPoP error="invalid_token", algs="{algs}"'})
    try:
        proven = dpop.resource_request_key(token_value, "/userinfo")
    except InvalidProof:
        return Response(status=401, headers={"WWW-Authenticate": f'DPoP error="invalid_dpop_proof", algs="{algs}"'})
    if proven != bound:
        return Response(status=401, headers={"WWW-Authenticate": f'DPoP error="invalid_token", algs="{algs}"'})
    return None


# --- RP-initiated logout --------------------------------------------------------------

@bp.route("/logout", methods=["GET", "POST"])
@csrf.exempt  # the RP may POST here; the confirmation form below carries a CSRF token
def logout() -> Response:
    try:
        end = _server().validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return flow.error_page(error.error, gettext("The sign-out request from the application is not valid."), detail=error.description)
    requested = request.values.get("post_logout_redirect_uri")
    if requested and not end.redirect_uri:
        # Nowhere to send the person back to: tell the app's developer why, rather than
        # stopping silently on "Signed out" (and sign no one out on a broken request).
        return Response(render_template(
            "oauth/logout_uri_unregistered.html", client=end.client, uri=requested,
        ), status=400)
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
