"""What `idp users import` holds in memory: the peak RSS of the command importing files of
growing length (each row with a password hash, and every tenth with a TOTP secret), so a
flat figure shows the rows are streamed. A benchmark, not a test: it prints figures.

    python bench/import_memory.py [--rows 100000] [--database postgresql+psycopg://…]

Each run is a fresh `idp` process on a fresh database: a temporary SQLite file, or the
PostgreSQL database given, whose public schema is dropped and made again for each size.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bcrypt

ROOT = Path(__file__).resolve().parent.parent
IDP = Path(sys.executable).parent / "idp"
HASHES = [
    bcrypt.hashpw(b"a password", bcrypt.gensalt(10)).decode(),
    "pbkdf2_sha256$1000000$" + secrets.token_hex(11) + "$" + "A" * 43 + "=",
    "$pbkdf2-sha512$210000$" + "a" * 22 + "$" + "b" * 86,
    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$" + "A" * 43,
]
TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def write(path: Path, rows: int) -> None:
    with path.open("w") as out:
        for i in range(rows):
            row = {"email": f"person{i}@example.com", "name": f"Person {i}", "password_hash": HASHES[i % len(HASHES)]}
            if i % 10 == 0:
                row["totp_secrets"] = [TOTP]
            out.write(json.dumps(row) + "\n")


def run(rows: int, database: str | None) -> tuple[float, float, dict]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write(tmp / "people.jsonl", rows)
        env = {**os.environ, "IDP_INSTANCE_PATH": str(tmp), "DATABASE_URL": database or f"sqlite:///{tmp / 'idp.db'}",
               "IDP_DATA_KEYS": "b1:" + "A" * 43, "IDP_SECRET_KEY": "bench"}
        if database:
            _empty(database)
        subprocess.run([str(IDP), "db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
        started = time.monotonic()
        with (tmp / "out.json").open("wb") as out:
            child = subprocess.Popen([str(IDP), "users", "import", str(tmp / "people.jsonl"), "--json"], env=env,
                                     cwd=ROOT, stdout=out, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the children's
            child.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - started
        report = json.loads((tmp / "out.json").read_text())
        report["errors"] = len(report["errors"])
        return usage.ru_maxrss / 1024, elapsed, report


def _empty(database: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(database)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", help="an empty database URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    sizes = sorted({1_000, args.rows // 10, args.rows})
    print(f"{'rows':>8}  {'peak RSS':>9}  {'time':>7}  report")
    for rows in sizes:
        peak, elapsed, report = run(rows, args.database)
        print(f"{rows:>8}  {peak:7.1f} MB  {elapsed:6.1f}s  {report}")


if __name__ == "__main__":
    main()
