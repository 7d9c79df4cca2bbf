"""The whole code flow over HTTP: authorize, sign in, code, tokens, userinfo, refresh."""

from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from tests.helpers import Pkce, query


def _verify(client, token: str) -> tuple[dict, dict]:
    keyset = KeySet.import_key_set(client.get("/jwks.json").get_json())
    decoded = jose_jwt.decode(token, keyset, algorithms=["RS256"])
    return decoded.header, decoded.claims


def test_public_client_code_flow(client, actions, user, spa):
    pkce = Pkce()
    first = actions.authorize(spa, pkce, state="s1", nonce="n1", scope="openid profile email offline_access")
    assert first.status_code == 302 and first.location.startswith("/login?flow=")
    login = actions.login(first.location)
    assert login.status_code == 303
    back = client.get(login.location)
    assert back.status_code == 302
    q = query(back.location)
    assert back.location.startswith(spa.redirect_uri + "?")
    assert q["state"] == "s1" and q["iss"] == "http://localhost"
    tokens = actions.exchange(spa, q["code"], pkce)
    assert tokens.status_code == 200, tokens.get_json()
    assert tokens.headers["Cache-Control"] == "no-store"
    body = tokens.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300

    header, idt = _verify(client, body["id_token"])
    assert header["kid"] and header["alg"] == "RS256"
    assert idt["iss"] == "http://localhost" and idt["aud"] == spa.client_id
    assert idt["sub"] == user.subject and idt["nonce"] == "n1"
    assert idt["acr"] == "pwd" and idt["amr"] == ["pwd"] and idt["sid"]
    assert idt["at_hash"] and idt["auth_time"] <= idt["iat"]

    header, at = _verify(client, body["access_token"])
    assert header["typ"] == "at+jwt"
    for claim in ("iss", "sub", "aud", "client_id", "scope", "jti", "exp", "iat", "auth_time", "acr", "amr"):
        assert claim in at, claim
    assert at["exp"] - at["iat"] == 300

    info = client.get("/userinfo", headers={"Authorization": "Bearer " + body["access_token"]})
    assert info.status_code == 200
    assert info.get_json() == {"sub": user.subject, "name": user.email, "email": user.email, "email_verified": True}

    refreshed = actions.token(spa, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_json()
    r = refreshed.get_json()
    assert r["refresh_token"] != body["refresh_token"]
    _, idt2 = _verify(client, r["id_token"])
    assert (idt2["sub"], idt2["auth_time"], idt2["aud"], idt2["acr"]) == (idt["sub"], idt["auth_time"], idt["aud"], idt["acr"])


def test_confidential_client_basic_and_post(client, actions, user, webapp):
    tokens = actions.tokens(webapp)
    assert "id_token" in tokens
    pkce = Pkce()
    code = actions.code(webapp, pkce)
    post = client.post("/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": webapp.redirect_uri,
        "code_verifier": pkce.verifier, "client_id": webapp.client_id, "client_secret": webapp.secret,
    })
    assert post.status_code == 200, post.get_json()
