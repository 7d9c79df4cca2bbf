"""Security headers on every response, and no caching of anything personal.

They are added to the raw WSGI header list by the outermost middleware, not in an
`after_request` hook: werkzeug's `Headers` validates every value it sets, and at 35 µs a
request that was a fifth of a discovery request's cost (issue 8)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, g

# No form-action: Chromium applies it to the redirects that follow a form submission, and
# the sign-in form's redirect chain ends at the client's redirect_uri.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_ALWAYS = (("X-Frame-Options", "DENY"), ("Referrer-Policy", "no-referrer"), ("X-Content-Type-Options", "nosniff"))
_REPLACED = frozenset(name.lower() for name, _ in _ALWAYS)


def allow_image(uri: str | None) -> None:
    """Let this page show one image from elsewhere (a client's registered logo)."""
    if uri:
        parts = urlsplit(uri)
        g.image_origin = f"{parts.scheme}://{parts.netloc}"


def secure(status: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The response's raw headers with the security headers added, as the server sends them."""
    names = {name.lower(): value for name, value in headers}
    # Pages are personal: never cached, and neither is anything else that does not say
    # it may be (an admin's audit export would otherwise be left to heuristic caching,
    # RFC 9111 §4.2.2). A 304 has no body, but it revalidates a public document
    # (discovery, JWKS, a static file) whose cache headers it must carry unchanged (RFC
    # 9111 §4.3.4).
    no_store = not status.startswith("304") and (
        names.get("content-type", "").startswith("text/html") or "cache-control" not in names
    )
    replaced = _REPLACED | {"cache-control"} if no_store else _REPLACED
    secured = [(name, value) for name, value in headers if name.lower() not in replaced]
    if no_store:
        secured.append(("Cache-Control", "no-store"))
    if "content-security-policy" not in names:
        secured.append(("Content-Security-Policy", CSP))
    secured.extend(_ALWAYS)
    return secured


def register(app: Flask) -> None:
    @app.after_request
    def image_origin(response: Response) -> Response:
        origin = g.get("image_origin")
        if origin:
            response.headers["Content-Security-Policy"] = CSP.replace("img-src 'self' data:", f"img-src 'self' data: {origin}")
        return response
