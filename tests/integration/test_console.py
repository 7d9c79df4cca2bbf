"""A console an admin can work in: human times and emails, pages, search, confirmation of
destructive actions, failed sign-ins under the person, audit export, clients edited."""

import csv
import io
import json
import re

from sqlalchemy import text

from idp import clock
from idp.extensions import db
from tests.helpers import add_totp, csrf_token, make_client, make_user
from tests.integration.test_admin import admin, post, sign_in  # noqa: F401  (the fixture)


def test_people_are_paged_and_searched(app, client, admin):
    for n in range(55):
        make_user(app, f"person{n:02d}@example.com")
    sign_in(client, "root@example.com", admin[1])
    first = client.get("/admin").get_data(as_text=True)
    assert first.count('<tr id="user-') == 50 and 'id="users-next"' in first and 'id="users-previous"' not in first
    second = client.get("/admin?page=2").get_data(as_text=True)
    assert second.count('<tr id="user-') == 6 and 'id="users-previous"' in second and 'id="users-next"' not in second
    found = client.get("/admin?q=person07").get_data(as_text=True)
    assert found.count('<tr id="user-') == 1 and 'id="users-pager"' not in found
    assert client.get("/admin?page=-3").status_code == 200 and client.get("/admin?page=abc").status_code == 200


def test_no_unix_timestamps_or_numeric_ids_are_shown(app, client, admin, user):
    sign_in(client, "root@example.com", admin[1])
    post(client, f"/admin/users/{user.id}/disable", confirm="yes")
    for path in ("/admin", f"/admin/users/{user.id}", "/admin/audit", "/admin/keys", "/admin/invitations"):
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r">\s*1[0-9]{9}\s*<", html), path  # no bare Unix time in a cell
    audit = client.get("/admin/audit").get_data(as_text=True)
    assert "alice@example.com" in audit and "root@example.com" in audit and "UTC" in audit


def test_destructive_actions_ask_first(app, client, admin, user, webapp):
    sign_in(client, "root@example.com", admin[1])
    for path in (f"/admin/users/{user.id}/disable", f"/admin/users/{user.id}/reset-mfa",
                 f"/admin/clients/{webapp.client_id}/delete", f"/admin/clients/{webapp.client_id}/rotate-secret"):
        asked = post(client, path)
        html = asked.get_data(as_text=True)
        assert asked.status_code == 200 and 'id="confirm-yes"' in html and 'id="confirm-cancel"' in html, path
    with app.app_context():
        assert db.session.execute(text("SELECT disabled FROM users WHERE email = 'alice@example.com'")).scalar() in (False, 0)
        assert db.session.execute(text("SELECT count(*) FROM clients")).scalar() == 1
    # The question page's own form does it.
    html = post(client, f"/admin/users/{user.id}/disable").get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)" id="confirm-form"', html).group(1)
    assert client.post(action, data={"csrf_token": csrf_token(html), "confirm": "yes"}).status_code == 303
    with app.app_context():
        assert db.session.execute(text("SELECT disabled FROM users WHERE email = 'alice@example.com'")).scalar() in (True, 1)


def test_failed_sign_ins_appear_under_the_person(app, client, admin, user):
    other = app.test_client()
    page = other.get("/login").get_data(as_text=True)
    other.post("/login", data={"csrf_token": csrf_token(page), "email": "alice@example.com", "password": "wrong"})
    sign_in(client, "root@example.com", admin[1])
    html = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "login.failed (pwd)" in html
    assert "login.failed" in client.get("/admin/audit?email=alice@example.com").get_data(as_text=True)


def test_audit_log_exports_as_csv_and_json_lines(app, client, admin, user):
    sign_in(client, "root@example.com", admin[1])
    post(client, f"/admin/users/{user.id}/disable", confirm="yes")
    lines = client.get("/admin/audit.jsonl?email=alice@example.com").get_data(as_text=True).splitlines()
    records = [json.loads(line) for line in lines]
    assert records and all(r["user"] == "alice@example.com" for r in records)
    assert records[0]["event"] == "user.disabled" and records[0]["actor"] == "root@example.com"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", records[0]["at"])
    answer = client.get("/admin/audit.csv")
    assert answer.mimetype == "text/csv" and "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert {"user.disabled", "login.second_factor_ok"} <= {r["event"] for r in rows}
    assert client.get("/admin/audit.xml").status_code == 404
    assert app.test_client().get("/admin/audit.csv").status_code == 302  # admins only


def test_csv_cells_never_start_a_formula(app, client, admin):
    other = app.test_client()
    page = other.get("/login").get_data(as_text=True)
    other.post("/login", data={"csrf_token": csrf_token(page), "email": "=cmd|'/c calc'!A1", "password": "x"})
    sign_in(client, "root@example.com", admin[1])
    body = client.get("/admin/audit.csv").get_data(as_text=True)
    assert ",=cmd" not in body and '"=cmd' not in body


def test_a_client_is_edited_in_the_console(app, client, admin, webapp):
    sign_in(client, "root@example.com", admin[1])
    answer = post(client, f"/admin/clients/{webapp.client_id}", name="Album", redirect_uris="https://album.example/cb",
                  post_logout_redirect_uris="", scope="openid email", min_acr="mfa", refresh_grace_seconds="10",
                  client_uri="https://album.example/", logo_uri="")
    assert answer.status_code == 303
    assert 'id="admin-message"' in client.get(answer.location).get_data(as_text=True)
    with app.app_context():
        row = db.session.execute(text("SELECT name, scope, min_acr, refresh_grace_seconds, client_uri FROM clients")).one()
    assert tuple(row) == ("Album", "openid email", "mfa", 10, "https://album.example/")
    bad = post(client, f"/admin/clients/{webapp.client_id}", name="Album", redirect_uris="https://album.example/cb",
               scope="openid", logo_uri="javascript:alert(1)")
    assert 'id="admin-error"' in client.get(bad.location).get_data(as_text=True)


def test_idp_clients_commands(app):
    runner = app.test_cli_runner()
    created = json.loads(runner.invoke(args=["clients", "create", "--name", "CLI app", "--redirect-uri",
                                             "https://cli.example/cb", "--json"]).output)
    cid = created["client_id"]
    listed = json.loads(runner.invoke(args=["clients", "list", "--json"]).output)
    assert [c["client_id"] for c in listed["clients"]] == [cid] and "client_secret" not in listed["clients"][0]
    shown = json.loads(runner.invoke(args=["clients", "show", cid, "--json"]).output)
    assert shown["name"] == "CLI app" and shown["redirect_uris"] == ["https://cli.example/cb"]
    updated = json.loads(runner.invoke(args=["clients", "update", cid, "--name", "Renamed", "--min-acr", "mfa",
                                             "--redirect-uri", "https://cli.example/new", "--json"]).output)
    assert updated["name"] == "Renamed" and updated["min_acr"] == "mfa" and set(updated["changed"]) == {"name", "min_acr", "redirect_uris"}
    assert json.loads(runner.invoke(args=["clients", "update", cid, "--min-acr", "none", "--json"]).output)["min_acr"] is None
    rotated = json.loads(runner.invoke(args=["clients", "rotate-secret", cid, "--json"]).output)
    assert rotated["client_secret"] != created["client_secret"]
    bad = runner.invoke(args=["clients", "update", cid, "--redirect-uri", "http://evil.example/cb", "--json"])
    assert bad.exit_code == 2
    assert json.loads(runner.invoke(args=["clients", "delete", cid, "--json"]).output) == {"client_id": cid, "deleted": True}
    assert runner.invoke(args=["clients", "show", cid, "--json"]).exit_code == 2
