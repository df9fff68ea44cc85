"""Running a real ``speakerverify serve`` process for measurements and end-to-end tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def speakerverify_command() -> list[str]:
    """The console script pip installs (what the README runs); the module as a fallback."""
    exe = shutil.which("speakerverify")
    return [exe] if exe else [sys.executable, "-m", "speakerverify.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the sockets listening on 127.0.0.1:``port`` (Linux's /proc/net/tcp: address, state 0A)."""
    local = f"0100007F:{port:04X}"
    rows = (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
    return {f[9] for f in rows if f[1] == local and f[3] == "0A"}


def listens_on(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds the socket listening on 127.0.0.1:``port``.

    A free port can be taken by another test process between ``free_port`` and the child's bind; the child
    then exits, and until it does a health check answered by the other server would pass. Only the
    socket's owner tells the two apart.
    """
    inodes = _listening_inodes(port)
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    held = set()
    for fd in fds:
        try:
            held.add(os.readlink(fd))
        except OSError:  # closed while we looked
            continue
    return any(f"socket:[{inode}]" in held for inode in inodes)


def wait_serving(proc: subprocess.Popen[bytes], port: int, probe: str, log: Path, timeout: float) -> None:
    """Wait until ``proc`` itself listens on ``port`` and ``probe`` answers 200; RuntimeError (with the log)
    if it exits or the time runs out. A child that lost the port race exits with "address already in use"
    in its log (``start_listening`` retries it on another port)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            text = log.read_text()
            if "already in use" in text:
                raise PortLost(text)
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{text}")
        try:
            if listens_on(proc.pid, port) and httpx.get(probe, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not come up:\n{log.read_text()}")
        time.sleep(0.2)


class PortLost(RuntimeError):
    """The free port was taken by someone else before the child bound it."""


@contextmanager
def start_listening(
    command: Callable[[int], list[str]], workdir: Path, env: dict[str, str], probe_path: str, timeout: float = 60
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """Run ``command(port)`` on a free port (another one if that port is lost to a race, up to 3 tries) until
    the block ends; yields its base URL, the process (in its own session: ``os.killpg`` stops it with its
    workers) and its log, ``workdir/serve-PORT.log``."""
    for attempt in range(3):
        port = free_port()
        log = workdir / f"serve-{port}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                command(port), cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_serving(proc, port, base + probe_path, log, timeout)
        except PortLost:
            if attempt == 2:
                raise
            continue
        except BaseException:
            _stop(proc)
            raise
        try:
            yield base, proc, log
        finally:
            _stop(proc)
        return


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def serve_process(
    workdir: Path, args: list[str], env: dict[str, str], timeout: float = 60
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """Run `speakerverify serve ARGS --port FREE` in ``workdir`` until the block ends; yields its base URL,
    the process (in its own session, so ``os.killpg`` stops it with its workers) and its log file.

    Only ``env`` supplies SPEAKERVERIFY_* settings (the caller's own are dropped); the log goes to
    ``workdir/serve-PORT.log`` and is included in the error when the server does not come up.
    """
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SPEAKERVERIFY_")} | env

    def command(port: int) -> list[str]:
        return [*speakerverify_command(), "serve", *args, "--port", str(port)]

    with start_listening(command, workdir, full_env, "/healthz", timeout) as running:
        yield running


@contextmanager
def serve(workdir: Path, args: list[str], env: dict[str, str], timeout: float = 60) -> Iterator[str]:
    """``serve_process`` for callers that need only the base URL."""
    with serve_process(workdir, args, env, timeout) as (base, _proc, _log):
        yield base
