"""`idp users import`: every hash format, made by its real tool, imports, signs in through
/login and is rehashed to our argon2id at that sign-in; re-runs change nothing; bad rows
are reported with their line and reason; TOTP secrets keep working; --dry-run writes
nothing."""

from __future__ import annotations

import json

import pyotp
import pytest
from sqlalchemy import func, select

from idp import clock
from idp.extensions import db
from idp.models import AuditEvent, TotpFactor, User
from tests.unit.test_legacy_hashes import MAKERS, PASSWORD, _keycloak

SECRET = pyotp.random_base32(32)


def run(app, tmp_path, lines: list, *args: str, fmt: str = "jsonl"):
    path = tmp_path / f"people.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    else:
        path.write_text("".join(lines))
    result = app.test_cli_runner().invoke(args=["users", "import", str(path), *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def stored(app, email: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge(user)
        return user


def sign_in(actions, email: str, password: str = PASSWORD):
    return actions.login("/login?next=/account", email, password)


@pytest.fixture(scope="module")
def hashes():
    return {fmt: make() for fmt, make in MAKERS.items()}


def test_every_format_signs_in_and_is_rehashed(app, client, actions, tmp_path, hashes):
    rows = [{"email": f"{i}@example.com", "password_hash": value} for i, value in enumerate(hashes.values())]
    code, report = run(app, tmp_path, rows)
    assert (code, report) == (0, {"created": len(rows), "updated": 0, "unchanged": 0, "errors": []})
    for i, fmt in enumerate(hashes):
        email = f"{i}@example.com"
        before = stored(app, email).password_hash
        assert not before.startswith("$argon2id$v=19$m=1024,t=1,p=1$"), fmt
        assert sign_in(actions, email, PASSWORD + "?").status_code == 401, fmt
        assert stored(app, email).password_hash == before, f"{fmt}: a wrong password rehashed"
        response = sign_in(actions, email)
        assert response.status_code == 303 and response.location == "/login/continue?next=/account", (fmt, response.status_code)
        after = stored(app, email).password_hash
        assert after.startswith("$argon2id$v=19$m=1024,t=1,p=1$"), (fmt, after)
        assert app.extensions["idp.passwords"].verify(after, PASSWORD)
        client.post("/account/sign-out", data={"csrf_token": _csrf(client)})


def _csrf(client) -> str:
    from tests.helpers import csrf_token

    return csrf_token(client.get("/login").get_data(as_text=True))


def test_older_argon2_parameters_are_rehashed_too(app, actions, tmp_path):
    from argon2 import PasswordHasher

    old = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=2).hash(PASSWORD)
    run(app, tmp_path, [{"email": "old@example.com", "password_hash": old}])
    assert sign_in(actions, "old@example.com").status_code == 303
    assert stored(app, "old@example.com").password_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$")


def test_a_current_hash_is_left_as_it_is(app, actions, user):
    before = stored(app, user.email).password_hash
    assert sign_in(actions, user.email, "correct horse battery staple").status_code == 303
    assert stored(app, user.email).password_hash == before


def test_the_rehash_never_overwrites_a_newer_password(app, hashes):
    """The UPDATE is conditional on the hash that was verified: a password change that
    lands between the verification and the rehash wins."""
    from idp.authn.password import rehash

    with app.app_context():
        user = User(subject="s", email="race@example.com", password_hash=hashes["bcrypt $2b$"], created_at=clock.now())
        db.session.add(user)
        db.session.commit()
        assert user.password_hash == hashes["bcrypt $2b$"]  # what the sign-in verified
        db.session.execute(User.__table__.update().values(password_hash="changed-meanwhile"))
        rehash(user, PASSWORD, passwords=app.extensions["idp.passwords"])
        db.session.commit()
        assert db.session.scalar(select(User.password_hash)) == "changed-meanwhile"


def test_a_rerun_changes_nothing_even_after_the_rehash(app, actions, tmp_path, hashes):
    rows = [
        {"email": "a@example.com", "name": "A", "admin": True, "password_hash": hashes["django pbkdf2_sha256"]},
        {"email": "b@example.com", "mfa_required": True, "totp_secrets": [SECRET]},
        {"email": "c@example.com"},
    ]
    assert run(app, tmp_path, rows)[1]["created"] == 3
    assert sign_in(actions, "a@example.com").status_code == 303
    rehashed = stored(app, "a@example.com").password_hash
    code, report = run(app, tmp_path, rows)
    assert (code, report) == (0, {"created": 0, "updated": 0, "unchanged": 3, "errors": []})
    assert stored(app, "a@example.com").password_hash == rehashed  # the old system's hash is not back
    # A changed file updates what it says, and only that.
    rows[0]["name"] = "A. Person"
    rows[2]["password_hash"] = hashes["bcrypt $2b$"]  # c had no password yet: it gets this one
    assert run(app, tmp_path, rows)[1] == {"created": 0, "updated": 2, "unchanged": 1, "errors": []}
    assert stored(app, "a@example.com").name == "A. Person"
    c = stored(app, "c@example.com")
    assert c.password_hash == hashes["bcrypt $2b$"] and not c.legacy_password


def test_rows_without_a_hash_wait_for_the_legacy_verifier(app, tmp_path):
    run(app, tmp_path, [{"email": "legacy@example.com"}])
    user = stored(app, "legacy@example.com")
    assert user.password_hash is None and user.legacy_password


def test_imported_totp_secrets_keep_the_authenticator_app(app, actions, tmp_path, hashes):
    run(app, tmp_path, [{"email": "t@example.com", "password_hash": hashes["bcrypt $2y$"],
                         "totp_secrets": [SECRET.lower(), SECRET]}])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TotpFactor)) == 1  # the same secret once
    response = sign_in(actions, "t@example.com")
    assert response.location.startswith("/login/mfa")
    response = actions.second_factor(response.location, code=pyotp.TOTP(SECRET).at(clock.now()))
    assert response.status_code == 303


