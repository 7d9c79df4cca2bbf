"""Protocol endpoints: discovery, JWKS, authorization, token, userinfo, revocation,
introspection and RP-initiated logout."""

from __future__ import annotations

from authlib.oauth2 import OAuth2Error
from flask import Blueprint, Response, current_app, redirect, render_template, request
from flask_babel import gettext

from .. import i18n
from ..authn import policy
from ..extensions import csrf, db
from ..oauth import authorize as authz, revocation
from . import constant_documents, cors, flow, json_endpoints, session as web_session

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

# Ordinary requests are answered before Flask (web/json_endpoints); these views take the
# rest (a query string, a chunked body, another content type) with the same functions.

@bp.post("/token", provide_automatic_options=False)
@csrf.exempt
def token() -> Response:
    return json_endpoints.token(_server(), origin=request.headers.get("Origin"), client_id=request.form.get("client_id"),
                                grant_type=request.form.get("grant_type")).response()


@bp.post("/revoke", provide_automatic_options=False)
@csrf.exempt
def revoke() -> Response:
    return json_endpoints.revocation(_server(), origin=request.headers.get("Origin"),
                                     client_id=request.form.get("client_id")).response()


@bp.post("/introspect")
@csrf.exempt
def introspect() -> Response:
    return json_endpoints.introspection(_server()).response()


@bp.route("/token", methods=["OPTIONS"])
@bp.route("/revoke", methods=["OPTIONS"])
@bp.route("/userinfo", methods=["OPTIONS"])
def preflight() -> Response:
    return cors.preflight()


# --- userinfo -------------------------------------------------------------------------

@bp.route("/userinfo", methods=["GET", "POST"], provide_automatic_options=False)
@csrf.exempt
def userinfo() -> Response:
    form_token = request.form.get("access_token") if request.mimetype == "application/x-www-form-urlencoded" else None
    return json_endpoints.userinfo(request.headers, request.method, form_token).response()


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
