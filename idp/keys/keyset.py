"""The process's view of the signing keys: decrypted once, re-read at most every few seconds.

Requests never decrypt a key: they take it from this cache. The JWKS document is kept as
precomputed bytes with its ETag.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from joserfc.jwk import KeySet, import_key
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..extensions import db
from ..models import SigningKey
from ..security.keyring import KeyRing

if TYPE_CHECKING:
    from ..cache import Versions
from .rotation import ensure_keys


@dataclass(frozen=True)
class Snapshot:
    signing: dict[str, object]  # alg -> joserfc key of the active key
    public: KeySet  # every published key, for verifying our own tokens
    jwks_body: bytes
    jwks_etag: str
    loaded_at: float


class KeyCache:
    #: The name of this cache's version (store.versions): a rotation or revocation bumps it.
    name = "keys"

    def __init__(
        self, keyring: KeyRing, signing_alg: str, retired_grace: int, refresh_seconds: int = 30,
        versions: Versions | None = None,
    ):
        self.keyring = keyring
        # How stale a process's copy may be at most. A rotation committed anywhere bumps the
        # `keys` version, which every process reads within a second (idp.cache); this bound
        # covers a bump that was lost.
        self.refresh_seconds = refresh_seconds
        self.signing_alg = signing_alg
        self.retired_grace = retired_grace
        self._snapshot: Snapshot | None = None
        # The active keys as imported, by kid and ciphertext. Importing an RSA private key
        # costs about 55 ms of CPU (cryptography checks the key) with the GIL held, while
        # requests that find the snapshot stale wait on the lock: a reload re-imports only
        # a key whose row changed (a rotation, a data-key rotation re-encrypting it). Kept
        # apart from the snapshot, so a version bump's clear() does not throw them away.
        self._imported: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()
        self._versions = versions
        if versions is not None:
            versions.register(self)  # type: ignore[arg-type]

    def clear(self) -> None:
        self._snapshot = None

    def snapshot(self) -> Snapshot:
        if self._versions is not None:
            self._versions.current()
        snap = self._snapshot
        if snap is None or time.monotonic() - snap.loaded_at > self.refresh_seconds:
            with self._lock:
                if self._snapshot is snap:
                    self._snapshot = self._load()
            snap = self._snapshot
        assert snap is not None
        return snap

    def refresh_if_older_than(self, seconds: float) -> bool:
        snap = self._snapshot
        if snap is not None and time.monotonic() - snap.loaded_at < seconds:
            return False
        self.clear()
        return True

    def signing_key(self) -> tuple[str, object]:
        """The alg and key that sign tokens now."""
        return self.signing_alg, self.snapshot().signing[self.signing_alg]

    def _load(self) -> Snapshot:
        rows = self._rows()
        if not any(r.state == "active" and r.alg == self.signing_alg for r in rows):
            try:
                ensure_keys(self.signing_alg, self.keyring)
                db.session.commit()
            except IntegrityError:
                # Another process made them first (the unique index on active/next per alg).
                db.session.rollback()
            rows = self._rows()
        signing, imported = {}, {}
        for row in rows:
            if row.state == "active":
                source = (row.kid, row.private_jwk_encrypted)
                key = self._imported.get(source)
                if key is None:
                    key = self._import_private(row)
                signing[row.alg] = imported[source] = key
        self._imported = imported
        published = [json.loads(r.public_jwk) for r in rows]
        body = json.dumps({"keys": published}, separators=(",", ":")).encode()
        previous = self._snapshot
        unchanged = previous is not None and previous.jwks_body == body
        return Snapshot(
            signing=signing,
            public=previous.public if unchanged else KeySet.import_key_set({"keys": published}),
            jwks_body=body,
            jwks_etag=hashlib.sha256(body).hexdigest()[:32],
            loaded_at=time.monotonic(),
        )

    def _import_private(self, row: SigningKey) -> object:
        private = json.loads(self.keyring.decrypt(row.private_jwk_encrypted, context=row.kid.encode()))
        return import_key(private, parameters={"kid": row.kid, "alg": row.alg})

    def _rows(self) -> list[SigningKey]:
        cutoff = clock.now() - self.retired_grace
        rows = db.session.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
        return [r for r in rows if r.state != "retired" or (r.retired_at or 0) >= cutoff]
