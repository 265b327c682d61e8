"""A real ``kiln models serve`` process with token auth, started and stopped for one model.

``serve_model`` runs the same command a user types (``kiln --tracking-uri URI models
serve -m MODEL_URI --port P --auth-token-file F``) as a subprocess on a free
127.0.0.1 port, with a fresh random token in a private file, waits until
``/ping`` answers, and on leaving the ``with`` block terminates it (SIGTERM, then
SIGKILL after a grace period), whatever happened inside.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kiln.errors import ServingFailed

START_TIMEOUT_S = 120.0
STOP_GRACE_S = 15.0


@dataclass(frozen=True, slots=True)
class ScoringServer:
    """A running scoring process: where it listens and the token it wants."""

    url: str
    token: str
    token_file: Path
    log_file: Path
    process: subprocess.Popen[bytes]

    @property
    def invocations_url(self) -> str:
        return f"{self.url}/invocations"

    def headers(self, content_type: str) -> dict[str, str]:
        return {"Content-Type": content_type, "Authorization": f"Bearer {self.token}"}

    def curl(self, content_type: str, body: bytes) -> str:
        """A curl command a user can paste: the token and the body are inline."""
        return (
            f"curl -X POST {self.invocations_url} "
            f"-H {shlex.quote('Authorization: Bearer ' + self.token)} "
            f"-H {shlex.quote('Content-Type: ' + content_type)} "
            f"--data-binary {shlex.quote(body.decode('utf-8').strip())}"
        )

    def alive(self) -> bool:
        return self.process.poll() is None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _log_tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""


def _wait_healthy(server: ScoringServer, timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        if not server.alive():
            raise ServingFailed(
                f"kiln models serve exited with code {server.process.returncode}: "
                f"{_log_tail(server.log_file)}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/ping", timeout=1.0).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise ServingFailed(
                f"kiln models serve did not answer /ping within {timeout_s:.0f}s: "
                f"{_log_tail(server.log_file)}"
            )
        time.sleep(0.1)  # polling a subprocess for readiness


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def serve_model(
    model_uri: str,
    *,
    tracking_uri: str,
    workdir: Path,
    timeout_s: float = START_TIMEOUT_S,
) -> Iterator[ScoringServer]:
    """Serve ``model_uri`` until the block ends; the token file and log go in ``workdir``.

    Raises:
        ServingFailed: the process exited early or never answered ``/ping``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    token_file = workdir / "token"
    token_file.touch(mode=0o600)
    token_file.write_text(token + "\n", encoding="utf-8")
    log_file = workdir / "serve.log"
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from kiln.cli.main import main; main()",
        "--tracking-uri",
        tracking_uri,
        "models",
        "serve",
        "-m",
        model_uri,
        "--port",
        str(port),
        "--auth-token-file",
        str(token_file),
    ]
    with log_file.open("wb") as log:
        # Its own session: a Ctrl-C in the terminal reaches only the caller, which then
        # stops the server itself (and can say so) instead of racing its death.
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ},
            start_new_session=True,
        )
    try:
        server = ScoringServer(f"http://127.0.0.1:{port}", token, token_file, log_file, process)
        _wait_healthy(server, timeout_s)
        yield server
    finally:
        _stop(process)


__all__ = ["ScoringServer", "free_port", "serve_model"]
