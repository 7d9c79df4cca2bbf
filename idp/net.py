"""Outbound HTTP to the services an operator configured (upstream OpenID providers, the
legacy password verifier): https only (plain http to a loopback host outside production),
a timeout, no redirect ever followed, and a bound on what is read back.

Errors carry the URL's host and what went wrong, never a request body: what we send may
be a password or a client secret.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

LOOPBACK = ("localhost", "127.0.0.1", "::1")
MAX_BYTES = 1024 * 1024


class NetError(Exception):
    """The service could not be reached, timed out, or answered something unreadable."""


def check_url(url: str, *, allow_loopback_http: bool) -> str:
    """The URL, if we may send secrets to it; ValueError with the reason otherwise."""
    parts = urlsplit(url)
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise ValueError(f"{url!r} is not an absolute URL without credentials or fragment")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and allow_loopback_http and parts.hostname in LOOPBACK:
        return url
    raise ValueError(f"{url!r} must use https" + (" (plain http only to localhost outside production)" if allow_loopback_http else ""))


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise NetError("the answer is not JSON") from exc


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        return None  # a 3xx is the answer: nothing we send goes anywhere else


_OPENER = urllib.request.build_opener(_NoRedirects())


@dataclass(frozen=True)
class Http:
    timeout: float
    allow_loopback_http: bool

    def request(self, method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None) -> Answer:
        try:
            check_url(url, allow_loopback_http=self.allow_loopback_http)
        except ValueError as exc:
            raise NetError(str(exc)) from None
        host = urlsplit(url).hostname
        request = urllib.request.Request(url, data=body, method=method, headers={"Accept": "application/json", **(headers or {})})
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                return Answer(response.status, _read(response, host))
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, _read(error, host))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NetError(f"{host}: {type(reason).__name__}: {reason}"[:300]) from None

    def get_json(self, url: str, headers: dict[str, str] | None = None) -> Any:
        answer = self.request("GET", url, headers=headers)
        if answer.status != 200:
            raise NetError(f"{urlsplit(url).hostname} answered {answer.status}")
        return answer.json()


def _read(response, host: str | None) -> bytes:  # noqa: ANN001
    body = response.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise NetError(f"{host}: the answer is larger than {MAX_BYTES} bytes")
    return body
