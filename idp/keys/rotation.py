"""Signing-key life cycle: next -> active -> retired, and revocation.

A new key is published as `next` one rotation before it signs anything, so resource servers
that cache the JWKS already know it on the day it becomes active; a retired key stays
published for IDP_KEY_RETIRED_GRACE seconds, so tokens it signed still verify. One key per
algorithm is active at a time. A revoked key (a leak) is deleted outright: it leaves the
JWKS, and nothing it signed verifies any more.
"""

from __future__ import annotations

import json
import secrets

from joserfc.jwk import ECKey, OKPKey, RSAKey
from sqlalchemy import select

from .. import clock
from ..extensions import db
from ..models import SigningKey
from ..security.keyring import KeyRing

ALGORITHMS = ("RS256", "ES256", "EdDSA")


def generate(alg: str, keyring: KeyRing, state: str) -> SigningKey:
    if alg == "RS256":
        key = RSAKey.generate_key(2048, private=True)
    elif alg == "ES256":
        key = ECKey.generate_key("P-256", private=True)
    elif alg == "EdDSA":
        key = OKPKey.generate_key("Ed25519", private=True)
    else:
        raise ValueError(f"unsupported algorithm {alg!r}; choose from {', '.join(ALGORITHMS)}")
    # Hex, not base64url: a kid starting with "-" read as an option by `idp keys revoke KID`.
    kid = secrets.token_hex(12)
    public = key.as_dict(private=False, kid=kid, alg=alg, use="sig")
    now = clock.now()
    row = SigningKey(
        kid=kid,
        alg=alg,
        state=state,
        public_jwk=json.dumps(public),
        private_jwk_encrypted=keyring.encrypt(
            json.dumps(key.as_dict(private=True)).encode(), context=kid.encode()
        ),
        created_at=now,
        activated_at=now if state == "active" else None,
    )
    db.session.add(row)
    return row


def ensure_keys(alg: str, keyring: KeyRing) -> None:
    """Make sure `alg` has an active and a next key (first start, or a new algorithm)."""
    states = set(
        db.session.scalars(select(SigningKey.state).where(SigningKey.alg == alg)).all()
    )
    if "active" not in states:
        generate(alg, keyring, "active")
    if "next" not in states:
        generate(alg, keyring, "next")


def rotate(alg: str, keyring: KeyRing) -> SigningKey:
    """Retire the active key of `alg`, promote its next key, publish a new next key."""
    now = clock.now()
    rows = db.session.scalars(
        select(SigningKey).where(SigningKey.alg == alg, SigningKey.state.in_(("active", "next")))
    ).all()
    for row in rows:
        if row.state == "active":
            row.state, row.retired_at = "retired", now
    # Flush step by step: at most one active and one next key per algorithm at any moment
    # (a unique index says so).
    db.session.flush()
    promoted = next((r for r in rows if r.state == "next"), None)
    if promoted is None:
        promoted = generate(alg, keyring, "active")
    promoted.state, promoted.activated_at = "active", now
    db.session.flush()
    generate(alg, keyring, "next")
    return promoted


def purge_retired(grace_seconds: int) -> int:
    """Forget retired keys whose tokens have all expired."""
    cutoff = clock.now() - grace_seconds
    rows = db.session.scalars(
        select(SigningKey).where(SigningKey.state == "retired", SigningKey.retired_at < cutoff)
    ).all()
    for row in rows:
        db.session.delete(row)
    return len(rows)


def rotate_now(alg: str, keyring: KeyRing, retired_grace: int) -> SigningKey:
    """What an operator means by "rotate": make sure the keys exist, rotate, tidy up."""
    ensure_keys(alg, keyring)
    db.session.flush()
    active = rotate(alg, keyring)
    purge_retired(retired_grace)
    return active


class UnknownKey(LookupError):
    pass


def revoke(kid: str, keyring: KeyRing) -> SigningKey:
    """Delete key `kid` at once (issue 9, item 14); returns its algorithm's active key. An
    active key is replaced by the next one, a next key by a new one, so signing goes on.
    Every process drops its copy when the commit bumps the `keys` version (idp.changes)."""
    row = db.session.get(SigningKey, kid)
    if row is None:
        raise UnknownKey(kid)
    alg, state = row.alg, row.state
    db.session.delete(row)
    db.session.flush()
    if state == "active":
        promoted = db.session.scalars(
            select(SigningKey).where(SigningKey.alg == alg, SigningKey.state == "next")
        ).first()
        if promoted is None:
            promoted = generate(alg, keyring, "active")
        promoted.state, promoted.activated_at = "active", clock.now()
        db.session.flush()
    if state in ("active", "next"):
        generate(alg, keyring, "next")
    ensure_keys(alg, keyring)
    db.session.flush()
    return db.session.scalars(select(SigningKey).where(SigningKey.alg == alg, SigningKey.state == "active")).one()
