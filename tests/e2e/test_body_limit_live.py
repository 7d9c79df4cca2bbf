"""Issue 9, item 2 against the live server: a 256 MB POST is answered 413 from its headers alone,
and no worker grows by what was sent."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit


def _workers(master: int) -> list[int]:
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(master):
            pids.append(int(status.parent.name))
    return pids


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _post_huge(url: str, path: str, size: int, send: int) -> bytes:
    """Headers announcing `size` bytes, then `send` of them (as fast as the server takes them)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\nConnection: close\r\n\r\n".encode()
        )
        chunk = b"{" * (1 << 20)
        try:
            for _ in range(send >> 20):
                conn.sendall(chunk)
        except OSError:
            pass  # the server answered and closed: it never wanted the rest
        answer = b""
        try:
            while data := conn.recv(65536):
                answer += data
        except OSError:
            pass
    return answer


def test_a_256_mb_post_is_refused_from_its_headers(live_server):
    workers = _workers(live_server.process.pid)
    assert workers
    before = {pid: _rss_kib(pid) for pid in workers}
    for path in ("/webauthn/passkey/verify", "/login", "/token"):
        answer = _post_huge(live_server.url, path, 256 << 20, send=0)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    for _ in range(4):  # both workers, with bodies actually sent
        answer = _post_huge(live_server.url, "/webauthn/passkey/verify", 256 << 20, send=64 << 20)
        assert b" 413 " in answer.split(b"\r\n", 1)[0] or answer == b"", answer[:200]
    grown = max(_rss_kib(pid) - before[pid] for pid in workers)
    assert grown < 16 * 1024, f"a worker grew by {grown} KiB"
