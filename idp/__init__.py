"""An OpenID Connect identity provider: code + PKCE, JWT tokens, JWKS, step-up."""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("idp")

# The web stack is imported inside create_app: a resource server that only imports
# idp.resource does not load Flask-SQLAlchemy, Redis or the provider's models.


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    from flask import Flask
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from config import Config

    from . import i18n, settings
    from .extensions import csrf, db, migrate

    if not event.contains(Engine, "connect", _sqlite_pragmas):
        event.listen(Engine, "connect", _sqlite_pragmas)

    app = Flask(
        "idp",
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(Config.instance_path()),
    )
    from .web.buffered import BufferedResponse

    app.response_class = BufferedResponse
    app.config.from_object(Config)
    app.config.update(overrides or {})
    settings.finalize(app.config, Path(app.instance_path))
    from .web.json_endpoints import JsonEndpoints

    # Inside ProxyFix: it sees the scheme and client address the trusted proxies saw.
    app.wsgi_app = JsonEndpoints(app.wsgi_app, app)  # type: ignore[method-assign]
    if app.config["IDP_TRUSTED_PROXIES"]:
        # The client address is what the trusted proxies saw, never what a client claims.
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["IDP_TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    from .web import middleware

    middleware.install(app)
    _configure_logging(app)

    db.init_app(app)
    app.extensions["idp.autocommit"] = _autocommit_engine(app)
    app.extensions["idp.ephemeral"] = _ephemeral_engine(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    i18n.init_app(app)
    _init_services(app)

    from . import web
    from .cli import register as register_cli

    web.register(app)
    register_cli(app)
    return app


def _init_services(app: Flask) -> None:
    from . import changes, notifications, store
    from .cache import Versions
    from .keys.keyset import KeyCache
    from .oauth.client_lookup import ClientDirectory
    from .lockout.policy import Limits
    from .lockout.regulator import Regulator, SecondFactorCap
    from .oauth import metadata
    from .oauth.server import create_server
    from .security.passwords import Argon2Params, Passwords
    from .store.sessions import RedisSessionInterface

    c = app.config
    redis_client = store.connect(c["REDIS_URL"])
    app.extensions["idp.redis"] = redis_client
    try:
        redis_client.ping()
    except store.ERRORS as exc:
        # Say so clearly at start; requests that need Redis answer 503 until it is back.
        print(f"idp: Redis at {store.redacted(c['REDIS_URL'])} is unreachable ({exc}); sign-in will answer 503 until it is up.", file=sys.stderr)
    app.session_interface = RedisSessionInterface(
        redis_client, absolute_ttl=c["IDP_SESSION_TTL"], idle_ttl=c["IDP_SESSION_IDLE_TTL"]
    )
    app.extensions["idp.keyring"] = c["IDP_KEYRING"]
    app.extensions["idp.regulator"] = Regulator(
        Limits(c["IDP_LOCKOUT_THRESHOLD"], c["IDP_LOCKOUT_BASE_SECONDS"], c["IDP_LOCKOUT_MAX_SECONDS"], c["IDP_LOCKOUT_RESET_SECONDS"]),
        ip_threshold=c["IDP_LOCKOUT_IP_THRESHOLD"],
        second_factor=SecondFactorCap(c["IDP_MFA_FAILURE_CAP"], c["IDP_MFA_FAILURE_MEMORY_SECONDS"], c["IDP_MFA_FAILURE_NOTIFY"]),
        ipv6_prefix=c["IDP_LOCKOUT_IPV6_PREFIX"],
    )
    app.extensions["idp.passwords"] = Passwords(
        Argon2Params(c["IDP_ARGON2_MEMORY_KIB"], c["IDP_ARGON2_TIME_COST"], c["IDP_ARGON2_PARALLELISM"]),
        max_concurrent=c["IDP_ARGON2_MAX_CONCURRENT"],
    )
    app.extensions["idp.versions"] = versions = Versions()
    app.extensions["idp.clients"] = ClientDirectory(versions)
    app.extensions["idp.keys"] = KeyCache(
        c["IDP_KEYRING"], c["IDP_SIGNING_ALG"], c["IDP_KEY_RETIRED_GRACE"], c["IDP_KEY_CACHE_SECONDS"], versions
    )
    changes.install()
    from .health import Readiness

    app.extensions["idp.readiness"] = Readiness(
        app.extensions["idp.autocommit"], redis_client, app.extensions["idp.keys"], c["IDP_SIGNING_ALG"]
    )
    notifications.install()
    app.extensions["idp.authorization_server"] = create_server(app)
    _init_outbound(app)
    body = json.dumps(metadata.document(c["IDP_ISSUER"], c["IDP_SIGNING_ALG"]), indent=1).encode()
    app.extensions["idp.discovery"] = (body, hashlib.sha256(body).hexdigest()[:32])


def _init_outbound(app: Flask) -> None:
    """The clients of the services an operator configured: upstream providers, and the
    legacy password verifier. Plain http only to localhost, and only outside production."""
    from .migration.verifier import LegacyVerifier
    from .net import Http
    from .upstream.client import UpstreamClient

    c = app.config
    loopback = c["IDP_ENV"] != "production"
    app.extensions["idp.upstream_client"] = UpstreamClient(Http(c["IDP_UPSTREAM_TIMEOUT"], loopback))
    from .oauth import backchannel

    backchannel.init_app(app)
    app.extensions["idp.legacy_verifier"] = LegacyVerifier(
        c["IDP_LEGACY_VERIFIER_URL"], c["IDP_LEGACY_VERIFIER_TOKEN"], Http(c["IDP_LEGACY_VERIFIER_TIMEOUT"], loopback),
    ) if c["IDP_LEGACY_VERIFIER_URL"] else None


def _autocommit_engine(app: Flask, durable: bool = True):  # noqa: ANN202
    """A second, small pool whose connections are in autocommit mode from the start, for
    the statements that stand alone (direct_sql): switching a pooled connection's mode on
    every checkout costs more than the BEGIN it saves. `durable=False` is the pool of
    extensions.write_ephemeral: on PostgreSQL its commits do not wait for the disk."""
    from sqlalchemy import create_engine

    from sqlalchemy.engine import make_url

    options = {k: v for k, v in app.config["SQLALCHEMY_ENGINE_OPTIONS"].items() if k.startswith("pool_") or k == "hide_parameters"}
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not durable:
        options["connect_args"] = {"options": "-c synchronous_commit=off"}
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, **options)


def _ephemeral_engine(app: Flask):  # noqa: ANN202
    from sqlalchemy.engine import make_url

    if make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() != "postgresql":
        return app.extensions["idp.autocommit"]  # SQLite's commits are the same either way
    return _autocommit_engine(app, durable=False)


def _configure_logging(app: Flask) -> None:
    from . import logs

    logs.configure(app.config["IDP_LOG_FORMAT"])


def _sqlite_pragmas(dbapi_connection, connection_record) -> None:  # noqa: ANN001
    """SQLite: wait for a writer instead of failing, and let readers run beside it.

    synchronous=NORMAL under WAL: a commit does not wait for the disk, so a power loss (not
    a crash of the process) may lose the last transactions: sign-ins and token refreshes
    made in the last moments, which their clients then repeat. Nothing half-written is
    ever read back. PostgreSQL keeps its own, fully synchronous, commits."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
