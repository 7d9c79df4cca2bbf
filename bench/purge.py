"""`idp purge` on PostgreSQL with a million expired refresh tokens: the time it takes, the
longest single transaction, and how long a token refresh waits meanwhile. A benchmark, not
a test: it prints figures.

    python bench/purge.py --database postgresql+psycopg://postgres@127.0.0.1:5432/bench_purge

The database's public schema is dropped and made again from the migrations. 250,000
expired grants with four refresh tokens each (three rotated) are inserted with
generate_series, beside 1,000 live grants that must survive.
"""

from __future__ import annotations

import argparse
import json
import time

from sqlalchemy import text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--grants", type=int, default=250_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from idp import create_app, purge
    from idp.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database, "IDP_ENV": "test", "SECRET_KEY": "bench",
                      "IDP_DATA_KEYS": "b1:" + "B" * 43})
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        started = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO users (id, subject, email, is_admin, mfa_required, disabled, session_epoch, created_at, legacy_password)"
                              " VALUES (1, 's', 'bench@example.com', false, false, false, 0, 0, false)"))
            for name, expires in (("old", "extract(epoch from now())::bigint - 60"), ("live", "extract(epoch from now())::bigint + 86400")):
                count = args.grants if name == "old" else 1000
                conn.execute(text(
                    "INSERT INTO grants (id, user_id, client_id, scope, auth_time, acr, amr, created_at, expires_at) "
                    f"SELECT '{name}' || g, 1, 'c', 'openid', 0, 'pwd', '[\"pwd\"]', 0, {expires} FROM generate_series(1, {count}) g"))
                conn.execute(text(
                    "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scope, issued_at, rotated_at) "
                    f"SELECT md5('{name}' || g || '-' || t), '{name}' || g, 'c', 'openid', 0, CASE WHEN t < 4 THEN 0 END "
                    f"FROM generate_series(1, {count}) g, generate_series(1, 4) t"))
            conn.execute(text("ANALYZE"))
        tokens = db.session.scalar(text("SELECT count(*) FROM refresh_tokens"))
        print(f"inserted {tokens} refresh tokens in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        report = purge.run(key_grace=86400, audit_retention_days=365, batch_size=args.batch_size)
        took = time.perf_counter() - started
        left = db.session.scalar(text("SELECT count(*) FROM refresh_tokens"))
        print(json.dumps({**report.as_dict(), "seconds": round(took, 1), "refresh_tokens_left": left}))


if __name__ == "__main__":
    main()
