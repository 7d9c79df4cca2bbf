"""The rows of an import file (JSON lines or CSV), read one at a time and checked one by one:
each is a Row or a RowError carrying its line number and the reason.

| field | JSON lines | CSV |
|---|---|---|
| `email` | string, required | column, required |
| `name` | string | column (empty: not given) |
| `admin`, `mfa_required` | true / false | true, false, 1, 0, yes, no (empty: not given) |
| `password_hash` | string, or Keycloak's credential object | string (Keycloak's credential as JSON text) |
| `totp_secrets` | list of base32 strings | base32 strings separated by spaces or `;` |
"""

from __future__ import annotations

import base64
import binascii
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from ..security.legacy_hashes import UnsupportedHash, canonical

FIELDS = ("email", "name", "admin", "mfa_required", "password_hash", "totp_secrets")
MAX_LINE = 64 * 1024
MAX_SECRETS = 10


@dataclass(frozen=True)
class Row:
    line: int
    email: str
    #: None: the row does not say (an existing account keeps what it has).
    name: str | None = None
    admin: bool | None = None
    mfa_required: bool | None = None
    password_hash: str | None = None
    totp_secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


class _Bad(ValueError):
    pass


def read(stream: IO[str], fmt: str) -> Iterator[Row | RowError]:
    if fmt == "csv":
        yield from _csv(stream)
    else:
        yield from _jsonl(stream)


def _jsonl(stream: IO[str]) -> Iterator[Row | RowError]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE:
            yield RowError(number, f"the line is longer than {MAX_LINE} characters")
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            yield RowError(number, f"not JSON: {exc.msg}")
            continue
        yield _row(number, data, csv_cells=False)


def _csv(stream: IO[str]) -> Iterator[Row | RowError]:
    reader = csv.DictReader(stream)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        yield RowError(1, f"unreadable CSV header: {exc}")
        return
    unknown = [f for f in header if f not in FIELDS]
    if "email" not in header or unknown:
        yield RowError(1, f"the header must name columns among {', '.join(FIELDS)} (with email)"
                          + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
        return
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(reader.line_num, f"unreadable CSV: {exc}")
            continue
        if None in record:
            yield RowError(reader.line_num, "more cells than columns")
            continue
        yield _row(reader.line_num, {k: v for k, v in record.items() if v not in (None, "")}, csv_cells=True)


def _row(line: int, data: Any, *, csv_cells: bool) -> Row | RowError:
    try:
        if not isinstance(data, dict):
            raise _Bad("each line must be a JSON object")
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise _Bad(f"unknown field {unknown[0]!r}")
        return Row(
            line=line,
            email=_email(data.get("email")),
            name=_name(data.get("name")),
            admin=_flag(data.get("admin"), "admin", csv_cells),
            mfa_required=_flag(data.get("mfa_required"), "mfa_required", csv_cells),
            password_hash=_hash(data.get("password_hash")),
            totp_secrets=_secrets(data.get("totp_secrets"), csv_cells),
        )
    except _Bad as bad:
        return RowError(line, str(bad))


def _email(value: Any) -> str:
    from ..accounts import AccountError, valid_email

    if not isinstance(value, str):
        raise _Bad("email is required")
    try:
        return valid_email(value)
    except AccountError as exc:
        raise _Bad(str(exc)) from None


def _name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 200:
        raise _Bad("name must be a string of at most 200 characters")
    return value.strip() or None


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def _flag(value: Any, field: str, csv_cells: bool) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if csv_cells and isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise _Bad(f"{field} must be true or false")


def _hash(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return canonical(value)
    except UnsupportedHash as exc:
        raise _Bad(f"password_hash: {exc}") from None


def _secrets(value: Any, csv_cells: bool) -> tuple[str, ...]:
    if value is None:
        return ()
    if csv_cells and isinstance(value, str):
        value = value.replace(";", " ").split()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad("totp_secrets must be a list of base32 strings")
    if len(value) > MAX_SECRETS:
        raise _Bad(f"at most {MAX_SECRETS} totp_secrets")
    return tuple(dict.fromkeys(_base32(v) for v in value))


def _base32(secret: str) -> str:
    """RFC 4648 base32, as authenticator apps show it (any case, spaces, padding or not);
    at least 80 bits (what most apps were given), at most 512."""
    text = secret.replace(" ", "").upper().rstrip("=")
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise _Bad("a TOTP secret is not base32") from None
    if not 10 <= len(raw) <= 64:
        raise _Bad("a TOTP secret must have 80 to 512 bits")
    return text
