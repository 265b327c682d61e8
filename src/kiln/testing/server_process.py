"""A real ``kiln server`` subprocess for integration tests.

``kiln_server_process(root)`` starts ``kiln server`` on a free 127.0.0.1 port
with a SQLite backend and an artifacts folder under ``root``, waits until
``/health`` answers, yields the base URL, and terminates the process after. The
server log is ``root / "server.log"``; it is put in the failure message when the
server does not come up.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

START_TIMEOUT_S = 60.0


class ServerStartError(RuntimeError):
    """The server exited or did not answer ``/health`` in time."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def kiln_server_process(root: Path, *, timeout_s: float = START_TIMEOUT_S) -> Iterator[str]:
    """Run ``kiln server`` (SQLite at ``root/kiln.db``, artifacts in ``root/artifacts``).

    Raises:
        ServerStartError: the process exited early or never became healthy.
    """
    port = free_port()
    env = {**os.environ, "KILN_HOME": str(root / "home")}
    for name in ("MLFLOW_TRACKING_URI", "KILN_TRACKING_URI"):
        env.pop(name, None)
    command = [
        sys.executable,
        "-c",
        "from kiln.cli.main import main; main()",
        "server",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{root / 'kiln.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
    ]
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if process.poll() is not None:
                    raise ServerStartError(f"kiln server exited early: {log_path.read_text()}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/health", timeout=1).text == "OK":
                        break
                if time.monotonic() > deadline:
                    raise ServerStartError(f"kiln server not healthy: {log_path.read_text()}")
                time.sleep(0.1)  # readiness polling of a subprocess, not test ordering
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


__all__ = ["ServerStartError", "free_port", "kiln_server_process"]
