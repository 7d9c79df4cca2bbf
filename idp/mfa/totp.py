"""TOTP (RFC 6238) as authenticator apps expect it: SHA-1, 6 digits, 30-second steps."""

from __future__ import annotations

import hmac

import pyotp
import segno
from sqlalchemy import update

from .. import clock
from ..extensions import db
from ..models import TotpFactor
from ..security.keyring import KeyRing

STEP = 30
#: RFC 6238 §5.2: accept one step either side for clock drift, no more.
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32(32)  # 160 bits, RFC 4226 §4's recommendation


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG, made here: the secret never leaves for a QR service."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#1d2330")


def matching_step(secret: str, code: str, *, now: int) -> int | None:
    """The time step whose code this is (within the drift window), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = now // STEP
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def seal(keyring: KeyRing, secret: str, *, user_id: int) -> str:
    return keyring.encrypt(secret.encode(), context=f"totp:{user_id}".encode())


def unseal(keyring: KeyRing, factor: TotpFactor) -> str:
    return keyring.decrypt(factor.secret_encrypted, context=f"totp:{factor.user_id}".encode()).decode()


def verify(*, user_id: int, code: str, keyring: KeyRing) -> TotpFactor | None:
    """Check `code` against the person's authenticator apps and consume its time step.

    A code is accepted once: the step only moves forward, with a conditional UPDATE, so the
    same code sent twice (even to two processes at once) succeeds at most once.
    """
    now = clock.now()
    for factor in db.session.query(TotpFactor).filter_by(user_id=user_id).order_by(TotpFactor.id):
        step = matching_step(unseal(keyring, factor), code, now=now)
        if step is None:
            continue
        consumed = db.session.execute(
            update(TotpFactor)
            .where(TotpFactor.id == factor.id, TotpFactor.last_used_step < step)
            .values(last_used_step=step, last_used_at=now)
        ).rowcount
        return factor if consumed == 1 else None
    return None
