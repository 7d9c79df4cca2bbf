"""JSON log lines carry the request id of the request that wrote them, and audit events as
objects; text lines carry the id too."""

from __future__ import annotations

import io
import json
import logging

import pytest

from idp import logs
from tests.helpers import csrf_token


@pytest.fixture
def captured():
    """Our formatter and filter on a handler of the test's own."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RequestIdFilter())
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)  # setLevel, not the attribute: loggers cache what is enabled
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def test_an_audit_line_is_an_object_with_the_request_id(client, user, captured):
    html = client.get("/login").get_data(as_text=True)
    response = client.post("/login", headers={"X-Request-ID": "proxy-id-1"},
                           data={"csrf_token": csrf_token(html), "email": user.email, "password": "not the password"})
    assert response.status_code == 401 and response.headers["X-Request-ID"] == "proxy-id-1"
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    failed = [e for e in lines if e.get("audit", {}).get("event") == "login.failed"]
    assert len(failed) == 1
    assert failed[0]["request_id"] == "proxy-id-1" and failed[0]["logger"] == "idp.audit"
    assert failed[0]["message"] == "login.failed" and failed[0]["audit"]["factor"] == "pwd"
    assert "not the password" not in captured.getvalue()


def test_outside_a_request_the_id_is_null(captured):
    logging.getLogger("idp").warning("hello %s", "there")
    entry = json.loads(captured.getvalue())
    assert entry["message"] == "hello there" and entry["request_id"] is None and entry["level"] == "WARNING"


def test_an_exception_is_one_line(captured):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("idp").exception("failed")
    (line,) = captured.getvalue().splitlines()
    assert "ValueError: boom" in json.loads(line)["exception"]


def test_the_text_format_names_the_request_id():
    record = logging.LogRecord("idp", logging.INFO, __file__, 1, "message", None, None)
    logs.RequestIdFilter().filter(record)
    assert logging.Formatter(logs.TEXT).format(record).endswith("idp [-] message")


@pytest.mark.parametrize("settings", [{"IDP_LOG_FORMAT": "xml"}])
def test_an_unknown_format_is_refused(settings):
    from idp import create_app
    from idp.settings import ConfigError
    from tests.conftest import TEST_CONFIG

    with pytest.raises(ConfigError, match="IDP_LOG_FORMAT"):
        create_app({**TEST_CONFIG, **settings})
