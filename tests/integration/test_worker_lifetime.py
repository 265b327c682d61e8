"""Worker processes die with their supervisor: a SIGKILLed server leaves nothing on its port.

``kiln server --workers 2`` and ``kiln models serve --workers 2`` run as real
processes; the supervisor gets SIGKILL (no shutdown of any kind). Within a bounded
wait the port must be free (nothing answers ``/health``, a socket can bind it) and
a new server must start on the same port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from kiln.models import sklearn as kiln_sklearn
from kiln.testing.server import ServerProcess, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FREED_WITHIN_S = 20.0


def _port_is_free(port: int) -> bool:
    """Whether a listening socket can bind the port as uvicorn does (SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _wait_until_free(port: int) -> float:
    """Seconds until the port is free and refuses connections; fails after FREED_WITHIN_S."""
    start = time.monotonic()
    while True:
        answered = False
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            answered = True
        if not answered and _port_is_free(port):
            return time.monotonic() - start
        if time.monotonic() - start > FREED_WITHIN_S:
            pytest.fail(f"port {port} still held {FREED_WITHIN_S} s after the SIGKILL")
        time.sleep(0.1)  # polling other processes' exit


def test_tracking_workers_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = ServerProcess(uri, tmp_path / "first", workers=2)
    first.start()
    try:
        assert httpx.get(f"{first.url}/health").text == "OK"
        first.kill()  # SIGKILL of the supervisor only
        _wait_until_free(first.port)
        second = ServerProcess(uri, tmp_path / "second", workers=2, port=first.port)
        second.start()
        try:
            assert httpx.get(f"{second.url}/health").text == "OK"
        finally:
            second.stop()
    finally:
        first.stop()


def _serve(model: Path, port: int, home: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("TRACKING_URI")}
    env["KILN_HOME"] = str(home)
    command = [sys.executable, "-m", "kiln.cli.main", "models", "serve", "-m", str(model)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*command, "--workers", "2", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"kiln models serve exited:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                return process
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"kiln models serve did not start:\n{log.read_text()}")
        time.sleep(0.1)  # readiness polling of a child process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


def test_scoring_workers_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    x = np.arange(20.0).reshape(10, 2)
    model = tmp_path / "model"
    kiln_sklearn.save_model(LinearRegression().fit(x, x.sum(axis=1)), model)
    port = free_port()
    first = _serve(model, port, tmp_path, tmp_path / "first.log")
    try:
        first.send_signal(signal.SIGKILL)
        first.wait()
        _wait_until_free(port)
        second = _serve(model, port, tmp_path, tmp_path / "second.log")
        try:
            body = {"inputs": [[1.0, 2.0]]}
            answer = httpx.post(f"http://127.0.0.1:{port}/invocations", json=body)
            assert answer.status_code == 200, answer.text
        finally:
            _stop(second)
    finally:
        _stop(first)
