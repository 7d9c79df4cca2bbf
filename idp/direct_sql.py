"""The hottest standalone statements, run on the DBAPI cursor with a statement compiled once.

SQLAlchemy's Connection builds an execution context, a cursor result and a row proxy for
every statement: on PostgreSQL that was 120 µs of the 280 a one-row read costs, as much as
the round trip itself (issue 8). Here a read is the compiled string, one `execute` on a
pooled autocommit connection, and the columns' own result processors (SQLite's booleans and
JSON). Errors come out as SQLAlchemy's, so `OperationalError` still means "database down"
and a broken connection is dropped from the pool, as Core does.

Only for statements that stand alone: the reads of a grant with its person, a client row,
the signed-in person, an authorization code's INSERT, and on PostgreSQL a refresh (the
token's read, checks, rotation and successor) and a code's redemption, each one statement
(oauth.grants). The pools are in autocommit mode, and all but the codes' one wait for the
disk; never for a read that a later write of the same request depends on."""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable
from typing import Any

from flask import current_app
from sqlalchemy import Executable, Select, exc
from sqlalchemy.engine import Dialect, Engine


class _Compiled:
    def __init__(self, statement: Executable, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positions = compiled.positiontup  # set for positional paramstyles (SQLite's qmark)
        # The values written into the statement (`column == "x"`), beside the bindparams.
        self.fixed = {name: b.effective_value for name, b in compiled.binds.items() if not b.required}
        # What Core would do to the values first (JSON's serialisation, SQLite's booleans).
        self.bind_processors = {
            name: processor for name, b in compiled.binds.items()
            if (processor := b.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        columns = list(statement.selected_columns) if isinstance(statement, Select) else []
        # Unlabelled expressions (an EXISTS) are read by position, as from a Core row.
        names = list(statement.selected_columns.keys()) if columns else []
        fields = collections.namedtuple("Row", names, rename=True)  # type: ignore[misc]
        self.row = type("Row", (fields,), {"__slots__": (), "_mapping": property(fields._asdict)})
        self.processors: list[Callable[[Any], Any] | None] = [
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        ]
        self.any_processor = any(self.processors)

    def parameters(self, given: dict[str, Any]) -> Any:
        values = {**self.fixed, **given} if self.fixed else given
        if self.bind_processors:
            values = {name: (self.bind_processors[name](v) if name in self.bind_processors else v) for name, v in values.items()}
        if self.positions is not None:
            return [values[name] for name in self.positions]
        return values


@functools.cache
def _compiled(statement: Executable, dialect: Dialect) -> _Compiled:
    return _Compiled(statement, dialect)


def read_row(statement: Select[Any], params: dict[str, Any]) -> Any | None:
    """The first row of `statement` (a namedtuple), or None."""
    engine: Engine = current_app.extensions["idp.autocommit"]
    compiled = _compiled(statement, engine.dialect)
    row, _ = execute(engine, compiled.sql, compiled.parameters(params))
    if row is None:
        return None
    if compiled.any_processor:
        row = [p(v) if p is not None else v for p, v in zip(compiled.processors, row)]
    return compiled.row(*row)


def write(statement: Executable, params: dict[str, Any], pool: str = "idp.autocommit") -> int:
    """Run one INSERT, UPDATE or DELETE, committed by itself; the number of rows it wrote.
    `pool`: "idp.ephemeral" for the one kind of write that need not wait for the disk
    (extensions.write_ephemeral)."""
    engine: Engine = current_app.extensions[pool]
    compiled = _compiled(statement, engine.dialect)
    return execute(engine, compiled.sql, compiled.parameters(params), returns_rows=False)[1]


def execute(engine: Engine, sql: str, parameters: Any, returns_rows: bool = True) -> tuple[tuple[Any, ...] | None, int]:
    """One statement on a pooled connection: its first row, and the rows it counted."""
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        connection = engine.raw_connection()
    except dbapi_error as error:
        # The pool raises the driver's own error for a failed connect (Core wraps it in
        # Connection): wrapped here too, so a database that refuses connections is a 503.
        raise exc.DBAPIError.instance(
            None, None, error, dbapi_error, hide_parameters=True, dialect=engine.dialect,
        ) from error
    cursor = None
    lost = False
    try:
        cursor = connection.cursor()
        cursor.execute(sql, parameters)
        return (cursor.fetchone() if returns_rows else None), cursor.rowcount
    except dbapi_error as error:
        lost = engine.dialect.is_disconnect(error, connection.dbapi_connection, cursor)
        if lost:
            # As Core does: every connection made before this one is stale too (a restart
            # kills them all), so each is replaced at its next checkout, not found broken
            # by one request after another.
            engine.pool._invalidate(connection, error)  # noqa: SLF001
        raise exc.DBAPIError.instance(
            sql, parameters, error, dbapi_error, hide_parameters=True,
            connection_invalidated=lost, dialect=engine.dialect,
        ) from error
    finally:
        if cursor is not None and not lost:
            cursor.close()
        connection.close()
