"""Issue 9, item 12: addresses are validated and normalised by email-validator, one
recipient each, with no invisible characters and no mixed scripts. Before, a comma list
became one account whose mail went to both, and look-alikes made distinct accounts that
read like alice@example.com."""

from __future__ import annotations

import json
import unicodedata

import pytest
from sqlalchemy import func, select

from idp.extensions import db
from idp.models import Invitation, User
from tests.helpers import add_totp, make_user
from tests.integration.test_admin import post, sign_in

REFUSED = {
    "two recipients": "bob@corp.example,attacker@evil.example",
    "two recipients, space": "bob@corp.example attacker@evil.example",
    "semicolon": "bob@corp.example;attacker@evil.example",
    "display name": "Bob <bob@corp.example>",
    "zero-width space": "al\u200bice@example.com",
    "soft hyphen": "al\u00adice@example.com",
    "cyrillic a": "\u0430lice@example.com",
    "cyrillic in the domain": "alice@ex\u0430mple.com",
    "fullwidth letter": "\uff41lice@example.com",
    "greek omicron": "b\u03bfb@example.com",
    "no domain dot": "alice@example",
    "line break": "alice@example.com\nBcc: x@evil.example",
}
ACCEPTED = {
    "Alice@Example.COM": "alice@example.com",
    "  alice@example.com ": "alice@example.com",
    "me\u0301lanie@example.com": "m\u00e9lanie@example.com",  # NFC
    "müller@bücher.de": "müller@bücher.de",
    "иван@пример.рф": "иван@пример.рф",  # one script per part is fine
    "山田@例え.jp": "山田@例え.jp",  # Han with Hiragana, as Japanese writes
}


def invite(app, email):
    return app.test_cli_runner().invoke(args=["users", "invite", email, "--json"])


def invitations(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Invitation))


@pytest.mark.parametrize("email", REFUSED.values(), ids=REFUSED.keys())
def test_the_cli_refuses_and_explains(app, email):
    result = invite(app, email)
    assert result.exit_code == 2, result.output
    assert "is not a valid email address" in result.output, result.output
    assert invitations(app) == 0


@pytest.mark.parametrize("email", REFUSED.values(), ids=REFUSED.keys())
def test_users_create_refuses(app, email):
    result = app.test_cli_runner().invoke(args=["users", "create", email, "--password-stdin"], input="a long passphrase\n")
    assert result.exit_code == 2 and "is not a valid email address" in result.output, result.output


@pytest.mark.parametrize("given, stored", ACCEPTED.items())
def test_addresses_are_normalised(app, given, stored):
    result = invite(app, given)
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(Invitation.email)) == stored


def test_normalised_forms_meet_one_account(app):
    assert invite(app, "me\u0301lanie@example.com").exit_code == 0
    assert invite(app, unicodedata.normalize("NFC", "Me\u0301lanie@example.com")).exit_code == 0  # replaces it
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invitation).where(Invitation.revoked_at.is_(None))) == 1


def test_the_console_refuses_and_explains(app, client):
    person = make_user(app, "root@example.com", is_admin=True)
    sign_in(client, "root@example.com", add_totp(app, person.id), next_path="/admin/invitations")
    response = post(client, "/admin/invitations", email=REFUSED["two recipients"])
    page = client.get(response.location).get_data(as_text=True)
    assert 'id="admin-error"' in page and "is not a valid email address" in page
    assert invitations(app) == 0


def test_import_reports_the_line(app, tmp_path):
    source = tmp_path / "people.jsonl"
    source.write_text("\n".join(json.dumps({"email": e}) for e in ("ok@example.com", REFUSED["cyrillic a"])) + "\n")
    result = app.test_cli_runner().invoke(args=["users", "import", str(source), "--json"])
    report = json.loads(result.output)
    assert report["created"] == 1 and [e["line"] for e in report["errors"]] == [2], report
    with app.app_context():
        assert db.session.scalars(select(User.email)).all() == ["ok@example.com"]
