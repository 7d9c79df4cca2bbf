"""A large database for the second table: people, clients and refresh tokens with their
grants, written with COPY (a million rows take seconds, not hours), then ANALYZEd.

The rows are what the provider itself would write (idp/models): refresh tokens are stored
as the SHA-256 hex of the token (idp/security/tokens.py), each belongs to a grant of one
person and one client, and most have been rotated, as a long-lived deployment's are.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
import sys
import time
from dataclasses import dataclass

import psycopg
from argon2 import PasswordHasher

from .fixtures import CONFIDENTIAL_REDIRECT, PASSWORD

DAY = 86400


@dataclass(frozen=True)
class Sizes:
    users: int = 10_000
    clients: int = 1_000
    refresh_tokens: int = 1_000_000
    #: Refresh tokens per grant: the live one and its rotated predecessors.
    tokens_per_grant: int = 4


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def load(dsn: str, sizes: Sizes, argon2_params: dict) -> dict[str, float]:
    """Adds the rows; returns how long each table took (seconds)."""
    timings: dict[str, float] = {}
    now = int(time.time())
    rng = random.Random(8)
    digest = PasswordHasher(**argon2_params).hash(PASSWORD)
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        started = time.monotonic()
        with conn.cursor() as cur, cur.copy(
            "COPY users (subject, email, name, password_hash, is_admin, disabled, mfa_required, created_at,"
            " session_epoch) FROM STDIN"
        ) as copy:
            for i in range(sizes.users):
                copy.write_row((secrets.token_urlsafe(16), f"scale-{i:06d}@bench.example.com", f"Scale {i}", digest,
                                False, False, False, now - rng.randrange(365 * DAY), 0))
        user_ids = [row[0] for row in conn.execute("SELECT id FROM users WHERE email LIKE 'scale-%'")]
        timings["users"] = time.monotonic() - started

        started = time.monotonic()
        client_ids = [f"scale-client-{i:05d}" for i in range(sizes.clients)]
        redirect = json.dumps([CONFIDENTIAL_REDIRECT])
        with conn.cursor() as cur, cur.copy(
            "COPY clients (client_id, client_secret_hash, name, redirect_uris, post_logout_redirect_uris, scope,"
            " is_public, refresh_grace_seconds, created_at) FROM STDIN"
        ) as copy:
            for i, client_id in enumerate(client_ids):
                public = i % 2 == 0
                secret_hash = None if public else hashlib.sha256(os.urandom(32)).hexdigest()
                copy.write_row((client_id, secret_hash, f"Scale client {i}", redirect, "[]",
                                "openid profile email offline_access", public, 0, now - rng.randrange(365 * DAY)))
        timings["clients"] = time.monotonic() - started

        started = time.monotonic()
        grants = -(-sizes.refresh_tokens // sizes.tokens_per_grant)
        families = []
        with conn.cursor() as cur, cur.copy(
            "COPY grants (id, user_id, client_id, scope, auth_time, acr, amr, sid, created_at, expires_at)"
            " FROM STDIN"
        ) as copy:
            for _ in range(grants):
                grant_id = secrets.token_urlsafe(16)
                client_id = client_ids[rng.randrange(len(client_ids))]
                created = now - rng.randrange(29 * DAY)
                families.append((grant_id, client_id, created))
                copy.write_row((grant_id, user_ids[rng.randrange(len(user_ids))], client_id, "openid profile email",
                                created, "pwd", '["pwd"]', secrets.token_urlsafe(16), created, created + 30 * DAY))
        timings["grants"] = time.monotonic() - started

        started = time.monotonic()
        written = 0
        with conn.cursor() as cur, cur.copy(
            "COPY refresh_tokens (token_hash, grant_id, client_id, scope, issued_at, rotated_at) FROM STDIN"
        ) as copy:
            for grant_id, client_id, created in families:
                for n in range(sizes.tokens_per_grant):
                    if written == sizes.refresh_tokens:
                        break
                    issued = created + n * 3600
                    rotated = issued + 3600 if n < sizes.tokens_per_grant - 1 else None
                    copy.write_row((hashlib.sha256(os.urandom(32)).hexdigest(), grant_id, client_id,
                                    "openid profile email", issued, rotated))
                    written += 1
        timings["refresh_tokens"] = time.monotonic() - started
        conn.commit()
        started = time.monotonic()
        conn.autocommit = True
        conn.execute("ANALYZE")
        timings["analyze"] = time.monotonic() - started
    return timings


def counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("users", "clients", "grants", "refresh_tokens")}
