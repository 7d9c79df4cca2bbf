"""Small loopback HTTP servers for the browser tests: the SPA's static files, and a
redirect-URI endpoint that records whatever reaches it."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parents[2]
SPA_DIR = Path(__file__).resolve().parent / "spa"
OIDC_CLIENT_TS = ROOT / "tests/node/node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js"

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
}


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _Server:
    handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.port = self.httpd.server_address[1]
        # The browser must see "localhost" (same site as the issuer, and what was registered).
        self.origin = f"http://localhost:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# --- the SPA ----------------------------------------------------------------------------

class _SpaHandler(_Quiet):
    def do_GET(self) -> None:  # noqa: N802
        spa: SpaServer = self.server.owner  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        if path == "/":
            path = "/index.html"
        if path == "/config.json":
            return self._send(200, json.dumps(spa.config).encode(), _TYPES[".json"])
        name = path.lstrip("/")
        file = spa.files.get(path) or spa.directory / name
        if "/" in name or not file.is_file():
            return self._send(404, b"not found", "text/plain")
        headers = {}
        if file.suffix == ".html":
            # No inline script anywhere in the app, and it talks to the provider (and its
            # API) only.
            issuer = spa.config.get("issuer", "")
            connect = " ".join(["'self'", issuer, *spa.connect_also])
            headers["Content-Security-Policy"] = (
                f"default-src 'self'; connect-src {connect}; frame-src {issuer}; base-uri 'none'"
            )
        return self._send(200, file.read_bytes(), _TYPES.get(file.suffix, "application/octet-stream"), headers)

    do_HEAD = do_GET


class SpaServer(_Server):
    """Serves a browser app's static files: by default tests/e2e/spa/ and the oidc-client-ts
    browser build, or another folder (a built app); /config.json says which provider and
    client the app uses. `connect_also`: origins besides the provider the app may fetch."""

    handler = _SpaHandler

    def __init__(self, directory: Path = SPA_DIR, *, files: dict[str, Path] | None = None,
                 redirect_path: str = "/callback.html", connect_also: tuple[str, ...] = ()) -> None:
        self.directory = directory
        self.files = {"/oidc-client-ts.min.js": OIDC_CLIENT_TS} if files is None else files
        self.redirect_path = redirect_path
        self.connect_also = connect_also
        super().__init__()
        self.config: dict = {}

    @property
    def redirect_uri(self) -> str:
        return self.origin + self.redirect_path

    @property
    def post_logout_redirect_uri(self) -> str:
        return self.origin + "/signed-out.html"


# --- a redirect URI that records what arrives -------------------------------------------

@dataclass
class Hit:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, list[str]] = field(default_factory=dict)


class _RecordingHandler(_Quiet):
    def _record(self) -> None:
        owner: RecordingServer = self.server.owner  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        form = parse_qs(body, keep_blank_values=True) if self.command == "POST" else {}
        hit = Hit(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            form=form,
        )
        with owner.lock:
            owner.hits.append(hit)
        page = b'<!doctype html><title>received</title><p id="received">received</p>'
        self._send(200, page, "text/html; charset=utf-8")

    do_GET = do_POST = do_HEAD = _record


class RecordingServer(_Server):
    handler = _RecordingHandler

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hits: list[Hit] = []
        super().__init__()

    @property
    def redirect_uri(self) -> str:
        return self.origin + "/cb"

    def reset(self) -> None:
        with self.lock:
            self.hits.clear()

    def snapshot(self) -> list[Hit]:
        with self.lock:
            return list(self.hits)
