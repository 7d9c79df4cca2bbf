"""The plans of the statements the provider really runs on its token path.

Run by the benchmark as `python -m bench.explain` with our provider's environment and a job
on standard input ({"requests": [{"name", "method", "path", "form", "headers"}]}). Each
request goes through the provider in-process (Flask's test client, same database and
Redis as the live server); every SELECT, UPDATE and DELETE it sent is EXPLAINed with its
own parameters. Prints a JSON list: {request, statement, plan, seq_scan}. Nothing here
changes the provider: it listens to SQLAlchemy's statement events, and records what
idp/direct_sql.py runs on the cursor (the hottest statements, which bypass those events).
"""

from __future__ import annotations

import json
import re
import sys

from sqlalchemy import event


def _short(statement: str) -> str:
    """The statement on one line, its column list elided."""
    flat = " ".join(statement.split())
    return re.sub(r"^SELECT .+? FROM ", "SELECT … FROM ", flat)


def main() -> None:
    from idp import create_app, direct_sql
    from idp.extensions import db

    job = json.load(sys.stdin)
    app = create_app()
    seen: list[tuple[str, str, object]] = []
    current = {"name": ""}

    with app.app_context():
        engine = db.engine

        def note(statement: str, parameters: object) -> None:
            # WITH: a refresh's rotation and a code's redemption are data-modifying CTEs
            # (EXPLAIN without ANALYZE plans them without running them).
            if statement.lstrip().split(None, 1)[0].upper() in ("SELECT", "UPDATE", "DELETE", "WITH"):
                seen.append((current["name"], statement, parameters))

        @event.listens_for(engine, "before_cursor_execute")
        def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
            if not executemany:
                note(statement, parameters)

        on_the_cursor = direct_sql.execute

        def recorded(engine, sql, parameters, returns_rows=True):  # noqa: ANN001, ANN202
            note(sql, parameters)
            return on_the_cursor(engine, sql, parameters, returns_rows)

        direct_sql.execute = recorded

        http = app.test_client()
        # Once per process, not per request: the signing-key cache loads the (small)
        # signing_keys table whole. A first request, not recorded, gets that out of the way.
        warm = job["requests"][0]
        http.open(warm["path"], method=warm["method"], data=warm.get("form"), headers=warm.get("headers", {}))
        seen.clear()
        for request in job["requests"]:
            current["name"] = request["name"]
            response = http.open(request["path"], method=request["method"], data=request.get("form"),
                                 headers=request.get("headers", {}))
            if response.status_code >= 400:
                print(f"[bench] explain: {request['name']} answered {response.status_code}", file=sys.stderr)
        event.remove(engine, "before_cursor_execute", record)
        direct_sql.execute = on_the_cursor

        out, unique = [], set()
        with engine.connect() as conn:
            for name, statement, parameters in seen:
                key = (name, statement)
                if key in unique:
                    continue
                unique.add(key)
                rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
                plan = "\n".join(r[0] for r in rows)
                out.append({"request": name, "statement": _short(statement), "plan": plan,
                            "seq_scan": "Seq Scan" in plan})
            conn.rollback()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
