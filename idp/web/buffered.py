"""Responses whose body is already in memory reach the server as one list of bytes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Response


class BufferedResponse(Response):
    """granian writes a list in one call but steps through any other iterable from Rust,
    a round trip into Python per chunk; werkzeug wraps even a single `bytes` body in an
    iterator. Streamed bodies (a generator: the audit export) are left as they are."""

    def get_app_iter(self, environ: dict[str, Any]) -> Iterable[bytes]:
        app_iter = super().get_app_iter(environ)
        if not self.is_sequence:
            return app_iter
        try:
            return [b"".join(app_iter)]
        finally:
            app_iter.close()  # type: ignore[attr-defined]
