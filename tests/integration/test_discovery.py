"""Discovery and JWKS: accurate, cacheable, public material only."""

from tests.helpers import claims


def test_discovery_document(client):
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        response = client.get(path)
        doc = response.get_json()
        assert doc["issuer"] == "http://localhost"
        assert doc["response_types_supported"] == ["code"]
        assert doc["code_challenge_methods_supported"] == ["S256"]
        assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
        assert "none" not in doc["id_token_signing_alg_values_supported"]
        assert doc["acr_values_supported"] == ["pwd", "mfa", "phr"]
        assert doc["request_parameter_supported"] is False and doc["request_uri_parameter_supported"] is False
        assert doc["authorization_response_iss_parameter_supported"] is True
        assert {"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                "revocation_endpoint", "introspection_endpoint", "end_session_endpoint"} <= doc.keys()
        assert response.headers["ETag"] and "max-age" in response.headers["Cache-Control"]


def test_every_advertised_endpoint_exists(client):
    doc = client.get("/.well-known/openid-configuration").get_json()
    for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                "revocation_endpoint", "introspection_endpoint", "end_session_endpoint"):
        path = doc[key].removeprefix("http://localhost")
        assert client.get(path).status_code != 404, key


def test_etag_revalidation(client):
    first = client.get("/jwks.json")
    again = client.get("/jwks.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    # A revalidation keeps the document cacheable (it was told no-store once).
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"] == "public, max-age=60"
    assert again.headers["ETag"] == first.headers["ETag"]
    doc = client.get("/.well-known/openid-configuration")
    assert client.get("/.well-known/openid-configuration", headers={"If-None-Match": doc.headers["ETag"]}).status_code == 304


def test_jwks_has_only_public_keys_with_distinct_kids(client):
    keys = client.get("/jwks.json").get_json()["keys"]
    assert len(keys) >= 2  # the active key and the next one
    assert len({k["kid"] for k in keys}) == len(keys)
    for key in keys:
        assert key["kty"] != "oct"
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & key.keys()
        assert key["use"] == "sig" and key["alg"]


def test_unknown_path_is_a_clean_404(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404 and "<h1>" in response.get_data(as_text=True)
    assert client.get("/token/nothing").status_code == 404


def test_tokens_verify_with_the_jwks_alone(client, actions, user, spa):
    body = actions.tokens(spa)
    assert claims(client, body["id_token"])["aud"] == spa.client_id
    assert claims(client, body["access_token"])["client_id"] == spa.client_id
