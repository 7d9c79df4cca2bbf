"""What both servers need before they are measured: clients, people, signed-in browsers and
refresh-token chains, made the same way on each side (through their HTTP interfaces, except
our `idp` command for clients and people)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from argon2 import PasswordHasher
from joserfc.jwk import ECKey, RSAKey

from .servers import Ours

PASSWORD = "correct horse battery staple 42"
#: The callback of both clients; never contacted (the harness reads the redirect).
CONFIDENTIAL_REDIRECT = "http://127.0.0.1:9/callback"
SPA_REDIRECT = "http://127.0.0.1:9/spa/callback"
#: The peer's resource indicators (RFC 8707) and the algorithm of their JWT access tokens.
RS256_RESOURCE = "https://rs256.bench.test"
ES256_RESOURCE = "https://es256.bench.test"
SCOPE = "openid email profile offline_access"  # refresh tokens only with offline_access (ours)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


class FormFinder(HTMLParser):
    """The first POST form with a password field: its action and hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.hidden: dict[str, str] = {}
        self.has_password = False
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if self._done:
            return
        if tag == "form" and a.get("method", "").lower() == "post":
            self._in_form, self.action, self.hidden, self.has_password = True, a.get("action", ""), {}, False
        elif tag == "input" and self._in_form:
            if a.get("type") == "hidden" and "name" in a:
                self.hidden[a["name"]] = a.get("value", "")
            elif a.get("name") == "password":
                self.has_password = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = self.has_password


@dataclass
class Browser:
    """A cookie jar over one keep-alive connection: enough of a browser for a sign-in."""

    base: str
    cookies: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    #: Servers close idle keep-alive connections (the peer after 60 s, gunicorn after 30 s);
    #: a browser idle for longer than this opens a new one rather than find out mid-request.
    IDLE_RECONNECT_SECONDS = 2.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.base)
        self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self._last_used = time.monotonic()

    def request(self, method: str, url: str, *, form: dict | None = None, headers: dict | None = None):  # noqa: ANN201
        if time.monotonic() - self._last_used > self.IDLE_RECONNECT_SECONDS:
            self._conn.close()  # http.client connects again on the next request
        path = url[len(self.base):] if url.startswith(self.base) else url
        h = dict(self.headers, **(headers or {}))
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = urlencode(form) if form is not None else None
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        self._conn.request(method, path, body=body, headers=h)
        response = self._conn.getresponse()
        data = response.read()
        self._last_used = time.monotonic()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value == "" or "max-age=0" in header.lower() or "1970" in header:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        return response.status, response.headers, data

    def close(self) -> None:
        self._conn.close()


class FlowError(RuntimeError):
    pass


def authorize_url(base: str, client_id: str, redirect_uri: str, challenge: str, resource: str | None = None) -> str:
    query = {
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        # The peer's resource server has one scope of its own, `api`.
        "scope": SCOPE + " api" if resource else SCOPE,
        "code_challenge": challenge, "code_challenge_method": "S256", "nonce": "n-bench",
    }
    if resource:
        query["resource"] = resource
    return f"{base}/authorize?{urlencode(query)}"


def code_flow(browser: Browser, start: str, redirect_uri: str, *, email: str | None = None) -> str:
    """Follows an authorization request to its code, signing in with the password when a
    sign-in page comes; returns the code."""
    url, method, form = start, "GET", None
    for _ in range(12):
        status, headers, body = browser.request(method, url, form=form)
        location = headers.get("Location")
        if 300 <= status < 400 and location:
            target = urljoin(url, location)
            if target.startswith(redirect_uri):
                query = parse_qs(urlsplit(target).query)
                if "code" not in query:
                    raise FlowError(f"no code in the redirect: {target}")
                return query["code"][0]
            url, method, form = target, "GET", None
            continue
        finder = FormFinder()
        finder.feed(body.decode(errors="replace"))
        if status == 200 and finder.has_password and email:
            url, method = urljoin(url, finder.action or url), "POST"
            form = dict(finder.hidden, email=email, password=PASSWORD)
            continue
        raise FlowError(f"{method} {url} answered {status}: {body[:300]!r}")
    raise FlowError("the flow did not end in 12 steps")


def exchange(browser: Browser, base: str, code: str, client_id: str, redirect_uri: str, verifier: str) -> dict:
    status, _, body = browser.request("POST", f"{base}/token", form={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "client_id": client_id, "code_verifier": verifier,
    })
    if status != 200:
        raise FlowError(f"token exchange answered {status}: {body[:300]!r}")
    return json.loads(body)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


# --- one side's fixtures --------------------------------------------------------------

