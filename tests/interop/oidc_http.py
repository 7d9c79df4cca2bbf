"""A relying party and a browser over real HTTP, with the standard library only (urllib,
http.cookiejar, html.parser): enough to drive the hosted sign-in of a live provider and use
its token, userinfo, revocation and introspection endpoints the way any client would.

Nothing here imports the provider: it talks to it as a stranger does.
"""

from __future__ import annotations

import base64
import http.cookiejar
import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote_plus, urlencode, urljoin, urlsplit

from tests.pkce import Pkce, query

REDIRECT_STATUSES = (301, 302, 303, 307, 308)


@dataclass
class HttpResponse:
    url: str
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def location(self) -> str | None:
        loc = self.headers.get("location")
        return urljoin(self.url, loc) if loc else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):  # noqa: ANN201
        return json.loads(self.body)


class _PassThrough(urllib.request.HTTPErrorProcessor):
    """Hand every response back as it is: no redirect following, no exception on 4xx/5xx."""

    def http_response(self, request, response):  # noqa: ANN001, ANN201
        return response

    https_response = http_response


def _opener(jar: http.cookiejar.CookieJar | None):  # noqa: ANN202
    handlers: list = [_PassThrough()]
    if jar is not None:
        handlers.insert(0, urllib.request.HTTPCookieProcessor(jar))
    return urllib.request.build_opener(*handlers)


def request(
    url: str,
    *,
    method: str = "GET",
    form: dict | None = None,
    headers: dict | None = None,
    opener=None,  # noqa: ANN001
    timeout: float = 15,
) -> HttpResponse:
    data = urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with (opener or _opener(None)).open(req, timeout=timeout) as r:
            return HttpResponse(r.geturl(), r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
    except urllib.error.HTTPError as e:  # not raised with _PassThrough, but be safe
        return HttpResponse(url, e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def get_json(url: str) -> dict:
    response = request(url, headers={"Accept": "application/json"})
    assert response.status == 200, (url, response.status, response.text[:300])
    return response.json()


# --- HTML forms --------------------------------------------------------------------------

@dataclass
class Form:
    action: str | None
    method: str
    inputs: list[dict[str, str]] = field(default_factory=list)

    def names(self) -> set[str]:
        return {i.get("name") for i in self.inputs if i.get("name")}

    def hidden(self) -> dict[str, str]:
        return {
            i["name"]: i.get("value", "")
            for i in self.inputs
            if i.get("name") and i.get("type", "").lower() == "hidden"
        }


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._current = Form(a.get("action"), (a.get("method") or "get").upper())
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None:
            self._current.inputs.append(a)

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag == "form":
            self._current = None


def find_form(html: str, field_name: str) -> Form | None:
    """The first form with an input named `field_name`."""
    parser = _FormParser()
    parser.feed(html)
    return next((f for f in parser.forms if field_name in f.names()), None)


# --- PKCE and the front channel --------------------------------------------------------

__all__ = ["Browser", "Pkce", "RelyingParty", "find_form", "get_json", "query", "request"]


def _same_endpoint(url: str, target: str) -> bool:
    a, b = urlsplit(url), urlsplit(target)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


class Browser:
    """Cookies and manual redirects: what a user agent does between the client and the
    provider's hosted pages."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = _opener(self.jar)
        self.login_pages_seen = 0

    def get(self, url: str) -> HttpResponse:
        return request(url, headers={"Accept": "text/html"}, opener=self.opener)

    def post(self, url: str, form: dict) -> HttpResponse:
        return request(url, method="POST", form=form, headers={"Accept": "text/html"}, opener=self.opener)

    def navigate(self, start: str, target: str, email: str | None = None, password: str | None = None) -> str:
        """Follow redirects from `start` until one leads to `target` (the client's redirect
        URI), submitting the hosted login form with `email` and `password` when it is shown.
        Returns the URL the provider sent the browser to."""
        url, method, form = start, "GET", None
        for _ in range(12):
            response = self.post(url, form) if method == "POST" else self.get(url)
            method, form = "GET", None
            if response.status in REDIRECT_STATUSES:
                assert response.location, f"{response.status} without Location from {url}"
                if _same_endpoint(response.location, target):
                    return response.location
                url = response.location
                continue
            assert response.status == 200, (url, response.status, response.text[:500])
            login = find_form(response.text, "password")
            assert login is not None and email is not None, (
                f"{url} is neither a redirect nor a login form: {response.text[:500]}"
            )
            self.login_pages_seen += 1
            fields = login.hidden()
            assert fields.get("csrf_token"), "the login form has no csrf_token"
            url = urljoin(url, login.action or "")
            method = login.method
            form = {**fields, "email": email, "password": password}
        raise AssertionError(f"too many redirects from {start}")


# --- the client -------------------------------------------------------------------------

@dataclass
class RelyingParty:
    issuer: str
    client_id: str
    redirect_uri: str
    client_secret: str | None = None
    auth_method: str = "client_secret_basic"  # for a confidential client; or client_secret_post
    scope: str = "openid profile email offline_access"
    _metadata: dict | None = None

    @property
    def metadata(self) -> dict:
        if self._metadata is None:
            self._metadata = get_json(self.issuer + "/.well-known/openid-configuration")
            assert self._metadata["issuer"] == self.issuer, self._metadata["issuer"]
        return self._metadata

    def authorization_url(self, pkce: Pkce, state: str, nonce: str, **extra: str) -> str:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
            **extra,
        }
        return self.metadata["authorization_endpoint"] + "?" + urlencode(params)

    def _authenticated(self, data: dict) -> tuple[dict, dict]:
        headers = {"Accept": "application/json"}
        data = dict(data)
        if self.client_secret is None:
            data["client_id"] = self.client_id
        elif self.auth_method == "client_secret_post":
            data.update(client_id=self.client_id, client_secret=self.client_secret)
        else:
            # RFC 6749 §2.3.1: form-urlencode both parts before Base64.
            pair = f"{quote_plus(self.client_id)}:{quote_plus(self.client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        return data, headers

    def post(self, endpoint: str, data: dict) -> HttpResponse:
        data, headers = self._authenticated(data)
        return request(self.metadata[endpoint], method="POST", form=data, headers=headers)

    def sign_in(self, browser: Browser, email: str, password: str, **extra: str) -> dict:
        """The code flow up to the token response; returns that JSON body (status 200 asserted)."""
        pkce, state, nonce = Pkce(), secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        callback = browser.navigate(self.authorization_url(pkce, state, nonce, **extra), self.redirect_uri, email, password)
        params = query(callback)
        assert params.get("state") == state, params
        assert params.get("iss") == self.issuer, params  # RFC 9207
        assert "code" in params, params
        response = self.post("token_endpoint", {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": self.redirect_uri,
            "code_verifier": pkce.verifier,
        })
        assert response.status == 200, (response.status, response.text)
        body = response.json()
        body["_nonce"] = nonce
        return body

    def refresh(self, refresh_token: str) -> HttpResponse:
        return self.post("token_endpoint", {"grant_type": "refresh_token", "refresh_token": refresh_token})

    def userinfo(self, access_token: str) -> HttpResponse:
        return request(
            self.metadata["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
