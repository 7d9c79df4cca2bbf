"""The `idp` command (INTERFACE.md): a Flask CLI group bound to the app factory."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from . import accounts, audit, mail
from . import clients as client_registry
from . import upstreams as upstream_registry
from .authn.password_policy import WeakPassword, check
from .authn import acr as acrs
from .extensions import db
from .keys import rotation
from .models import SigningKey, User
from .models.user import normalize_email

def _emit(as_json: bool, data: dict[str, Any], text: str) -> None:
    click.echo(json.dumps(data) if as_json else text)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group("clients", help="Register OAuth clients.")
def clients() -> None:
    pass


@clients.command("create")
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True)
@click.option("--post-logout-redirect-uri", "logout_uris", multiple=True)
@click.option("--public", is_flag=True, help="A browser or native app: no secret, PKCE only.")
@click.option("--min-acr", type=click.Choice(acrs.LEVELS))
@click.option("--scope", default=client_registry.DEFAULT_SCOPE, show_default=True)
@click.option("--refresh-grace-seconds", type=click.IntRange(0, client_registry.MAX_REFRESH_GRACE),
              help="A repeated refresh within this window gets the same successor. Default: "
                   f"{client_registry.CONFIDENTIAL_REFRESH_GRACE} for a confidential client, 0 (strict) for a public one "
                   f"(at most {client_registry.MAX_PUBLIC_REFRESH_GRACE}).")
@click.option("--pkce", type=click.Choice(["required", "optional"]), default="required", show_default=True,
              help="optional: a confidential client may send a nonce instead of a code_challenge.")
@click.option("--always-refresh-token", "refresh_tokens_always", is_flag=True,
              help="A refresh token even when the request does not ask for offline_access.")
@click.option("--backchannel-logout-uri", help="Where Back-Channel Logout 1.0 posts logout tokens.")
@click.option("--dpop", "dpop_bound", is_flag=True, help="Tokens only with a DPoP proof (RFC 9449): no bearer tokens.")
@click.option("--client-uri", help="The app's home page, linked from the sign-in page.")
@click.option("--logo-uri", help="The app's logo (https), shown on the sign-in page.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def clients_create(name, redirect_uris, logout_uris, public, min_acr, scope, refresh_grace_seconds, pkce,  # noqa: ANN001
                   refresh_tokens_always, backchannel_logout_uri, dpop_bound, client_uri, logo_uri, as_json) -> None:  # noqa: ANN001
    try:
        client, secret = client_registry.create(
            name=name, redirect_uris=list(redirect_uris), logout_uris=list(logout_uris), public=public,
            min_acr=min_acr, scope=scope, refresh_grace_seconds=refresh_grace_seconds, pkce_required=pkce == "required",
            refresh_tokens_always=refresh_tokens_always, backchannel_logout_uri=backchannel_logout_uri,
            dpop_bound=dpop_bound, client_uri=client_uri, logo_uri=logo_uri,
        )
    except client_registry.ClientError as exc:
        _fail(str(exc))
    db.session.commit()
    data = {"client_id": client.client_id}
    if secret:
        data["client_secret"] = secret
    text = f"client_id: {client.client_id}" + (f"\nclient_secret: {secret}  (shown once)" if secret else "")
    _emit(as_json, data, text)


def _client_or_fail(client_id: str):  # noqa: ANN202
    client = client_registry.find(client_id)
    if client is None:
        _fail(f"no client {client_id}")
    return client


@clients.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def clients_list(as_json: bool) -> None:
    rows = [client_registry.describe(c) for c in client_registry.every()]
    if as_json:
        click.echo(json.dumps({"clients": rows}))
        return
    for c in rows:
        click.echo(f"{c['client_id']}  {c['name']}{'  (public)' if c['public'] else ''}")


@clients.command("show")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def clients_show(client_id: str, as_json: bool) -> None:
    data = client_registry.describe(_client_or_fail(client_id))
    _emit(as_json, data, "\n".join(f"{k}: {v}" for k, v in data.items()))


@clients.command("update")
@click.argument("client_id")
@click.option("--name")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Replaces every redirect URI.")
@click.option("--post-logout-redirect-uri", "logout_uris", multiple=True, help="Replaces every post-logout URI.")
@click.option("--scope")
@click.option("--min-acr", type=click.Choice([*acrs.LEVELS, "none"]))
@click.option("--refresh-grace-seconds", type=click.IntRange(0, 60))
@click.option("--client-uri")
@click.option("--logo-uri")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def clients_update(client_id, name, redirect_uris, logout_uris, scope, min_acr, refresh_grace_seconds, client_uri, logo_uri, as_json) -> None:  # noqa: ANN001
    client = _client_or_fail(client_id)
    given = {"name": name, "redirect_uris": list(redirect_uris) or None, "post_logout_redirect_uris": list(logout_uris) or None,
             "scope": scope, "min_acr": None if min_acr == "none" else min_acr, "refresh_grace_seconds": refresh_grace_seconds,
             "client_uri": client_uri, "logo_uri": logo_uri}
    changes = {k: v for k, v in given.items() if v is not None or (k == "min_acr" and min_acr == "none")}
    try:
        changed = client_registry.update(client, actor_id=None, **changes)
    except client_registry.ClientError as exc:
        _fail(str(exc))
    db.session.commit()
    _emit(as_json, {**client_registry.describe(client), "changed": changed}, f"changed: {', '.join(changed) or 'nothing'}")


@clients.command("delete")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def clients_delete(client_id: str, as_json: bool) -> None:
    client_registry.delete(_client_or_fail(client_id), actor_id=None)
    db.session.commit()
    _emit(as_json, {"client_id": client_id, "deleted": True}, f"{client_id} deleted; its grants are revoked")


@clients.command("rotate-secret")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def clients_rotate_secret(client_id: str, as_json: bool) -> None:
    try:
        secret = client_registry.rotate_secret(_client_or_fail(client_id), actor_id=None)
    except client_registry.ClientError as exc:
        _fail(str(exc))
    db.session.commit()
    _emit(as_json, {"client_id": client_id, "client_secret": secret}, f"client_secret: {secret}  (shown once)")


@click.group("users", help="Manage people.")
def users() -> None:
    pass


@users.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
@click.option("--name")
@click.option("--admin", is_flag=True)
@click.option("--require-mfa", is_flag=True, help="Every sign-in needs a second factor (enrolled at the first).")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_create(email: str, password_stdin: bool, name: str | None, admin: bool, require_mfa: bool, as_json: bool) -> None:
    """An active account without an invitation, for bootstrap and automation."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        email = accounts.valid_email(email)
        if accounts.find_user(email) is not None:
            raise accounts.AccountError(f"{email} already has an account")
        check(password, second_factor_required=require_mfa, email=email, name=name)
        user = accounts.new_user(email, password, passwords=current_app.extensions["idp.passwords"],
                                 name=name, is_admin=admin, mfa_required=require_mfa)
    except (accounts.AccountError, WeakPassword) as exc:
        _fail(str(exc))
    audit.emit("user.created", user_id=user.id, via="cli", admin=admin)
    db.session.commit()
    _emit(as_json, {"id": user.id, "sub": user.subject, "email": email}, f"created {email} (sub {user.subject})")


