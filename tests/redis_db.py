"""Which Redis the tests use: one server (`TEST_REDIS`, default the local one on 6379), a
database index per purpose, each overridable on its own. Two checkouts testing at once
point `TEST_REDIS` at servers of their own."""

from __future__ import annotations

import os

BASE = os.environ.get("TEST_REDIS", "redis://127.0.0.1:6379").rstrip("/")


def url(variable: str, index: int) -> str:
    return os.environ.get(variable) or f"{BASE}/{index}"