def test_bad_rows_are_reported_with_line_and_reason_and_the_rest_applied(app, tmp_path, hashes):
    lines = [
        {"email": "good@example.com", "password_hash": hashes["bcrypt $2b$"]},
        "not json",
        {"email": "not-an-email"},
        "",
        {"email": "x@example.com", "password_hash": "md5$abc$def"},
        {"email": "y@example.com", "admin": "yes"},
        {"email": "z@example.com", "totp_secrets": ["not base32!"]},
        {"email": "GOOD@example.com"},
        {"email": "w@example.com", "pasword_hash": "typo"},
        ["a", "list"],
        {"name": "no email"},
    ]
    code, report = run(app, tmp_path, lines)
    assert code == 1 and report["created"] == 1
    assert [e["line"] for e in report["errors"]] == [2, 3, 5, 6, 7, 8, 9, 10, 11]
    reasons = {e["line"]: e["reason"] for e in report["errors"]}
    assert "not JSON" in reasons[2] and "not a valid email address" in reasons[3] and "unknown password hash" in reasons[5]
    assert "admin must be true or false" in reasons[6] and "base32" in reasons[7]
    assert "earlier line" in reasons[8] and "pasword_hash" in reasons[9] and "email is required" in reasons[11]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_csv_with_a_keycloak_credential_and_line_numbers(app, actions, tmp_path):
    credential = json.dumps(_keycloak("pbkdf2-sha512", 1000, 64)).replace('"', '""')
    lines = [
        "email,name,admin,mfa_required,password_hash,totp_secrets\n",
        f'kc@example.com,Key Cloak,false,no,"{credential}",\n',
        "two@example.com,,maybe,,,\n",
        f"three@example.com,,,,,{SECRET} {pyotp.random_base32()}\n",
    ]
    code, report = run(app, tmp_path, lines, fmt="csv")
    assert report["created"] == 2 and [(e["line"], "admin" in e["reason"]) for e in report["errors"]] == [(3, True)]
    assert sign_in(actions, "kc@example.com").status_code == 303
    assert stored(app, "kc@example.com").password_hash.startswith("$argon2id$")
    code, report = run(app, tmp_path, ["mail,name\n", "a@b.c,x\n"], fmt="csv")
    assert report["errors"][0]["line"] == 1 and "unknown: mail" in report["errors"][0]["reason"]


def test_dry_run_writes_nothing(app, tmp_path, hashes):
    rows = [{"email": "d@example.com", "password_hash": hashes["passlib pbkdf2_sha256"], "totp_secrets": [SECRET]}]
    assert run(app, tmp_path, rows, "--dry-run")[1] == {"created": 1, "updated": 0, "unchanged": 0, "errors": []}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_many_rows_go_in_batches(app, tmp_path, hashes):
    rows = [{"email": f"p{i}@example.com", "password_hash": hashes["django pbkdf2_sha1"], "totp_secrets": [SECRET]}
            for i in range(1203)]
    assert run(app, tmp_path, rows)[1]["created"] == 1203
    assert run(app, tmp_path, rows)[1]["unchanged"] == 1203
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TotpFactor)) == 1203
