"""The audit log as people and programs read it: who by email, which app by name, when as
ISO 8601 in UTC; and its export as CSV or JSON lines, streamed in batches."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

from sqlalchemy import Select, select

from .extensions import db
from .models import AuditEvent, Client, User

COLUMNS = ("at", "event", "user", "actor", "client", "ip", "detail")
BATCH = 500


def names(rows: Iterable[AuditEvent]) -> tuple[dict[int, str], dict[str, str]]:
    """Emails of the people and names of the clients these events mention (two queries)."""
    rows = list(rows)
    ids = {i for r in rows for i in (r.user_id, r.actor_id) if i is not None}
    clients = {r.client_id for r in rows if r.client_id}
    emails = dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all()) if ids else {}
    client_names = dict(db.session.execute(select(Client.client_id, Client.name).where(Client.client_id.in_(clients))).all()) if clients else {}
    return emails, client_names


def _records(query: Select) -> Iterator[dict]:
    last_id = None
    while True:
        batch_query = query.limit(BATCH) if last_id is None else query.where(AuditEvent.id < last_id).limit(BATCH)
        rows = list(db.session.scalars(batch_query))
        if not rows:
            return
        emails, client_names = names(rows)
        for r in rows:
            yield {
                "at": datetime.fromtimestamp(r.at, tz=timezone.utc).isoformat().replace("+00:00", "Z"),
                "event": r.event,
                "user": emails.get(r.user_id, r.user_id) if r.user_id is not None else None,
                "actor": emails.get(r.actor_id, r.actor_id) if r.actor_id is not None else None,
                "client": client_names.get(r.client_id, r.client_id) if r.client_id else None,
                "ip": r.ip, "detail": r.detail or {},
            }
        last_id = rows[-1].id


def jsonl(query: Select) -> Iterator[str]:
    """`query` is ordered newest first, by id."""
    for record in _records(query):
        yield json.dumps(record, ensure_ascii=False, default=str) + "\n"


def _cell(value: object) -> str:
    """A spreadsheet must not run a cell as a formula (OWASP "CSV Injection")."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_lines(query: Select) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for record in _records(query):
        record["detail"] = json.dumps(record["detail"], ensure_ascii=False, default=str)
        writer.writerow([_cell(record[c]) for c in COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
