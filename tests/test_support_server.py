"""The test harness's server start-up: a free port lost to another process between ``free_port`` and the
child's bind must not let the tests talk to that other process (CI once signed up at another worker's
service instead of the example relying party)."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.server import PortLost, listens_on, start_listening, wait_serving


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def squatter() -> Iterator[int]:
    """Another process's server answering 200 on a port: what a lost port race leaves."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _http_server(port: int) -> list[str]:
    return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]


def test_a_child_that_lost_its_port_is_not_taken_for_the_server(squatter: int, tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    with log.open("w") as out:
        proc = subprocess.Popen(_http_server(squatter), stdout=out, stderr=subprocess.STDOUT)
    try:
        with pytest.raises(PortLost):
            wait_serving(proc, squatter, f"http://127.0.0.1:{squatter}/", log, timeout=30)
    finally:
        proc.kill()
        proc.wait()


def test_only_the_socket_owner_listens_on_the_port(squatter: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        mine = int(s.getsockname()[1])
        assert listens_on(os.getpid(), mine)
        assert listens_on(os.getpid(), squatter)  # the squatter is a thread of this process
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not listens_on(child.pid, squatter)
    finally:
        child.kill()
        child.wait()


def test_a_started_server_is_the_child_itself(tmp_path: Path) -> None:
    with start_listening(_http_server, tmp_path, {}, "/") as (base, proc, _log):
        assert listens_on(proc.pid, int(base.rsplit(":", 1)[1]))
    assert proc.poll() is not None
