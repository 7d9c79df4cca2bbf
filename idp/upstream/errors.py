"""Why an upstream sign-in failed: a stable `reason` for audit and tests, a detail for logs."""

from __future__ import annotations


class UpstreamError(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail[:300]
