"""Security headers on every response, and no caching of anything personal."""

from flask import Flask, Response

# No form-action: Chromium applies it to the redirects that follow a form submission, and
# the sign-in form's redirect chain ends at the client's redirect_uri.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def register(app: Flask) -> None:
    @app.after_request
    def secure_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Pages are personal: never cached. A 304 has no body, hence Flask's default
        # text/html, but it revalidates a public document (discovery, JWKS) whose cache
        # headers it must carry unchanged (RFC 9111 §4.3.4).
        if response.mimetype == "text/html" and response.status_code != 304:
            response.headers["Cache-Control"] = "no-store"
        return response
