"""Issue 9, item 2: a request body larger than the largest legitimate one is refused with
413 before any of it is read; form parsing is bounded too."""

from __future__ import annotations

import io

import pytest

from tests.helpers import csrf_token


class CountingStream(io.RawIOBase):
    """A body that says how much of it was read, without ever holding it in memory."""

    def __init__(self, size: int):
        self.size, self.read_bytes = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001
        n = min(len(buffer), self.size - self.read_bytes)
        buffer[:n] = b"{" * n
        self.read_bytes += n
        return n


def _token(client) -> str:
    return csrf_token(client.get("/login").get_data(as_text=True))


def _post(client, path: str, body: CountingStream, environ: dict):  # noqa: ANN001, ANN202
    """POST `body` as the server would hand it over, with a valid CSRF token."""
    token = _token(client)
    return client.post(path, content_type="application/json", headers={"X-CSRFToken": token},
                       environ_overrides={"wsgi.input": body, **environ})


@pytest.mark.parametrize("path", ["/webauthn/passkey/options", "/webauthn/passkey/verify", "/webauthn/mfa/verify",
                                  "/login", "/token", "/authorize"])
def test_a_huge_body_is_refused_before_it_is_read(app, client, path):
    body = CountingStream(256 * 1024 * 1024)
    response = _post(client, path, body, {"CONTENT_LENGTH": str(body.size)})
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    assert body.read_bytes == 0
    assert "too large" in response.get_data(as_text=True).lower()


def test_the_largest_legitimate_body_is_accepted(app, client):
    """A WebAuthn attestation with a certificate chain is a few KB; 60 KB still gets through
    to the view (which says what is wrong with it), not a 413."""
    blob = '{"credential": "' + "A" * 60_000 + '"}'
    response = client.post("/webauthn/passkey/verify", data=blob, content_type="application/json",
                           headers={"X-CSRFToken": _token(client)})
    assert response.status_code == 400, response.get_data(as_text=True)[:300]


def test_a_form_with_too_many_parts_is_refused(app, client):
    fields = {f"f{i}": "x" for i in range(500)}
    response = client.post("/login", data=fields, content_type="multipart/form-data")
    assert response.status_code == 413


def test_an_oversized_form_field_is_refused(app, client):
    response = client.post("/login", data={"password": "x" * 40_000}, content_type="multipart/form-data")
    assert response.status_code == 413


def test_a_chunked_body_without_length_is_cut_at_the_limit(app, client):
    body = CountingStream(10 * 1024 * 1024)
    # What gunicorn hands over for a chunked body: no length, a stream that ends by itself.
    response = _post(client, "/webauthn/passkey/verify", body,
                     {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True})
    assert response.status_code == 413, (body.read_bytes, response.get_data(as_text=True)[:300])
    assert body.read_bytes <= app.config["MAX_CONTENT_LENGTH"] + 64 * 1024
