"""Review of issue 8's security headers (idp/web/headers.py `secure`): nothing personal is
cached. `no-store` was forced on text/html only, so a personal response of another type
that says nothing about caching (the admin console's audit export: every person's email
and sign-in events) could be kept in the browser's disk cache (RFC 9111 §4.2.2)."""

from __future__ import annotations

import pytest

from tests.integration.test_admin import admin, post, sign_in  # noqa: F401  (the fixture)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_audit_export_is_not_stored(app, client, admin, user, fmt):
    sign_in(client, "root@example.com", admin[1])
    answer = client.get(f"/admin/audit.{fmt}")
    assert answer.status_code == 200 and not answer.mimetype.startswith("text/html")
    assert answer.headers.get("Cache-Control") == "no-store"


def test_public_documents_and_static_files_keep_their_own_cache_headers(client):
    assert client.get("/jwks.json").headers["Cache-Control"] == "public, max-age=60"
    assert client.get("/jwks.json?x").headers["Cache-Control"] == "public, max-age=60"
    static = client.get("/static/" + sorted(__import__("os").listdir(client.application.static_folder))[0])
    assert static.status_code == 200 and static.headers["Cache-Control"] != "no-store"
    revalidated = client.get(static.request.path, headers={"If-None-Match": static.headers["ETag"]})
    assert revalidated.status_code == 304 and revalidated.headers["Cache-Control"] == static.headers["Cache-Control"]
