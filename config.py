"""Configuration: every key the provider reads, documented once, read from the environment.

Names of the environment variables are part of the public contract (INTERFACE.md).
`idp.settings.validate` checks the result at start-up and reports every problem at once.
"""

from __future__ import annotations

import os
from pathlib import Path


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {value!r}") from None


class Config:
    #: development | production | test. Production refuses unsafe defaults.
    IDP_ENV = os.environ.get("IDP_ENV", "development")
    #: The issuer exactly as it appears in tokens and discovery. `localhost`, not
    #: 127.0.0.1: WebAuthn needs a domain as RP ID.
    IDP_ISSUER = os.environ.get("IDP_ISSUER", "http://localhost:5000").rstrip("/")
    #: Any SQLAlchemy URL. Default: a SQLite file under instance/.
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None
    #: Login sessions, lockout counters, TOTP replay records, one-time state. One server
    #: (redis://, rediss://), Sentinel (redis+sentinel://h1:26379,h2:26379/SERVICE/DB) or
    #: Cluster (redis+cluster://h1:7000,h2:7001/).
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    #: With replicas (Sentinel): a lockout reservation is acknowledged by this many of them
    #: (WAIT, in the same round trip) before the attempt is evaluated, so a failover cannot
    #: lose it; fewer within IDP_REDIS_WAIT_MS answers 503. 0: not waited for.
    IDP_REDIS_WAIT_REPLICAS = _int("IDP_REDIS_WAIT_REPLICAS", 0)
    IDP_REDIS_WAIT_MS = _int("IDP_REDIS_WAIT_MS", 100)
    #: Session signing key. Generated once into instance/ in development.
    SECRET_KEY = os.environ.get("IDP_SECRET_KEY") or None
    #: Key ring for secrets at rest: "kid1:base64key,kid2:base64key"; the first encrypts.
    IDP_DATA_KEYS = os.environ.get("IDP_DATA_KEYS") or None
    #: SMTP server for mail; unset: mail goes to the log and instance/outbox/.
    IDP_SMTP_URL = os.environ.get("IDP_SMTP_URL") or None
    #: The sender of invitations and security notices.
    IDP_MAIL_FROM = os.environ.get("IDP_MAIL_FROM", "idp@localhost")
    #: How many reverse proxies' X-Forwarded-For hops to trust (0: the socket address).
    IDP_TRUSTED_PROXIES = _int("IDP_TRUSTED_PROXIES", 0)

    # Operations (README "Operations").
    #: `/metrics` is served only with this bearer token (or to IDP_METRICS_ALLOW_FROM); unset: 404.
    IDP_METRICS_TOKEN = os.environ.get("IDP_METRICS_TOKEN") or None
    #: Comma-separated addresses or networks (CIDR) that may read `/metrics`; with a token
    #: as well, both are required.
    IDP_METRICS_ALLOW_FROM = os.environ.get("IDP_METRICS_ALLOW_FROM") or None
    #: `json`: one JSON object per log line (with the request id); default: plain text.
    IDP_LOG_FORMAT = os.environ.get("IDP_LOG_FORMAT", "text")

    # Lifetimes in seconds.
    IDP_CODE_TTL = _int("IDP_CODE_TTL", 60)
    IDP_ACCESS_TOKEN_TTL = _int("IDP_ACCESS_TOKEN_TTL", 300)
    #: Absolute lifetime of a refresh-token family: rotation never extends it.
    IDP_REFRESH_TOKEN_TTL = _int("IDP_REFRESH_TOKEN_TTL", 2592000)
    #: A browser session's absolute lifetime, from sign-in: activity never extends it.
    IDP_SESSION_TTL = _int("IDP_SESSION_TTL", 43200)
    #: A browser session ends after this long without a request (Keycloak's SSO Session Idle).
    IDP_SESSION_IDLE_TTL = _int("IDP_SESSION_IDLE_TTL", 1800)
    IDP_INVITE_TTL = _int("IDP_INVITE_TTL", 259200)
    #: A forgotten-password link lives this long.
    IDP_RESET_TTL = _int("IDP_RESET_TTL", 1800)
    #: How recent a second factor must be to change factors or the password (step-up).
    IDP_STEP_UP_MAX_AGE = _int("IDP_STEP_UP_MAX_AGE", 300)
    #: The name authenticator apps show next to the account. Default: the issuer's host.
    IDP_ISSUER_NAME = os.environ.get("IDP_ISSUER_NAME") or None
    #: How long a pending sign-in (an authorization request waiting for the person) lives.
    IDP_FLOW_TTL = _int("IDP_FLOW_TTL", 900)
    #: Sign-ins one client address (IPv6: its IDP_LOCKOUT_IPV6_PREFIX) may start per
    #: IDP_FLOW_TTL; then 429.
    #: A flow is at most ~8 KB of Redis, so this bounds what one address can take.
    IDP_FLOWS_PER_ADDRESS = _int("IDP_FLOWS_PER_ADDRESS", 1000)
    #: The algorithm that signs ID and access tokens. RS256 is what every client expects.
    IDP_SIGNING_ALG = os.environ.get("IDP_SIGNING_ALG", "RS256")
    #: The `aud` of access tokens: the identifier resource servers check. Default: the issuer.
    IDP_ACCESS_TOKEN_AUDIENCE = os.environ.get("IDP_ACCESS_TOKEN_AUDIENCE") or None
    #: How long a process keeps its copy of the signing keys before re-reading them.
    IDP_KEY_CACHE_SECONDS = _int("IDP_KEY_CACHE_SECONDS", 30)
    #: Retired signing keys stay in the JWKS this long, so unexpired tokens still verify.
    IDP_KEY_RETIRED_GRACE = _int("IDP_KEY_RETIRED_GRACE", 86400)
    #: `idp purge` deletes audit rows older than this many days.
    IDP_AUDIT_RETENTION_DAYS = _int("IDP_AUDIT_RETENTION_DAYS", 365)

    # Password hashing: argon2id at OWASP's minimum (m = 19 MiB, t = 2, p = 1).
    IDP_ARGON2_MEMORY_KIB = _int("IDP_ARGON2_MEMORY_KIB", 19456)
    IDP_ARGON2_TIME_COST = _int("IDP_ARGON2_TIME_COST", 2)
    IDP_ARGON2_PARALLELISM = _int("IDP_ARGON2_PARALLELISM", 1)
    #: Hashes computed at once per process; more wait, then get 503 (memory bound).
    IDP_ARGON2_MAX_CONCURRENT = _int("IDP_ARGON2_MAX_CONCURRENT", 4)

    # Lockout (Cognito's published behaviour as defaults).
    IDP_LOCKOUT_THRESHOLD = _int("IDP_LOCKOUT_THRESHOLD", 5)
    IDP_LOCKOUT_BASE_SECONDS = _int("IDP_LOCKOUT_BASE_SECONDS", 1)
    IDP_LOCKOUT_MAX_SECONDS = _int("IDP_LOCKOUT_MAX_SECONDS", 900)
    IDP_LOCKOUT_RESET_SECONDS = _int("IDP_LOCKOUT_RESET_SECONDS", 900)
    #: Per client address: generous enough for an office behind one NAT.
    IDP_LOCKOUT_IP_THRESHOLD = _int("IDP_LOCKOUT_IP_THRESHOLD", 50)
    #: IPv6 addresses are counted per prefix of this length: one client owns a whole /64.
    IDP_LOCKOUT_IPV6_PREFIX = _int("IDP_LOCKOUT_IPV6_PREFIX", 64)

    #: Second-factor tries per sign-in attempt; then the sign-in starts over from the password.
    IDP_MFA_MAX_ATTEMPTS = _int("IDP_MFA_MAX_ATTEMPTS", 3)
    #: Failed second factors (codes, recovery codes, security keys) per account since its last
    #: complete sign-in, after which second factors are refused until a complete sign-in by
    #: another route (a passkey) or `idp users unlock`. NIST SP 800-63B-4 §3.2.2: at most 100.
    IDP_MFA_FAILURE_CAP = _int("IDP_MFA_FAILURE_CAP", 20)
    #: How long that count is remembered after its last failure (a correct password never
    #: resets it).
    IDP_MFA_FAILURE_MEMORY_SECONDS = _int("IDP_MFA_FAILURE_MEMORY_SECONDS", 30 * 86400)
    #: After this many of them the owner gets one mail: "your password was used".
    IDP_MFA_FAILURE_NOTIFY = _int("IDP_MFA_FAILURE_NOTIFY", 3)

    # Upstream OpenID providers (`idp upstreams add`; docs/add-google-sign-in.md).
    #: Seconds to wait for an upstream's discovery, keys, token or userinfo endpoint.
    IDP_UPSTREAM_TIMEOUT = _int("IDP_UPSTREAM_TIMEOUT", 5)

    # Back-Channel Logout 1.0 (`idp clients create --backchannel-logout-uri`; docs/connect-an-app.md).
    #: Seconds to wait for a client's back-channel logout endpoint.
    IDP_BACKCHANNEL_TIMEOUT = _int("IDP_BACKCHANNEL_TIMEOUT", 5)
    #: Deliveries per logout token; a failed one is retried after 1, 2, 4, 8 … seconds.
    IDP_BACKCHANNEL_ATTEMPTS = _int("IDP_BACKCHANNEL_ATTEMPTS", 5)
    IDP_BACKCHANNEL_RETRY_SECONDS = float(os.environ.get("IDP_BACKCHANNEL_RETRY_SECONDS", "1"))

    # Lazy migration from a system that will not export its hashes (docs/move-your-users-here.md).
    #: The old system's verifier, asked once per imported person without a hash: https only.
    IDP_LEGACY_VERIFIER_URL = os.environ.get("IDP_LEGACY_VERIFIER_URL") or None
    #: Sent as `Authorization: Bearer …` so the verifier knows the caller is us.
    IDP_LEGACY_VERIFIER_TOKEN = os.environ.get("IDP_LEGACY_VERIFIER_TOKEN") or None
    #: Seconds to wait for it; then the sign-in fails closed (503).
    IDP_LEGACY_VERIFIER_TIMEOUT = _int("IDP_LEGACY_VERIFIER_TIMEOUT", 5)

    # Request bodies (issue 9, item 2). The largest legitimate one is a WebAuthn
    # registration with an attestation certificate chain: a few KB.
    #: Larger bodies get 413 before a byte of them is read (a chunked one, once it grows past).
    MAX_CONTENT_LENGTH = _int("IDP_MAX_BODY_BYTES", 64 * 1024)
    #: One text field of a multipart form; more gets 413.
    MAX_FORM_MEMORY_SIZE = 16 * 1024
    #: Fields of a multipart form; our largest form has a dozen.
    MAX_FORM_PARTS = 100

    #: No ping before every checkout (a round trip per request): connections are recycled
    #: after 5 minutes, and one that a database restart broke fails its request with 503
    #: once, after which the pool is rebuilt (SQLAlchemy invalidates it on a disconnect).
    #: hide_parameters: an error message (logged) never shows a statement's values.
    #: pool_size: connections each of a process's pools keeps open. It must be at least the
    #: server's threads per process (granian's --blocking-threads; `make run` has 4): a
    #: connection beyond it (an overflow) is closed when given back, so each request past it
    #: would open a new connection (a PostgreSQL backend started and stopped per request).
    SQLALCHEMY_ENGINE_OPTIONS = {
        "pool_pre_ping": False, "pool_recycle": 300, "hide_parameters": True,
        "pool_size": _int("IDP_DB_POOL_SIZE", 5),
    }
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session that holds it
    SESSION_COOKIE_NAME = "idp_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    TEMPLATES_AUTO_RELOAD = False

    @classmethod
    def instance_path(cls) -> Path:
        return Path(os.environ.get("IDP_INSTANCE_PATH", Path(__file__).parent / "instance"))
