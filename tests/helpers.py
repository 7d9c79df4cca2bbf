"""Test helpers: make people and clients the way operators do, and drive the flows the way
a browser and a client do (the flaskr `AuthActions` habit)."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import pyotp
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from idp import clock
from idp.extensions import db
from idp.models import Client, User
from idp.security.tokens import random_token, token_hash
from tests.pkce import Pkce, query  # noqa: F401  (the tests take them from here too)

PASSWORD = "correct horse battery staple"


@dataclass
class TestClient:
    client_id: str
    secret: str | None
    redirect_uri: str
    public: bool
    logout_uri: str = "http://localhost:8080/bye"


@dataclass(frozen=True)
class TestUser:
    id: int
    subject: str
    email: str


def make_user(app, email: str, password: str = PASSWORD, **fields) -> TestUser:
    with app.app_context():
        user = User(
            subject=secrets.token_urlsafe(16),
            email=email.lower(),
            password_hash=app.extensions["idp.passwords"].hash(password),
            created_at=clock.now(),
            **fields,
        )
        db.session.add(user)
        db.session.commit()
        return TestUser(user.id, user.subject, user.email)


def update_user(app, user_id: int, **fields) -> None:
    with app.app_context():
        row = db.session.get(User, user_id)
        for name, value in fields.items():
            setattr(row, name, value)
        db.session.commit()


def make_client(app, *, public: bool, redirect_uri: str = "http://localhost:8080/cb", **fields) -> TestClient:
    secret = None if public else random_token(32)
    with app.app_context():
        row = Client(
            client_id=secrets.token_urlsafe(12),
            client_secret_hash=token_hash(secret) if secret else None,
            name=fields.pop("name", "test client"),
            redirect_uris=[redirect_uri],
            post_logout_redirect_uris=["http://localhost:8080/bye"],
            scope="openid profile email offline_access",
            is_public=public,
            created_at=clock.now(),
            **fields,
        )
        db.session.add(row)
        db.session.commit()
        return TestClient(row.client_id, secret, redirect_uri, public)


def claims(http, token: str, algorithms=("RS256", "ES256", "EdDSA")) -> dict:
    """Verify one of our JWTs the way a resource server does: with the JWKS alone."""
    keyset = KeySet.import_key_set(http.get("/jwks.json").get_json())
    return dict(jose_jwt.decode(token, keyset, algorithms=list(algorithms)).claims)


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token in the page"
    return match.group(1)


class Actions:
    def __init__(self, http):
        self.http = http

    def authorize(self, c: TestClient, pkce: Pkce | None = None, **params):
        pkce = pkce or Pkce()
        base = {
            "response_type": "code",
            "client_id": c.client_id,
            "redirect_uri": c.redirect_uri,
            "scope": "openid profile email",
            "state": "st-" + secrets.token_hex(4),
            "nonce": "n-" + secrets.token_hex(4),
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        }
        base.update(params)
        base = {k: v for k, v in base.items() if v is not None}
        return self.http.get("/authorize?" + urlencode(base))

    def login(self, login_location: str, email: str = "alice@example.com", password: str = PASSWORD):
        page = self.http.get(login_location)
        data = {"csrf_token": csrf_token(page.get_data(as_text=True)), "email": email, "password": password}
        data.update({k: v for k, v in query(login_location).items() if k in ("flow", "next")})
        return self.http.post("/login", data=data)

    def second_factor(self, mfa_location: str, **fields):
        """Submit the second-factor form (code=… or recovery_code=…)."""
        html = self.http.get(mfa_location).get_data(as_text=True)
        if 'name="csrf_token"' not in html:  # the page refused us: take a token elsewhere
            html = self.http.get("/login").get_data(as_text=True)
        data = {"csrf_token": csrf_token(html), **fields}
        data.update(query(mfa_location))
        return self.http.post("/login/mfa", data=data)

    def code(self, c: TestClient, pkce: Pkce | None = None, email="alice@example.com", password=PASSWORD,
             totp_secret: str | None = None, **params) -> str:
        """Authorization code for a fresh sign-in (or the existing session)."""
        response = self.authorize(c, pkce, **params)
        if response.location.startswith("/login?"):
            response = self.login(response.location, email, password)
            assert response.status_code == 303, response.get_data(as_text=True)
            if response.location.startswith("/login/mfa"):
                response = self.second_factor(response.location, code=pyotp.TOTP(totp_secret).at(clock.now()))
                assert response.status_code == 303, response.get_data(as_text=True)
            response = self.http.get(response.location)
        elif response.location.startswith("/login/mfa"):
            response = self.second_factor(response.location, code=pyotp.TOTP(totp_secret).at(clock.now()))
            assert response.status_code == 303, response.get_data(as_text=True)
            response = self.http.get(response.location)
        assert response.status_code == 302, response.get_data(as_text=True)
        q = query(response.location)
        assert "code" in q, q
        return q["code"]

    def token(self, c: TestClient, **data):
        headers = {}
        if c.public:
            data.setdefault("client_id", c.client_id)
        else:
            basic = base64.b64encode(f"{c.client_id}:{c.secret}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        return self.http.post("/token", data=data, headers=headers)

    def exchange(self, c: TestClient, code: str, pkce: Pkce, **extra):
        return self.token(
            c, grant_type="authorization_code", code=code, redirect_uri=c.redirect_uri,
            code_verifier=pkce.verifier, **extra,
        )

    def tokens(self, c: TestClient, **params) -> dict:
        """ID, access and refresh tokens: offline_access unless `scope` says otherwise."""
        params.setdefault("scope", "openid profile email offline_access")
        pkce = Pkce()
        code = self.code(c, pkce, **params)
        response = self.exchange(c, code, pkce)
        assert response.status_code == 200, response.get_json()
        return response.get_json()


def add_totp(app, user_id: int, label: str = "Phone") -> str:
    """Enrol an authenticator app directly; returns its base32 secret (pyotp plays the app)."""
    from idp.mfa import totp
    from idp.models import TotpFactor

    secret = totp.new_secret()
    with app.app_context():
        db.session.add(TotpFactor(
            user_id=user_id, label=label, secret_encrypted=totp.seal(app.extensions["idp.keyring"], secret, user_id=user_id),
            last_used_step=0, created_at=clock.now(),
        ))
        db.session.commit()
    return secret


def add_recovery_codes(app, user_id: int) -> list[str]:
    from idp.mfa import recovery

    with app.app_context():
        codes = recovery.generate(user_id)
        db.session.commit()
    return codes


def terminate_pooled_connections(pool, via, count: int = 3) -> None:  # noqa: ANN001
    """PostgreSQL: kill the server side of `count` connections of `pool` (an engine) while
    they sit idle in it, through a connection of `via` (another engine), as a database
    restart would."""
    from sqlalchemy import text

    held = [pool.raw_connection() for _ in range(count)]
    pids = []
    for connection in held:
        cursor = connection.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        pids.append(cursor.fetchone()[0])
        cursor.close()
    for connection in held:
        connection.close()
    with via.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) AS pid"), {"pids": pids})
        conn.commit()
