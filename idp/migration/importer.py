"""`idp users import`: people from another system, with their password hashes and their
authenticator apps, in batches so memory stays flat whatever the file's length.

Idempotent: a row is applied only where the account differs from it, so a second run over
the same file changes nothing. For an existing account the row sets the name and flags it
gives, the password hash only when the account has no password yet (one chosen or rehashed
here is never replaced by an old system's), and adds the TOTP secrets it does not have.
Bad rows are reported with their line and reason; the others are applied all the same.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import audit, clock
from ..extensions import db
from ..mfa import totp
from ..models import TotpFactor, User
from ..security.keyring import KeyRing
from .rows import Row, RowError

BATCH = 500


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error_count: int = 0
    #: The errors as JSON lines, on disk: a file of 100,000 bad rows does not fill memory.
    errors: IO[str] = field(default_factory=lambda: tempfile.TemporaryFile("w+", encoding="utf-8"))

    def error(self, line: int, reason: str) -> None:
        self.error_count += 1
        self.errors.write(json.dumps({"line": line, "reason": reason}) + "\n")

    def each_error(self) -> Iterator[dict]:
        self.errors.seek(0)
        for line in self.errors:
            yield json.loads(line)


def run(rows: Iterable[Row | RowError], *, keyring: KeyRing, dry_run: bool = False) -> Report:
    report = Report()
    # An email seen earlier in this file (8-byte digests: about 60 bytes a row in memory).
    seen: set[bytes] = set()
    batch: list[Row] = []
    for row in rows:
        if isinstance(row, RowError):
            report.error(row.line, row.reason)
            continue
        digest = hashlib.blake2b(row.email.encode(), digest_size=8).digest()
        if digest in seen:
            report.error(row.line, f"{row.email} appears on an earlier line")
            continue
        seen.add(digest)
        batch.append(row)
        if len(batch) == BATCH:
            _apply(batch, report, keyring=keyring, dry_run=dry_run)
            batch = []
    if batch:
        _apply(batch, report, keyring=keyring, dry_run=dry_run)
    if not dry_run:
        audit.emit("users.imported", via="cli", created=report.created, updated=report.updated,
                   unchanged=report.unchanged, errors=report.error_count)
        db.session.commit()
    return report


def _apply(batch: list[Row], report: Report, *, keyring: KeyRing, dry_run: bool) -> None:
    counted = (report.created, report.updated, report.unchanged)
    try:
        _write(batch, report, keyring=keyring)
        db.session.flush()
    except IntegrityError as exc:
        # Someone else wrote one of these accounts meanwhile: nothing of the batch is kept,
        # and a re-run (idempotent) applies it.
        db.session.rollback()
        report.created, report.updated, report.unchanged = counted
        for row in batch:
            report.error(row.line, f"not written, the database refused the batch ({type(exc.orig).__name__}): run the import again")
        return
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    db.session.expunge_all()


def _write(batch: list[Row], report: Report, *, keyring: KeyRing) -> None:
    existing = {u.email: u for u in db.session.scalars(select(User).where(User.email.in_([r.email for r in batch])))}
    secrets_of: dict[int, set[str]] = {}
    if existing:
        for factor in db.session.scalars(select(TotpFactor).where(TotpFactor.user_id.in_([u.id for u in existing.values()]))):
            secrets_of.setdefault(factor.user_id, set()).add(totp.unseal(keyring, factor))
    now = clock.now()
    new_totps: list[tuple[User, str]] = []
    for row in batch:
        user = existing.get(row.email)
        if user is None:
            user = User(
                subject=secrets.token_urlsafe(16), email=row.email, name=row.name, password_hash=row.password_hash,
                legacy_password=row.password_hash is None, is_admin=bool(row.admin), mfa_required=bool(row.mfa_required),
                created_at=now,
            )
            db.session.add(user)
            report.created += 1
            new_totps += [(user, s) for s in row.totp_secrets]
            if user.is_admin:
                audit.emit("user.imported", email=row.email, admin=True)
            continue
        changed = _update(user, row)
        missing = [s for s in row.totp_secrets if s not in secrets_of.get(user.id, set())]
        new_totps += [(user, s) for s in missing]
        if changed or missing:
            report.updated += 1
            if "is_admin" in changed:
                audit.emit("user.imported", user_id=user.id, admin=user.is_admin)
        else:
            report.unchanged += 1
    if new_totps:
        db.session.flush()  # the new accounts' ids
        for user, secret in new_totps:
            db.session.add(TotpFactor(user_id=user.id, label="Imported authenticator", last_used_step=0, created_at=now,
                                      secret_encrypted=totp.seal(keyring, secret, user_id=user.id)))


def _update(user: User, row: Row) -> set[str]:
    changes = {}
    if row.name is not None and row.name != user.name:
        changes["name"] = row.name
    if row.admin is not None and row.admin != user.is_admin:
        changes["is_admin"] = row.admin
    if row.mfa_required is not None and row.mfa_required != user.mfa_required:
        changes["mfa_required"] = row.mfa_required
    if row.password_hash is not None and user.password_hash is None:
        changes.update(password_hash=row.password_hash, legacy_password=False)
    for name, value in changes.items():
        setattr(user, name, value)
    return set(changes)
