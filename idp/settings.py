"""Start-up checks: every problem with the configuration reported at once."""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from .security.keyring import KeyRing, KeyRingError


class ConfigError(SystemExit):
    pass


def _dev_secret(instance: Path, name: str, make) -> str:  # noqa: ANN001
    """Development secrets are generated once and kept in instance/, never in the code."""
    path = instance / name
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def metrics_networks(spec: str | None) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in (spec or "").split(",") if part.strip())


def finalize(config: dict, instance: Path) -> None:
    problems = []
    production = config["IDP_ENV"] == "production"
    issuer = urlsplit(config["IDP_ISSUER"])
    if issuer.scheme not in ("http", "https") or not issuer.hostname or issuer.query or issuer.fragment:
        problems.append("IDP_ISSUER must be an http(s) URL without query or fragment")
    elif production and issuer.scheme == "http" and issuer.hostname != "localhost":
        problems.append("IDP_ISSUER must use https in production")
    if config.get("SECRET_KEY") is None:
        if production:
            problems.append("IDP_SECRET_KEY is required in production")
        else:
            config["SECRET_KEY"] = _dev_secret(instance, "secret_key", lambda: secrets.token_urlsafe(48))
    if config.get("IDP_DATA_KEYS") is None:
        if production:
            problems.append("IDP_DATA_KEYS is required in production")
        else:
            config["IDP_DATA_KEYS"] = _dev_secret(instance, "data_keys", KeyRing.generate_spec)
    try:
        config["IDP_KEYRING"] = KeyRing.parse(config["IDP_DATA_KEYS"] or "")
    except KeyRingError as exc:
        problems.append(f"IDP_DATA_KEYS: {exc}")
    if production and not config.get("IDP_SMTP_URL"):
        # Without SMTP, invitation and reset links would land in the log.
        problems.append("IDP_SMTP_URL is required in production")
    if config["IDP_SIGNING_ALG"] not in ("RS256", "ES256", "EdDSA"):
        problems.append("IDP_SIGNING_ALG must be RS256, ES256 or EdDSA")
    if not 1 <= config["IDP_CODE_TTL"] <= 60:
        problems.append("IDP_CODE_TTL must be between 1 and 60 seconds")
    if config.get("IDP_LEGACY_VERIFIER_URL"):
        from .net import check_url

        try:
            check_url(config["IDP_LEGACY_VERIFIER_URL"], allow_loopback_http=not production)
        except ValueError as exc:
            problems.append(f"IDP_LEGACY_VERIFIER_URL: {exc}")
    if config["IDP_LOCKOUT_THRESHOLD"] < 1:
        problems.append("IDP_LOCKOUT_THRESHOLD must be at least 1")
    if not 16 <= config.get("IDP_LOCKOUT_IPV6_PREFIX", 64) <= 128:
        problems.append("IDP_LOCKOUT_IPV6_PREFIX must be between 16 and 128")
    if not 1 <= config.get("IDP_MFA_FAILURE_CAP", 20) <= 100:
        problems.append("IDP_MFA_FAILURE_CAP must be between 1 and 100 (NIST SP 800-63B-4 §3.2.2)")
    if config.get("IDP_MFA_FAILURE_MEMORY_SECONDS", 86400) < config.get("IDP_LOCKOUT_RESET_SECONDS", 900):
        problems.append("IDP_MFA_FAILURE_MEMORY_SECONDS must be at least IDP_LOCKOUT_RESET_SECONDS")
    try:
        config["IDP_METRICS_NETWORKS"] = metrics_networks(config.get("IDP_METRICS_ALLOW_FROM"))
    except ValueError as exc:
        problems.append(f"IDP_METRICS_ALLOW_FROM: {exc}")
    if config.get("IDP_METRICS_TOKEN") is not None and len(config["IDP_METRICS_TOKEN"]) < 16:
        problems.append("IDP_METRICS_TOKEN must be at least 16 characters")
    if config.get("SQLALCHEMY_ENGINE_OPTIONS", {}).get("pool_size", 5) < 1:
        # SQLAlchemy reads 0 as "no limit", which would keep every connection ever opened.
        problems.append("IDP_DB_POOL_SIZE must be at least 1 (and at least the server's threads per process)")
    if config.get("IDP_LOG_FORMAT", "text") not in ("text", "json"):
        problems.append("IDP_LOG_FORMAT must be text or json")
    if problems:
        raise ConfigError("configuration problems:\n  - " + "\n  - ".join(problems))
    if not config.get("SQLALCHEMY_DATABASE_URI"):
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'idp.sqlite3'}"
    config["IDP_ACCESS_TOKEN_AUDIENCE"] = config.get("IDP_ACCESS_TOKEN_AUDIENCE") or config["IDP_ISSUER"]
    config["IDP_ISSUER_NAME"] = config.get("IDP_ISSUER_NAME") or issuer.hostname
    config["SESSION_COOKIE_SECURE"] = issuer.scheme == "https"
