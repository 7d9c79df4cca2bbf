"""The `idp` command (INTERFACE.md): a Flask CLI group bound to the app factory."""

from __future__ import annotations

import json
import secrets
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from . import audit, clock
from .authn import acr as acrs
from .extensions import db
from .keys import rotation
from .models import Client, SigningKey, User
from .models.user import normalize_email
from .security.tokens import random_token, token_hash

DEFAULT_SCOPE = "openid profile email offline_access"


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
@click.option("--scope", default=DEFAULT_SCOPE, show_default=True)
@click.option("--refresh-grace-seconds", type=click.IntRange(0, 60), default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def clients_create(name, redirect_uris, logout_uris, public, min_acr, scope, refresh_grace_seconds, as_json) -> None:  # noqa: ANN001
    for uri in (*redirect_uris, *logout_uris):
        problem = redirect_uri_problem(uri)
        if problem:
            _fail(f"{uri}: {problem}")
    secret = None if public else random_token(32)
    client = Client(
        client_id=secrets.token_urlsafe(16),
        client_secret_hash=token_hash(secret) if secret else None,
        name=name,
        redirect_uris=list(redirect_uris),
        post_logout_redirect_uris=list(logout_uris),
        scope=" ".join(dict.fromkeys(scope.split())),
        is_public=public,
        min_acr=min_acr,
        refresh_grace_seconds=refresh_grace_seconds,
        created_at=clock.now(),
    )
    db.session.add(client)
    db.session.commit()
    data = {"client_id": client.client_id}
    if secret:
        data["client_secret"] = secret
    text = f"client_id: {client.client_id}" + (f"\nclient_secret: {secret}  (shown once)" if secret else "")
    _emit(as_json, data, text)


def redirect_uri_problem(uri: str) -> str | None:
    """RFC 6749 §3.1.2: absolute, no fragment; https except for loopback (RFC 8252 §7.3)
    and private-use schemes of native apps."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(uri)
    except ValueError:
        return "not a URL"
    if not parts.scheme or parts.fragment or "#" in uri:
        return "must be an absolute URI without a fragment"
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        return "http is only allowed for localhost"
    if parts.scheme in ("http", "https") and not parts.hostname:
        return "has no host"
    if parts.scheme in ("javascript", "data", "file", "vbscript"):
        return "scheme not allowed"
    return None


@click.group("users", help="Manage people.")
def users() -> None:
    pass


@users.command("create")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
@click.option("--name")
@click.option("--admin", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def users_create(email: str, password_stdin: bool, name: str | None, admin: bool, as_json: bool) -> None:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        _fail("no password on standard input")
    email = normalize_email(email)
    if "@" not in email:
        _fail("not an email address")
    if db.session.scalar(select(User).where(User.email == email)) is not None:
        _fail(f"{email} already has an account")
    user = User(
        subject=secrets.token_urlsafe(16),
        email=email,
        name=name,
        password_hash=current_app.extensions["idp.passwords"].hash(password),
        is_admin=admin,
        created_at=clock.now(),
    )
    db.session.add(user)
    db.session.commit()
    _emit(as_json, {"id": user.id, "sub": user.subject, "email": email}, f"created {email} (sub {user.subject})")


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


@click.group("keys", help="Signing keys.")
def keys() -> None:
    pass


@keys.command("rotate")
@click.option("--alg", type=click.Choice(rotation.ALGORITHMS), default=None, help="Default: IDP_SIGNING_ALG.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def keys_rotate(alg: str | None, as_json: bool) -> None:
    alg = alg or current_app.config["IDP_SIGNING_ALG"]
    keyring = current_app.extensions["idp.keyring"]
    rotation.ensure_keys(alg, keyring)
    db.session.flush()
    active = rotation.rotate(alg, keyring)
    rotation.purge_retired(current_app.config["IDP_KEY_RETIRED_GRACE"])
    db.session.commit()
    _emit(as_json, {"kid": active.kid, "alg": alg}, f"{alg} key {active.kid} is now active")


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


def register(app: Flask) -> None:
    for group in (clients, users, keys):
        app.cli.add_command(group)


def main() -> None:
    from . import create_app

    FlaskGroup(create_app=create_app, help="The identity provider's command line.")()
