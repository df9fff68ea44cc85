"""Running a real ``speakerverify serve`` process for measurements and end-to-end tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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


@contextmanager
def serve_process(
    workdir: Path, args: list[str], env: dict[str, str], timeout: float = 60
) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """Run `speakerverify serve ARGS --port FREE` in ``workdir`` until the block ends; yields its base URL,
    the process (in its own session, so ``os.killpg`` stops it with its workers) and its log file.

    Only ``env`` supplies SPEAKERVERIFY_* settings (the caller's own are dropped); the log goes to
    ``workdir/serve-PORT.log`` and is included in the error when the server does not come up.
    """
    port = free_port()
    log = workdir / f"serve-{port}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SPEAKERVERIFY_")} | env
    with log.open("w") as out:
        proc = subprocess.Popen(
            [*speakerverify_command(), "serve", *args, "--port", str(port)],
            cwd=workdir,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve did not become healthy:\n{log.read_text()}")
            time.sleep(0.2)
        yield base, proc, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextmanager
def serve(workdir: Path, args: list[str], env: dict[str, str], timeout: float = 60) -> Iterator[str]:
    """``serve_process`` for callers that need only the base URL."""
    with serve_process(workdir, args, env, timeout) as (base, _proc, _log):
        yield base
