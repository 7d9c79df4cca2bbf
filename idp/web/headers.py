"""Security headers on every response, and no caching of anything personal."""

from urllib.parse import urlsplit

from flask import Flask, Response, g

# No form-action: Chromium applies it to the redirects that follow a form submission, and
# the sign-in form's redirect chain ends at the client's redirect_uri.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def allow_image(uri: str | None) -> None:
    """Let this page show one image from elsewhere (a client's registered logo)."""
    if uri:
        parts = urlsplit(uri)
        g.image_origin = f"{parts.scheme}://{parts.netloc}"


def register(app: Flask) -> None:
    @app.after_request
    def secure_headers(response: Response) -> Response:
        origin = g.get("image_origin")
        csp = CSP.replace("img-src 'self' data:", f"img-src 'self' data: {origin}") if origin else CSP
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Pages are personal: never cached. A 304 has no body, hence Flask's default
        # text/html, but it revalidates a public document (discovery, JWKS) whose cache
        # headers it must carry unchanged (RFC 9111 §4.3.4).
        if response.mimetype == "text/html" and response.status_code != 304:
            response.headers["Cache-Control"] = "no-store"
        return response
