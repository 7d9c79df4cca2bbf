"""Discovery and the JWKS are answered before Flask (idp/web/constant_documents.py): the
same bytes and headers as the Flask views that answer whatever that layer passes on."""

from __future__ import annotations

import pytest

PATHS = ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/jwks.json"]
SENT = ("Content-Type", "Cache-Control", "ETag", "Access-Control-Allow-Origin", "Content-Security-Policy",
        "X-Frame-Options", "Referrer-Policy", "X-Content-Type-Options")


@pytest.mark.parametrize("path", PATHS)
def test_the_fast_answer_is_the_flask_answer(client, path):
    fast = client.get(path)
    # A query string is not the exact document request: Flask's view answers it.
    slow = client.get(path + "?via=flask")
    assert fast.status_code == slow.status_code == 200
    assert fast.data == slow.data
    assert {h: fast.headers.get(h) for h in SENT} == {h: slow.headers.get(h) for h in SENT}
    assert fast.headers["X-Request-ID"] and fast.headers["X-Request-ID"] != slow.headers["X-Request-ID"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("query", ["", "?via=flask"])
def test_revalidation_uses_the_weak_comparison(client, path, query):
    etag = client.get(path).headers["ETag"]
    for given in (etag, "W/" + etag, f'"other", {etag}', "*"):
        answer = client.get(path + query, headers={"If-None-Match": given})
        assert answer.status_code == 304, given
        assert answer.data == b""
        assert answer.headers["ETag"] == etag
        assert answer.headers["Cache-Control"].startswith("public, max-age=")
    assert client.get(path + query, headers={"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize("path", PATHS)
def test_head_has_the_length_and_no_body(client, path):
    full = client.get(path)
    head = client.head(path)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(len(full.data))


@pytest.mark.parametrize("path", PATHS)
def test_other_methods_reach_flask(client, path):
    assert client.post(path).status_code == 405


def test_a_rotation_is_published_at_once(app, client):
    from idp.extensions import db
    from idp.keys.rotation import rotate_now

    before = client.get("/jwks.json").get_json()["keys"]
    with app.app_context():
        rotate_now(app.config["IDP_SIGNING_ALG"], app.extensions["idp.keyring"], app.config["IDP_KEY_RETIRED_GRACE"])
        db.session.commit()  # the commit bumps the keys' version (idp.changes)
    after = client.get("/jwks.json").get_json()["keys"]
    assert {k["kid"] for k in after} != {k["kid"] for k in before}


def test_a_database_failure_is_flasks_to_answer(app, client, monkeypatch):
    # The key cache cannot load: the fast layer steps aside, and Flask's error handling
    # answers as it does for any request that finds the database gone.
    from sqlalchemy.exc import OperationalError

    def unreachable(self):
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(type(app.extensions["idp.keys"]), "snapshot", unreachable)
    answer = client.get("/jwks.json")
    assert answer.status_code == 503
    assert "Retry-After" in answer.headers
    assert answer.headers["X-Frame-Options"] == "DENY"
