"""The admin console: people, invitations, clients, signing keys and the audit log.

Admins only, and only at acr `mfa` or above: the role alone is not enough, the session
must have been stepped up (an admin at `pwd` is sent through the second factor first).
Every action goes through the same functions as the command line, and is audited with
who did it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext, lazy_gettext, ngettext
from sqlalchemy import or_, select

from .. import accounts, audit, audit_export, clock, i18n, mail, mfa
from .. import clients as client_registry
from .. import upstreams as upstream_registry
from ..authn import acr as acrs
from ..authn.steps import Step
from ..extensions import db
from ..keys import rotation
from ..models import AuditEvent, Client, Invitation, SigningKey, TotpFactor, User, WebAuthnCredential
from . import flow, notices, session as web_session
from .account import fresh_enough, step_up
from .paging import page_of

bp = Blueprint("admin", __name__, url_prefix="/admin")

_USER_ACTIONS_DONE = {
    "disable": lazy_gettext("account disabled"), "enable": lazy_gettext("account enabled"), "unlock": lazy_gettext("unlocked"),
    "reset-mfa": lazy_gettext("two-factor authentication reset; an enrolment link was mailed to them"),
    "promote": lazy_gettext("made an admin"),
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


def _unconfirmed(question: str, label: str, back: str) -> str | None:
    """Destructive actions ask first: without `confirm=yes`, the question (nothing done)."""
    if request.form.get("confirm") == "yes":
        return None
    fields = {k: v for k, v in request.form.items() if k not in ("csrf_token", "confirm")}
    return render_template("admin/confirm.html", question=question, confirm_label=label, action=request.path,
                           fields=fields, back=back)


# --- people -----------------------------------------------------------------------------

@bp.get("")
@admin_required
def users() -> str:
    q = request.args.get("q", "").strip()[:200]
    query = select(User).order_by(User.email)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(User.email.like(like), User.name.ilike(like)))
    page = page_of(query)
    regulator = current_app.extensions["idp.regulator"]
    rows = [(u, regulator.status(u.email), mfa.enrolled(u.id)) for u in page.rows]
    return render_template("admin/users.html", rows=rows, q=q, page=page)


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
        recent=db.session.scalars(
            select(AuditEvent).where(AuditEvent.user_id == person.id).order_by(AuditEvent.id.desc()).limit(10)
        ).all(),
    )


@bp.post("/users/<int:user_id>/<action>")
@admin_required
def user_action(user_id: int, action: str) -> Response:
    person = db.session.get(User, user_id)
    if person is None:
        return _refuse("admin.users", gettext("No such person."))
    back = url_for("admin.user_detail", user_id=user_id)
    if action == "disable":
        question = _unconfirmed(gettext("Disable %(email)s? Every session of theirs ends, every app loses access, and they cannot sign in until enabled again.", email=person.email), gettext("Disable"), back)
    elif action == "reset-mfa":
        question = _unconfirmed(gettext("Remove every second factor and recovery code of %(email)s? They sign in with their password and enrol again.", email=person.email), gettext("Reset two-factor authentication"), back)
    else:
        question = None
    if question is not None:
        return question  # type: ignore[return-value]
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
    q = request.args.get("q", "").strip()[:200]
    query = select(Invitation).order_by(Invitation.created_at.desc(), Invitation.id.desc())
    if q:
        query = query.where(Invitation.email.like(f"%{q.lower()}%"))
    page = page_of(query)
    return render_template("admin/invitations.html", rows=[(r, r.state(now)) for r in page.rows], page=page, q=q)


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
    q = request.args.get("q", "").strip()[:200]
    query = select(Client).order_by(Client.name, Client.client_id)
    if q:
        query = query.where(or_(Client.name.ilike(f"%{q}%"), Client.client_id == q))
    page = page_of(query)
    return render_template("admin/clients.html", rows=page.rows, page=page, q=q, levels=acrs.LEVELS)


@bp.route("/clients/<client_id>", methods=["GET", "POST"])
@admin_required
def client_detail(client_id: str) -> Response | str | tuple[str, int]:
    client = client_registry.find(client_id)
    if client is None:
        return render_template("oauth/error.html", error="not_found", description=gettext("No such client.")), 404
    if request.method == "POST":
        form = request.form
        try:
            client_registry.update(
                client, actor_id=g.admin.id, name=form.get("name", client.name), redirect_uris=_uris("redirect_uris"),
                post_logout_redirect_uris=_uris("post_logout_redirect_uris"), scope=form.get("scope", client.scope),
                min_acr=form.get("min_acr") or None, refresh_grace_seconds=form.get("refresh_grace_seconds", type=int) or 0,
                client_uri=form.get("client_uri"), logo_uri=form.get("logo_uri"),
            )
        except client_registry.ClientError as exc:
            db.session.rollback()
            return _refuse("admin.client_detail", i18n.explain(exc), client_id=client_id)
        db.session.commit()
        return _done("admin.client_detail", gettext("saved"), client_id=client_id)
    return render_template("admin/client.html", client=client, levels=acrs.LEVELS)


@bp.post("/clients/<client_id>/rotate-secret")
@admin_required
def client_rotate_secret(client_id: str) -> Response | str:
    client = client_registry.find(client_id)
    if client is not None:
        question = _unconfirmed(gettext("Make a new secret for %(name)s? The current secret stops working at once: the app fails until it has the new one.", name=client.name), gettext("Rotate secret"), url_for("admin.client_detail", client_id=client_id))
        if question is not None:
            return question
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
def client_delete(client_id: str) -> Response | str:
    client = client_registry.find(client_id)
    if client is not None:
        question = _unconfirmed(gettext("Delete %(name)s? Everyone signed in to it loses access, and it cannot sign anyone in any more.", name=client.name), gettext("Delete client"), url_for("admin.client_detail", client_id=client_id))
        if question is not None:
            return question
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
def upstream_remove(name: str) -> Response | str:
    question = _unconfirmed(gettext("Remove the sign-in provider %(name)s? Every account linked to it is unlinked.", name=name), gettext("Remove"), url_for("admin.upstreams"))
    if question is not None:
        return question
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
def key_revoke(kid: str) -> Response | str:
    question = _unconfirmed(gettext("Revoke the key %(kid)s? It leaves the JWKS at once and every token it signed is refused: people signed in to apps through it sign in again.", kid=kid[:64]), gettext("Revoke"), url_for("admin.keys"))
    if question is not None:
        return question
    try:
        active = rotation.revoke(kid[:64], current_app.extensions["idp.keyring"])
    except rotation.UnknownKey:
        return _refuse("admin.keys", "no such key")
    audit.emit("keys.revoked", actor_id=g.admin.id, kid=kid, alg=active.alg, active=active.kid)
    db.session.commit()
    return _done("admin.keys", f"key {kid} revoked; {active.alg} key {active.kid} signs from now on")


def _audit_query():  # noqa: ANN202
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    event = request.args.get("event", "").strip()[:64]
    email = request.args.get("email", "").strip()[:320]
    if event:
        query = query.where(AuditEvent.event.like(f"{event}%"))
    if email:
        person = accounts.find_user(email)
        query = query.where(AuditEvent.user_id == (person.id if person else -1))
    return query, event, email


@bp.get("/audit")
@admin_required
def audit_log() -> str:
    query, event, email = _audit_query()
    page = page_of(query)
    emails, client_names = audit_export.names(page.rows)
    return render_template("admin/audit.html", rows=page.rows, page=page, event=event, email=email,
                           emails=emails, client_names=client_names)


EXPORTS = {"csv": ("text/csv", audit_export.csv_lines), "jsonl": ("application/jsonl", audit_export.jsonl)}


@bp.get("/audit.<fmt>")
@admin_required
def audit_export_file(fmt: str) -> Response | tuple[str, int]:
    """The filtered log, whole, as CSV or JSON lines (one event per line)."""
    if fmt not in EXPORTS:
        return render_template("oauth/error.html", error="not_found", description=gettext("No such export format.")), 404
    query, _event, _email = _audit_query()
    mimetype, lines = EXPORTS[fmt]
    audit.emit("audit.exported", actor_id=g.admin.id, format=fmt)
    db.session.commit()
    headers = {"Content-Disposition": f'attachment; filename="audit-{clock.now()}.{fmt}"'}
    return Response(stream_with_context(lines(query)), mimetype=mimetype, headers=headers)