@users.command("invite")
@click.argument("email")
@click.option("--admin", is_flag=True)
@click.option("--require-mfa", is_flag=True)
@click.option("--language", type=click.Choice(["en", "ja"]), default="en", show_default=True,
              help="The language of the mail, and of the account's later mail.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_invite(email: str, admin: bool, require_mfa: bool, language: str, as_json: bool) -> None:
    """Invite a person by email (the link is printed and mailed)."""
    try:
        link = accounts.invite(email, actor=None, is_admin=admin, require_mfa=require_mfa, locale=language)
    except accounts.AccountError as exc:
        _fail(str(exc))
    except mail.MailError as exc:
        _fail(f"the invitation was not sent: {exc}")
    db.session.commit()
    _emit(as_json, {"invite_url": link.url, "expires_at": link.expires_at},
          f"invitation for {normalize_email(email)}: {link.url}")


@users.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), help="Default: csv for a .csv file, else jsonl.")
@click.option("--dry-run", is_flag=True, help="Check and count everything, write nothing.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_import(file: str, fmt: str | None, dry_run: bool, as_json: bool) -> None:
    """Import people (one a line) with their password hashes and TOTP secrets. Exits 1 when
    some rows were refused (they are listed), 0 when none were."""
    from .migration import importer, rows

    fmt = fmt or ("csv" if file.lower().endswith(".csv") else "jsonl")
    stream = sys.stdin if file == "-" else open(file, encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed below)
    try:
        report = importer.run(rows.read(stream, fmt), keyring=current_app.extensions["idp.keyring"], dry_run=dry_run)
    except UnicodeDecodeError as exc:
        _fail(f"{file} is not UTF-8 text ({exc.reason})")
    finally:
        stream.close()
    counts = f'"created": {report.created}, "updated": {report.updated}, "unchanged": {report.unchanged}'
    if as_json:
        # Written as it is read back from disk: the error list may be as long as the file.
        click.echo("{" + counts + ', "errors": [', nl=False)
        for i, error in enumerate(report.each_error()):
            click.echo(("" if i == 0 else ", ") + json.dumps(error), nl=False)
        click.echo("]}")
    else:
        note = " (dry run: nothing was written)" if dry_run else ""
        click.echo(f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
                   f"{report.error_count} refused{note}")
        for error in report.each_error():
            click.echo(f"line {error['line']}: {error['reason']}", err=True)
    report.errors.close()
    if report.error_count:
        sys.exit(1)


def _user_or_fail(email: str) -> User:
    user = accounts.find_user(email)
    if user is None:
        _fail(f"no account for {normalize_email(email)}")
    return user


@users.command("disable")
@click.argument("email")
@with_appcontext
def users_disable(email: str) -> None:
    """Disable an account: its sessions end and its refresh tokens are revoked at once."""
    try:
        accounts.disable(_user_or_fail(email), actor=None)
    except accounts.AccountError as exc:
        _fail(str(exc))
    db.session.commit()
    click.echo(f"disabled {normalize_email(email)}")


@users.command("enable")
@click.argument("email")
@with_appcontext
def users_enable(email: str) -> None:
    accounts.enable(_user_or_fail(email), actor=None)
    db.session.commit()
    click.echo(f"enabled {normalize_email(email)}")


@users.command("reset-mfa")
@click.argument("email")
@with_appcontext
def users_reset_mfa(email: str) -> None:
    """Remove every second factor; the person enrols again with the link mailed to them."""
    try:
        link = accounts.reset_mfa(_user_or_fail(email), actor=None)
    except mail.MailError as exc:
        _fail(f"nothing was reset: the enrolment link could not be mailed: {exc}")
    db.session.commit()
    click.echo(f"second factors of {normalize_email(email)} removed; they enrol again with the link mailed to them "
               f"(valid until {link.expires_at}): {link.url}")


@users.command("unlock")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_unlock(email: str, as_json: bool) -> None:
    """Forget the account's failed attempts (and its trusted browsers' counters)."""
    email = normalize_email(email)
    cleared = current_app.extensions["idp.regulator"].unlock(email)
    user = db.session.scalar(select(User).where(User.email == email))
    audit.emit("unlock", user_id=user.id if user else None, via="cli", counters=cleared)
    db.session.commit()
    _emit(as_json, {"email": email, "counters_cleared": cleared}, f"unlocked {email}")


@users.command("lockout")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_lockout(email: str, as_json: bool) -> None:
    """Show the account's failed attempts and how long it is locked."""
    status = current_app.extensions["idp.regulator"].status(normalize_email(email))
    _emit(as_json, status, f"{status['failures']} recent failures; locked for {status['locked_for']} s")


@click.group("upstreams", help="Upstream OpenID providers people may sign in with (Google, …).")
def upstreams_group() -> None:
    pass


@upstreams_group.command("add")
@click.argument("name")
@click.option("--issuer", required=True, help="Exactly as the provider's discovery document says (Google: https://accounts.google.com).")
@click.option("--client-id", required=True)
@click.option("--client-secret-stdin", is_flag=True, required=True, help="Read the client secret from standard input.")
@click.option("--display-name", help="The button says \"Continue with …\". Default: the name, capitalised.")
@click.option("--domain", "domains", multiple=True, help="Allow only accounts of this email domain (Google's hd); repeatable.")
@click.option("--trust-mfa", is_flag=True, help="Count the provider's own multi-factor sign-in, when it asserts one.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def upstreams_add(name, issuer, client_id, client_secret_stdin, display_name, domains, trust_mfa, as_json) -> None:  # noqa: ANN001
    """Add an upstream provider (its discovery document is checked first)."""
    secret = sys.stdin.readline().rstrip("\r\n")
    try:
        row = upstream_registry.add(
            name, issuer=issuer, client_id=client_id, client_secret=secret, display_name=display_name,
            domains=list(domains), trust_mfa=trust_mfa, client=current_app.extensions["idp.upstream_client"],
            keyring=current_app.extensions["idp.keyring"],
        )
    except upstream_registry.UpstreamConfigError as exc:
        _fail(str(exc))
    db.session.commit()
    data = upstream_registry.describe(row, 0)
    _emit(as_json, data, f"added {row.name} ({row.issuer}); register this redirect URI at the provider: {data['redirect_uri']}")


@upstreams_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def upstreams_list(as_json: bool) -> None:
    counts = upstream_registry.link_counts()
    data = [upstream_registry.describe(row, counts.get(row.id, 0)) for row in upstream_registry.every()]
    if as_json:
        click.echo(json.dumps({"upstreams": data}))
        return
    for u in data:
        click.echo(f"{u['name']:16} {u['issuer']}  links: {u['links']}" + (f"  domains: {','.join(u['domains'])}" if u["domains"] else ""))


@upstreams_group.command("remove")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def upstreams_remove(name: str, as_json: bool) -> None:
    """Remove an upstream provider and every link to it."""
    try:
        links = upstream_registry.remove(name)
    except upstream_registry.UpstreamConfigError as exc:
        _fail(str(exc))
    db.session.commit()
    _emit(as_json, {"name": name, "links_removed": links}, f"removed {name} and {links} link(s)")


@click.group("keys", help="Signing keys.")
def keys() -> None:
    pass


@keys.command("rotate")
@click.option("--alg", type=click.Choice(rotation.ALGORITHMS), default=None, help="Default: IDP_SIGNING_ALG.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def keys_rotate(alg: str | None, as_json: bool) -> None:
    alg = alg or current_app.config["IDP_SIGNING_ALG"]
    active = rotation.rotate_now(alg, current_app.extensions["idp.keyring"], current_app.config["IDP_KEY_RETIRED_GRACE"])
    audit.emit("keys.rotated", alg=alg, kid=active.kid, via="cli")
    db.session.commit()
    _emit(as_json, {"kid": active.kid, "alg": alg}, f"{alg} key {active.kid} is now active")


@keys.command("revoke")
@click.argument("kid")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def keys_revoke(kid: str, as_json: bool) -> None:
    """Remove a (leaked) key from the JWKS at once; every process refuses its tokens."""
    try:
        active = rotation.revoke(kid, current_app.extensions["idp.keyring"])
    except rotation.UnknownKey:
        _fail(f"no signing key {kid}")
    audit.emit("keys.revoked", kid=kid, alg=active.alg, active=active.kid, via="cli")
    db.session.commit()
    _emit(as_json, {"revoked": kid, "active": active.kid, "alg": active.alg},
          f"key {kid} revoked: it is out of the JWKS, and every process refuses its tokens within a second; "
          f"{active.alg} key {active.kid} signs from now on")


@keys.command("rotate-data-key")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def keys_rotate_data_key(batch_size: int, as_json: bool) -> None:
    """Re-encrypt every secret at rest under the first IDP_DATA_KEYS entry. Put the new key
    first, restart, run this; then the old key can leave the ring."""
    from .keys import data_keys

    keyring = current_app.extensions["idp.keyring"]
    counts = data_keys.rotate(keyring, batch_size=batch_size)
    audit.emit("keys.data_key_rotated", via="cli", kid=keyring.primary, **counts)
    db.session.commit()
    left = data_keys.remaining(keyring)
    _emit(as_json, {"kid": keyring.primary, "reencrypted": counts, "remaining": left},
          f"re-encrypted under {keyring.primary}: " + ", ".join(f"{n} {t.replace('_', ' ')}" for t, n in counts.items())
          + f"; {left} left under other keys")


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def keys_list(as_json: bool) -> None:
    rows = db.session.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
    data = [
        {"kid": r.kid, "alg": r.alg, "state": r.state, "created_at": r.created_at,
         "activated_at": r.activated_at, "retired_at": r.retired_at}
        for r in rows
    ]
    if as_json:
        click.echo(json.dumps({"keys": data}))
        return
    for k in data:
        click.echo(f"{k['kid']}  {k['alg']:6}  {k['state']}")


@click.command("purge")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Rows deleted per transaction.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def purge_command(batch_size: int, as_json: bool) -> None:
    """Delete what has expired: codes, refresh-token families past their lifetime, used or
    expired invitations and reset links, retired keys past their grace, old audit rows.
    Safe to run from several hosts at once (cron, a systemd timer)."""
    from . import purge

    config = current_app.config
    report = purge.run(key_grace=config["IDP_KEY_RETIRED_GRACE"], audit_retention_days=config["IDP_AUDIT_RETENTION_DAYS"],
                       batch_size=batch_size)
    audit.emit("purge", via="cli", **report.deleted)
    db.session.commit()
    data = report.as_dict()
    _emit(as_json, data, ", ".join(f"{n} {table.replace('_', ' ')}" for table, n in report.deleted.items()) + " deleted")


def register(app: Flask) -> None:
    for group in (clients, users, keys, upstreams_group):
        app.cli.add_command(group)
    app.cli.add_command(purge_command)


def main() -> None:
    from . import create_app

    FlaskGroup(create_app=create_app, help="The identity provider's command line.")()
