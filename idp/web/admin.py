"""The admin console: people, invitations, clients, signing keys and the audit log.

Admins only, and only at acr `mfa` or above: the role alone is not enough, the session
must have been stepped up (an admin at `pwd` is sent through the second factor first).
Every action goes through the same functions as the command line, and is audited with
who did it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext, ngettext
from sqlalchemy import or_, select

from .. import accounts, audit, clock, i18n, mail, mfa
from .. import clients as client_registry
from .. import upstreams as upstream_registry
from ..authn import acr as acrs
from ..authn.steps import Step
from ..extensions import db
from ..keys import rotation
from ..models import AuditEvent, Client, Invitation, SigningKey, TotpFactor, User, WebAuthnCredential
from . import flow, notices, session as web_session
from .account import fresh_enough, step_up

bp = Blueprint("admin", __name__, url_prefix="/admin")

PAGE = 50

_USER_ACTIONS_DONE = {
    "disable": lazy_gettext("disabled"), "enable": lazy_gettext("enabled"), "unlock": lazy_gettext("unlocked"),
    "reset-mfa": lazy_gettext("two-factor authentication reset; an enrolment link was mailed to them"), "promote": lazy_gettext("made an admin"),
    "demote": lazy_gettext("no longer an admin"),
}


def admin_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def guarded(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        user, state = web_session.current_user()
        if user is None:
            return redirect(url_for("auth.login", next=flow.safe_next(request.path)))
        if not user.is_admin:
            return render_template("oauth/error.html", error="forbidden",
                                   description=gettext("This page is for administrators.")), 403
        if not acrs.satisfies(acrs.level(state.factors), "mfa"):
            enrolled = mfa.enrolled(user.id)
            here = flow.Flow(None, None, None, flow.safe_next(request.path if request.method == "GET" else "/admin"))
            if not enrolled:
                return redirect(url_for("account.setup", next=here.next), code=303)
            return flow.go_to_step(here, Step("second_factor", "mfa", tuple(sorted(enrolled))), user)
        if request.method == "POST" and not fresh_enough(user, state):
            # Changes need a recent second factor, not just one earlier in a 12-hour session.
            return step_up(user, "/admin")
        g.admin = user
        return view(*args, **kwargs)

    return guarded


def _done(endpoint: str, message: str, **values) -> Response:
    notices.done(message)
    return redirect(url_for(endpoint, **values), code=303)


def _refuse(endpoint: str, message: str, **values) -> Response:
    notices.refused(message)
    return redirect(url_for(endpoint, **values), code=303)


# --- people -----------------------------------------------------------------------------

@bp.get("")
@admin_required
def users() -> str:
    q = request.args.get("q", "").strip()[:200]
    query = select(User).order_by(User.email)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(User.email.like(like), User.name.ilike(like)))
    people = db.session.scalars(query.limit(PAGE)).all()
    regulator = current_app.extensions["idp.regulator"]
    rows = [(u, regulator.status(u.email), mfa.enrolled(u.id)) for u in people]
    return render_template("admin/users.html", rows=rows, q=q)


@bp.get("/users/<int:user_id>")
@admin_required
def user_detail(user_id: int) -> str | tuple[str, int]:
    person = db.session.get(User, user_id)
    if person is None:
        return render_template("oauth/error.html", error="not_found", description=gettext("No such person.")), 404
    return render_template(
        "admin/user.html", person=person,
        lockout=current_app.extensions["idp.regulator"].status(person.email),
        totps=db.session.query(TotpFactor).filter_by(user_id=person.id).all(),
        keys=db.session.query(WebAuthnCredential).filter_by(user_id=person.id).all(),
        recovery_left=mfa.recovery_codes_left(person.id),
    )


@bp.post("/users/<int:user_id>/<action>")
@admin_required
def user_action(user_id: int, action: str) -> Response:
    person = db.session.get(User, user_id)
    if person is None:
        return _refuse("admin.users", gettext("No such person."))
    try:
        if action == "disable":
            accounts.disable(person, actor=g.admin)
        elif action == "enable":
            accounts.enable(person, actor=g.admin)
        elif action == "unlock":
            cleared = current_app.extensions["idp.regulator"].unlock(person.email)
            audit.emit("unlock", user_id=person.id, actor_id=g.admin.id, counters=cleared)
        elif action == "reset-mfa":
            accounts.reset_mfa(person, actor=g.admin)
        elif action in ("promote", "demote"):
            accounts.set_admin(person, action == "promote", actor=g.admin)
        else:
            return _refuse("admin.user_detail", gettext("Unknown action."), user_id=user_id)
    except accounts.AccountError as exc:
        db.session.rollback()
        return _refuse("admin.user_detail", i18n.explain(exc), user_id=user_id)
    except mail.MailError:
        db.session.rollback()
        return _refuse("admin.user_detail", gettext("The mail could not be sent; nothing was changed."), user_id=user_id)
    db.session.commit()
    return _done("admin.user_detail", str(_USER_ACTIONS_DONE[action]), user_id=user_id)


# --- invitations --------------------------------------------------------------------------

@bp.route("/invitations", methods=["GET", "POST"])
@admin_required
def invitations() -> Response | str:
    if request.method == "POST":
        try:
            link = accounts.invite(
                request.form.get("email", ""), actor=g.admin,
                is_admin=bool(request.form.get("admin")), require_mfa=bool(request.form.get("require_mfa")),
                locale=request.form.get("language") if request.form.get("language") in i18n.LANGUAGES else i18n.current(),
            )
        except accounts.AccountError as exc:
            db.session.rollback()
            return _refuse("admin.invitations", i18n.explain(exc))
        except mail.MailError:
            db.session.rollback()
            return _refuse("admin.invitations", gettext("The mail could not be sent; nothing was saved."))
        db.session.commit()
        return _done("admin.invitations", gettext("invitation sent, link valid until %(when)s", when=i18n.format_when(link.expires_at)))
    now = clock.now()
    rows = db.session.scalars(select(Invitation).order_by(Invitation.created_at.desc()).limit(PAGE)).all()
    return render_template("admin/invitations.html", rows=[(r, r.state(now)) for r in rows])


@bp.post("/invitations/<int:invitation_id>/<action>")
@admin_required
def invitation_action(invitation_id: int, action: str) -> Response:
    try:
        if action == "resend":
            accounts.resend(invitation_id, actor=g.admin)
        elif action == "revoke":
            accounts.revoke_invitation(invitation_id, actor=g.admin)
        else:
            return _refuse("admin.invitations", gettext("Unknown action."))
    except (accounts.AccountError, mail.MailError) as exc:
        db.session.rollback()
        return _refuse("admin.invitations", i18n.explain(exc))
    db.session.commit()
    return _done("admin.invitations", gettext("invitation sent again") if action == "resend" else gettext("invitation revoked"))


# --- clients ------------------------------------------------------------------------------

def _uris(field: str) -> list[str]:
    return [line.strip() for line in request.form.get(field, "").splitlines() if line.strip()]


def _seconds(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 4:
        raise client_registry.ClientError("the refresh grace window is a number of seconds")
    return int(value)


@bp.route("/clients", methods=["GET", "POST"])
@admin_required
def clients() -> Response | str:
    if request.method == "POST":
        try:
            client, secret = client_registry.create(
                name=request.form.get("name", ""), redirect_uris=_uris("redirect_uris"),
                logout_uris=_uris("post_logout_redirect_uris"), public=bool(request.form.get("public")),
                min_acr=request.form.get("min_acr") or None, pkce_required=not request.form.get("pkce_optional"),
                refresh_grace_seconds=_seconds(request.form.get("refresh_grace_seconds")),
                refresh_tokens_always=bool(request.form.get("refresh_tokens_always")),
                backchannel_logout_uri=request.form.get("backchannel_logout_uri", "").strip() or None,
                dpop_bound=bool(request.form.get("dpop_bound")), actor_id=g.admin.id,
            )
        except client_registry.ClientError as exc:
            db.session.rollback()
            return _refuse("admin.clients", i18n.explain(exc))
        db.session.commit()
        return render_template("admin/secret.html", client=client, secret=secret)
    rows = db.session.scalars(select(Client).order_by(Client.name)).all()
    return render_template("admin/clients.html", rows=rows, levels=acrs.LEVELS)


@bp.route("/clients/<client_id>", methods=["GET", "POST"])
@admin_required
def client_detail(client_id: str) -> Response | str | tuple[str, int]:
    client = client_registry.find(client_id)
    if client is None:
        return render_template("oauth/error.html", error="not_found", description=gettext("No such client.")), 404
    if request.method == "POST":
        try:
            client_registry.update_uris(client, _uris("redirect_uris"), _uris("post_logout_redirect_uris"), actor_id=g.admin.id)
        except client_registry.ClientError as exc:
            db.session.rollback()
            return _refuse("admin.client_detail", i18n.explain(exc), client_id=client_id)
        db.session.commit()
        return _done("admin.client_detail", gettext("saved"), client_id=client_id)
    return render_template("admin/client.html", client=client)


@bp.post("/clients/<client_id>/rotate-secret")
@admin_required
def client_rotate_secret(client_id: str) -> Response | str:
    client = client_registry.find(client_id)
    try:
        secret = client_registry.rotate_secret(client, actor_id=g.admin.id) if client else None
    except client_registry.ClientError as exc:
        return _refuse("admin.clients", i18n.explain(exc))
    if client is None:
        return _refuse("admin.clients", gettext("No such client."))
    db.session.commit()
    return render_template("admin/secret.html", client=client, secret=secret)


@bp.post("/clients/<client_id>/delete")
@admin_required
def client_delete(client_id: str) -> Response:
    client = client_registry.find(client_id)
    if client is not None:
        client_registry.delete(client, actor_id=g.admin.id)
        db.session.commit()
    return _done("admin.clients", gettext("client deleted"))


# --- upstream providers ---------------------------------------------------------------

@bp.route("/upstreams", methods=["GET", "POST"])
@admin_required
def upstreams() -> Response | str:
    if request.method == "POST":
        try:
            row = upstream_registry.add(
                request.form.get("name", "").strip(), issuer=request.form.get("issuer", "").strip(),
                client_id=request.form.get("client_id", "").strip(), client_secret=request.form.get("client_secret", ""),
                display_name=request.form.get("display_name") or None, domains=_uris("domains"),
                trust_mfa=bool(request.form.get("trust_mfa")), client=current_app.extensions["idp.upstream_client"],
                keyring=current_app.extensions["idp.keyring"], actor_id=g.admin.id,
            )
        except upstream_registry.UpstreamConfigError as exc:
            db.session.rollback()
            return _refuse("admin.upstreams", i18n.explain(exc))
        db.session.commit()
        return _done("admin.upstreams", gettext("%(provider)s added; register %(uri)s at the provider",
                                                provider=row.display_name, uri=upstream_registry.redirect_uri(row.name)))
    return render_template("admin/upstreams.html", rows=upstream_registry.every(), links=upstream_registry.link_counts(),
                           redirect_base=current_app.config["IDP_ISSUER"])


@bp.post("/upstreams/<name>/remove")
@admin_required
def upstream_remove(name: str) -> Response:
    try:
        links = upstream_registry.remove(name, actor_id=g.admin.id)
    except upstream_registry.UpstreamConfigError as exc:
        return _refuse("admin.upstreams", i18n.explain(exc))
    db.session.commit()
    return _done("admin.upstreams", ngettext("%(provider)s removed with %(num)d link", "%(provider)s removed with %(num)d links",
                                             links, provider=name))


# --- keys and the audit log ------------------------------------------------------------

@bp.route("/keys", methods=["GET", "POST"])
@admin_required
def keys() -> Response | str:
    if request.method == "POST":
        alg = request.form.get("alg") or current_app.config["IDP_SIGNING_ALG"]
        if alg not in rotation.ALGORITHMS:
            return _refuse("admin.keys", gettext("Unknown algorithm."))
        active = rotation.rotate_now(alg, current_app.extensions["idp.keyring"], current_app.config["IDP_KEY_RETIRED_GRACE"])
        audit.emit("keys.rotated", actor_id=g.admin.id, alg=alg, kid=active.kid)
        db.session.commit()
        return _done("admin.keys", gettext("%(alg)s key %(kid)s is active", alg=alg, kid=active.kid))
    rows = db.session.scalars(select(SigningKey).order_by(SigningKey.created_at.desc())).all()
    return render_template("admin/keys.html", rows=rows, algorithms=rotation.ALGORITHMS)


@bp.post("/keys/<kid>/revoke")
@admin_required
def key_revoke(kid: str) -> Response:
    try:
        active = rotation.revoke(kid[:64], current_app.extensions["idp.keyring"])
    except rotation.UnknownKey:
        return _refuse("admin.keys", "no such key")
    audit.emit("keys.revoked", actor_id=g.admin.id, kid=kid, alg=active.alg, active=active.kid)
    db.session.commit()
    return _done("admin.keys", f"key {kid} revoked; {active.alg} key {active.kid} signs from now on")


@bp.get("/audit")
@admin_required
def audit_log() -> str:
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    event = request.args.get("event", "").strip()[:64]
    email = request.args.get("email", "").strip()[:320]
    if event:
        query = query.where(AuditEvent.event.like(f"{event}%"))
    if email:
        person = accounts.find_user(email)
        query = query.where(AuditEvent.user_id == (person.id if person else -1))
    rows = db.session.scalars(query.limit(200)).all()
    return render_template("admin/audit.html", rows=rows, event=event, email=email)

