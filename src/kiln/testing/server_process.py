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
import signal
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
    """A TCP port that was free on 127.0.0.1 a moment ago."""
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


@contextlib.contextmanager
def mlflow_server_process(root: Path, *, timeout_s: float = 180.0) -> Iterator[str]:
    """Run the real ``mlflow server`` (one worker, SQLite at ``root/mlflow.db``, proxied
    artifacts in ``root/artifacts``) in its own process group; yield its base URL.

    The group is terminated after (MLflow's server forks workers), then killed if it lingers.

    Raises:
        ServerStartError: the process exited early or never became healthy.
    """
    port = free_port()
    log_path = root / "server.log"
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                if process.poll() is not None:
                    raise ServerStartError(f"mlflow server exited: {log_path.read_text()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise ServerStartError(f"mlflow server not healthy: {log_path.read_text()}")
                time.sleep(0.5)  # readiness polling of a subprocess, not test ordering
            yield url
        finally:
            os.killpg(process.pid, signal.SIGTERM)  # the group we started: server and workers
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


__all__ = ["ServerStartError", "free_port", "kiln_server_process", "mlflow_server_process"]
