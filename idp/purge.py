"""`idp purge`: delete what has expired, in bounded batches.

Each batch is one short transaction: pick at most `batch_size` rows that qualify, delete
them, commit. Nothing is held between batches, so sign-ins and token refreshes never wait
behind a purge for long. On PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so
several hosts purging at once take different rows instead of waiting for each other; the
counts are what each run really deleted (their sum is the total).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Select, delete, or_, select

from . import clock
from .extensions import db
from .keys import rotation
from .models import AuditEvent, AuthorizationCode, Grant, Invitation, PasswordReset, RefreshToken

#: A used code is kept this long past its expiry, so a late replay still finds it used and
#: revokes what it issued (RFC 6749 §4.1.2); after that, a replay is only an unknown code.
CODE_MARGIN = 3600


TABLES = ("authorization_codes", "refresh_tokens", "grants", "invitations", "password_resets", "signing_keys", "audit_events")


@dataclass
class Report:
    deleted: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    longest_transaction_ms: float = 0.0

    def add(self, table: str, n: int) -> None:
        self.deleted[table] = self.deleted.get(table, 0) + n

    def as_dict(self) -> dict:
        return {**self.deleted, "batches": self.batches, "longest_transaction_ms": round(self.longest_transaction_ms, 1)}


def _batches(report: Report, pick: Select, remove: Callable[[list], dict[str, int]], batch_size: int) -> None:
    """Pick a batch of keys and delete them, one transaction each, until none is left."""
    while True:
        started = time.perf_counter()
        keys = list(db.session.scalars(pick.limit(batch_size).with_for_update(skip_locked=True)))
        if keys:
            for table, n in remove(keys).items():
                report.add(table, n)
        db.session.commit()
        report.longest_transaction_ms = max(report.longest_transaction_ms, (time.perf_counter() - started) * 1000)
        if not keys:
            return
        report.batches += 1
        if len(keys) < batch_size:
            return


def _delete(model, column, keys: list) -> int:  # noqa: ANN001
    return db.session.execute(delete(model).where(column.in_(keys)), execution_options={"synchronize_session": False}).rowcount


def run(*, key_grace: int, audit_retention_days: int, batch_size: int = 1000) -> Report:
    now = clock.now()
    report = Report()
    # Authorization codes: expired (an hour ago: see CODE_MARGIN), used or not.
    _batches(report, select(AuthorizationCode.code_hash).where(AuthorizationCode.expires_at < now - CODE_MARGIN),
             lambda keys: {"authorization_codes": _delete(AuthorizationCode, AuthorizationCode.code_hash, keys)},
             batch_size)

    # Grants past their absolute lifetime, with every refresh token of their family
    # (rotated ones are kept until then: a reuse of one must still revoke the family).
    def grants(keys: list) -> dict[str, int]:
        tokens = _delete(RefreshToken, RefreshToken.grant_id, keys)
        return {"refresh_tokens": tokens, "grants": _delete(Grant, Grant.id, keys)}

    _batches(report, select(Grant.id).where(Grant.expires_at < now).order_by(Grant.expires_at), grants, batch_size)
    # Invitations and password-reset links that can no longer be used.
    _batches(report, select(Invitation.id).where(or_(
        Invitation.used_at.is_not(None), Invitation.revoked_at.is_not(None), Invitation.expires_at < now,
    )), lambda keys: {"invitations": _delete(Invitation, Invitation.id, keys)}, batch_size)
    _batches(report, select(PasswordReset.id).where(or_(PasswordReset.used_at.is_not(None), PasswordReset.expires_at < now)),
             lambda keys: {"password_resets": _delete(PasswordReset, PasswordReset.id, keys)}, batch_size)
    # Retired signing keys whose grace is over: no token they signed still verifies.
    started = time.perf_counter()
    report.add("signing_keys", rotation.purge_retired(key_grace))
    db.session.commit()
    report.longest_transaction_ms = max(report.longest_transaction_ms, (time.perf_counter() - started) * 1000)
    # The audit log, past its retention.
    cutoff = now - audit_retention_days * 86400
    _batches(report, select(AuditEvent.id).where(AuditEvent.at < cutoff).order_by(AuditEvent.at),
             lambda keys: {"audit_events": _delete(AuditEvent, AuditEvent.id, keys)}, batch_size)
    report.deleted = {table: report.deleted.get(table, 0) for table in TABLES}
    return report
