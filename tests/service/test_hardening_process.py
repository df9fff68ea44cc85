"""Issue 13 against a real ``speakerverify serve`` (uvicorn, SQLite file): forwarded headers, request
head size, idle and slow connections, file modes. Prints "N tried, N refused" per attack (run with -s)."""

from __future__ import annotations

import socket
import stat
import time
from pathlib import Path

import httpx

from support.server import serve

SECRET = "process-test-secret-key-0123456789abcdef"
PASSWORD = "correct horse battery"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "SPEAKERVERIFY_SECRET_KEY": SECRET,
        "SPEAKERVERIFY_DATA_DIR": str(tmp_path / "data"),
        "SPEAKERVERIFY_LOGIN_MAX_FAILURES_PER_ADDRESS": "3",
        "SPEAKERVERIFY_REQUEST_TIMEOUT_SECONDS": "2",
        **{f"SPEAKERVERIFY_{k}": v for k, v in extra.items()},
    }


def _spoofed_logins(base: str, n: int) -> list[int]:
    """``n`` wrong logins, each claiming another client address in X-Forwarded-For."""
    codes = []
    with httpx.Client(base_url=base, timeout=30) as http:
        for i in range(n):
            body = {"email": f"victim{i}@example.org", "password": "wrong password"}
            codes.append(
                http.post("/api/v1/sessions", json=body, headers={"X-Forwarded-For": f"10.1.2.{i}"}).status_code
            )
    return codes


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=15)
    return sock


def _closed_within(sock: socket.socket, seconds: float, trickle: bool = False) -> float | None:
    """Seconds until the server closes ``sock`` (None if it is still open after ``seconds``); ``trickle``
    sends one header byte every 0.3 s meanwhile, as a slowloris client does."""
    start = time.monotonic()
    sock.settimeout(0.3)
    if trickle:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    while time.monotonic() - start < seconds:
        try:
            if trickle:
                sock.sendall(b"X-a: b\r\n")
            if sock.recv(65536) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - start
    return None


def _big_head_answer(base: str, header_bytes: int) -> bytes:
    """What the server answers to a request head of ``header_bytes`` (b"" if it just closed)."""
    sock = _connect(base)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        chunk = b"a" * 65536
        for _ in range(header_bytes // len(chunk)):
            sock.sendall(chunk)
        sock.sendall(b"\r\n\r\n")
        return sock.recv(65536)
    except OSError:  # reset or broken pipe: refused before the head was complete
        return b""
    finally:
        sock.close()


def test_uvicorn_level_attacks_are_refused(tmp_path: Path) -> None:
    with serve(tmp_path, [], _env(tmp_path)) as base:
        codes = _spoofed_logins(base, 10)
        assert codes[:3] == [401] * 3 and set(codes[3:]) == {429}, codes  # X-Forwarded-For was ignored
        print(f"X-Forwarded-For from 127.0.0.1 to dodge the per-address limit: 7 tried, {codes.count(429)} refused")

        refused = 0
        for size in (64 * 1024, 16 * 1024 * 1024):
            answer = _big_head_answer(base, size)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:80]
            refused += 1
        print(f"request heads of 64 KB and 16 MB: 2 tried, {refused} refused")

        idle = _closed_within(_connect(base), 10)
        slow = _closed_within(_connect(base), 10, trickle=True)
        assert idle is not None and idle < 4 and slow is not None and slow < 4, (idle, slow)
        print(f"idle connection and slowloris: 2 tried, 2 refused (closed after {idle:.1f} s and {slow:.1f} s)")

        with httpx.Client(base_url=base, timeout=30) as http:  # honest clients are unaffected
            assert http.get("/healthz").status_code == 200
            time.sleep(1)
            assert http.get("/healthz").status_code == 200
            assert http.get("/healthz", headers={"X-Normal": "a" * 4000}).status_code == 200
        data = tmp_path / "data"
        files = [p for p in data.iterdir() if p.name.startswith("speakerverify.sqlite3")]
        assert len(files) == 3 and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files), files


def test_forwarded_headers_are_believed_from_trusted_proxies_only(tmp_path: Path) -> None:
    with serve(tmp_path, [], _env(tmp_path, TRUSTED_PROXIES="127.0.0.1")) as base:
        codes = _spoofed_logins(base, 6)  # through a trusted proxy: six clients, one failure each
        assert codes == [401] * 6, codes
        with httpx.Client(base_url=base, timeout=30) as http:
            body = {"email": "victim@example.org", "password": "wrong password"}
            same = [
                http.post("/api/v1/sessions", json=body, headers={"X-Forwarded-For": "10.9.9.9"}).status_code
                for _ in range(4)
            ]
        assert same == [401, 401, 401, 429]