@dataclass
class Side:
    """What the cells of one server need, whichever server it is."""

    name: str  # "ours" | "peer"
    base: str
    confidential_id: str
    confidential_secret: str
    spa_id: str
    emails: list[str]
    verifier: str = ""
    challenge: str = ""
    #: Cookies of a browser signed in as emails[0] (the signed-in flow cells).
    session_cookie: str = ""
    #: Per person, the cookies a browser keeps after signing in (ours: the device cookie).
    return_cookies: dict[str, str] = field(default_factory=dict)
    #: An access token of a signed-in person, for userinfo and introspection.
    user_access_token: str = ""
    #: The peer's code flows ask for a resource, so that their access tokens are JWTs.
    resource: str | None = None
    #: Cookies to derive from redirects in the wrk flow script (the peer's interaction id).
    interaction_cookies: bool = False
    #: Cookies that carry the signed-in state; only these form `session_cookie`.
    session_cookie_names: tuple[str, ...] = ()

    @property
    def auth(self) -> str:
        return basic(self.confidential_id, self.confidential_secret)

    def sign_in(self, email: str, *, resource: str | None = None) -> tuple[Browser, dict]:
        """A new browser signs in with the password and redeems the code (SPA client)."""
        browser = Browser(self.base, headers={"X-Forwarded-For": "203.0.113.7"})
        start = authorize_url(self.base, self.spa_id, SPA_REDIRECT, self.challenge, resource)
        code = code_flow(browser, start, SPA_REDIRECT, email=email)
        return browser, exchange(browser, self.base, code, self.spa_id, SPA_REDIRECT, self.verifier)

    def refresh_chains(self, n: int, browser: Browser) -> list[str]:
        """`n` refresh tokens, each of its own grant, from a signed-in browser's code flows."""
        tokens = []
        start = authorize_url(self.base, self.spa_id, SPA_REDIRECT, self.challenge, self.resource)
        for _ in range(n):
            code = code_flow(browser, start, SPA_REDIRECT)
            tokens.append(exchange(browser, self.base, code, self.spa_id, SPA_REDIRECT, self.verifier)["refresh_token"])
        return tokens

    def prepare_browsers(self) -> Browser:
        """Every person signs in once (their browser keeps its cookies for the password flows);
        the first one's browser stays signed in for the signed-in flows."""
        self.verifier, self.challenge = pkce_pair()
        first = None
        for email in self.emails:
            browser, tokens = self.sign_in(email, resource=self.resource)
            kept = {k: v for k, v in browser.cookies.items() if k not in self.session_cookie_names
                    and not k.startswith("_interaction")}
            self.return_cookies[email] = "; ".join(f"{k}={v}" for k, v in kept.items())
            if first is None:
                first = browser
            else:
                browser.close()
        assert first is not None
        self.session_cookie = "; ".join(f"{k}={v}" for k, v in first.cookies.items()
                                        if k in self.session_cookie_names)
        # The access token for userinfo and introspection; on the peer, one without a
        # resource, which is the only kind its userinfo and introspection accept.
        code = code_flow(first, authorize_url(self.base, self.spa_id, SPA_REDIRECT, self.challenge), SPA_REDIRECT)
        self.user_access_token = exchange(first, self.base, code, self.spa_id, SPA_REDIRECT, self.verifier)["access_token"]
        return first


def people(n: int) -> list[str]:
    return [f"person{i:03d}@bench.example.com" for i in range(n)]


def prepare_ours(ours: Ours, n_people: int) -> dict:
    """Clients and people through our command line (the database is already migrated)."""
    confidential = json.loads(ours.cli("clients", "create", "--name", "bench-confidential",
                                       "--redirect-uri", CONFIDENTIAL_REDIRECT, "--json"))
    spa = json.loads(ours.cli("clients", "create", "--name", "bench-spa", "--public",
                              "--redirect-uri", SPA_REDIRECT, "--json"))
    emails = people(n_people)

    def create(email: str) -> None:
        ours.cli("users", "create", email, "--name", email.split("@")[0], "--password-stdin", "--json",
                 stdin=PASSWORD + "\n")

    # Two at a time: each command is a Python start-up (about a second of one core).
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(create, emails))
    return {"confidential": confidential, "spa": spa, "emails": emails}


def peer_fixtures(path: Path, port: int, redis_url: str | None, workers: int, emails: list[str],
                  argon2_params: dict, ttl: dict) -> dict:
    """The peer's fixtures file: keys, clients, people (argon2id hashes at our parameters)."""
    hasher = PasswordHasher(time_cost=argon2_params["time_cost"], memory_cost=argon2_params["memory_cost"],
                            parallelism=argon2_params["parallelism"])
    digest = hasher.hash(PASSWORD)  # one hash for everyone: verifying costs the same
    rsa = RSAKey.generate_key(2048, private=True).as_dict(private=True, kid="rs-1", alg="RS256", use="sig")
    ec = ECKey.generate_key("P-256", private=True).as_dict(private=True, kid="es-1", alg="ES256", use="sig")
    secret = secrets.token_urlsafe(32)
    data = {
        "port": port,
        "issuer": f"http://127.0.0.1:{port}",
        "workers": workers,
        "redis_url": redis_url,
        "jwks": [rsa, ec],  # RS256 first: the default for ID tokens, as ours
        "resources": {RS256_RESOURCE: "RS256", ES256_RESOURCE: "ES256"},
        "ttl": ttl,
        "clients": [
            {
                "client_id": "bench-confidential", "client_secret": secret,
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
                "response_types": ["code"], "redirect_uris": [CONFIDENTIAL_REDIRECT],
            },
            {
                "client_id": "bench-spa", "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"], "redirect_uris": [SPA_REDIRECT],
            },
        ],
        "accounts": [
            {"id": f"sub-{i:03d}", "email": email, "name": email.split("@")[0], "password_hash": digest}
            for i, email in enumerate(emails)
        ],
    }
    path.write_text(json.dumps(data))
    return data

