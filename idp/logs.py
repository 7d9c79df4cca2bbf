"""Log lines: plain text, or one JSON object per line (IDP_LOG_FORMAT=json), each with the
id of the request it belongs to (X-Request-ID, given or made; idp.web.middleware).

What is logged is decided where it is logged: audit events carry ids, hashes of account
names and addresses, never a credential, code or token (tests/e2e/test_log_secrets.py
greps a full run's log for every one of them).
"""

from __future__ import annotations

import json
import logging
import time

from .web.middleware import request_id

TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "request_id": request_id.get(),
        }
        fields = getattr(record, "audit", None)
        if isinstance(fields, dict):
            entry["message"] = fields.get("event")  # the audit event, as an object
            entry["audit"] = fields
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(fmt: str) -> None:
    """Install our handler on the root logger, once per process. In text mode a logging
    set-up made by someone else (a test runner, an embedding application) is kept."""
    root = logging.getLogger()
    if any(getattr(h, "idp_handler", False) for h in root.handlers):
        return
    if fmt != "json" and root.handlers:
        return
    handler = logging.StreamHandler()
    handler.idp_handler = True  # type: ignore[attr-defined]
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
