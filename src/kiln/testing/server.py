"""Running the tracking server inside tests: in-process clients, a real uvicorn, a subprocess.

``asgi_client(app)`` is Starlette's TestClient (no sockets); ``registry_app(service)``
serves only the registry routes. ``serve_in_thread(app)``
runs a real uvicorn server on a free 127.0.0.1 port in a background thread; its
socket is bound and listening before the thread starts, so clients may connect at
once (the kernel queues them) and no readiness polling is needed.

``ServerProcess`` runs ``python -m kiln.cli.main server`` as a child process (the
real CLI, its own interpreter and connection pool); ``start()`` waits for
``/health``, ``kill()`` sends SIGKILL (a crash), ``stop()`` a graceful SIGTERM.
``server_process(...)`` is the context manager that always stops it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.types import ASGIApp

from kiln.errors import KilnError
from kiln.registry.service import RegistryService
from kiln.server import registry_routes
from kiln.server.errors import kiln_error_handler
from kiln.server.routing import mount
from kiln.server.runner import NoDelayH11Protocol
from kiln.server.stores import Stores
from kiln.store.artifacts.local import LocalArtifactStore
from kiln.store.memory.logged_models import MemoryLoggedModelStore
from kiln.store.memory.tracking import MemoryTrackingStore
from kiln.testing.server_process import free_port


def asgi_client(app: ASGIApp, **kwargs: Any) -> Any:
    """A ``starlette.testclient.TestClient`` for ``app`` (use it as a context manager)."""
    with warnings.catch_warnings():
        # Starlette 1.x nudges towards httpx2, which is not installable here; httpx works.
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from starlette.testclient import TestClient

        # A loopback Host: the server refuses others (kiln.httpguard).
        kwargs.setdefault("base_url", "http://127.0.0.1")
        return TestClient(app, **kwargs)


def registry_app(service: RegistryService) -> Starlette:
    """Only the server's registry routes, every request acting on ``service``.

    The other stores of the requests' ``Stores`` are empty memory ones of the
    service's workspace, and the artifact destination is ``os.devnull``, which
    nothing can write under (the registry routes keep no files); a ``KilnError``
    answers as the server's do.
    """
    workspace = service.workspace
    stores = Stores(
        MemoryTrackingStore(workspace=workspace),
        service,
        MemoryLoggedModelStore(workspace=workspace),
        LocalArtifactStore(os.devnull),
    )
    return Starlette(
        routes=mount(registry_routes.ROUTES, lambda scope: stores),
        exception_handlers={KilnError: kiln_error_handler},
    )


@contextlib.contextmanager
def serve_in_thread(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free local port; yield its base URL; stop it after."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", http=NoDelayH11Protocol, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@dataclass
class ServerProcess:
    """``kiln server`` as a child process on ``port`` (the same port across restarts).

    Args:
        backend_store_uri: the tracking store the server opens.
        root: a folder for ``KILN_HOME``, the artifacts and ``server.log``.
        workers: uvicorn worker processes.
        args: more ``kiln server`` options (``--auth``).
        env: more environment for the server (``KILN_ADMIN_PASSWORD``).
    """

    backend_store_uri: str
    root: Path
    workers: int = 1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 60.0) -> None:
        """Start the server and wait until ``/health`` answers.

        Raises:
            RuntimeError: it exited or did not become healthy in ``timeout`` seconds.
        """
        env = {**os.environ, "KILN_HOME": str(self.root / "home")}
        for name in ("MLFLOW_TRACKING_URI", "KILN_TRACKING_URI", "KILN_BACKEND_STORE_URI"):
            env.pop(name, None)
        env.update(self.env)
        command = [
            sys.executable,
            "-m",
            "kiln.cli.main",
            "server",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--backend-store-uri",
            self.backend_store_uri,
            "--artifacts-destination",
            str(self.root / "artifacts"),
            *self.args,
        ]
        self.root.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"kiln server exited early:\n{self.log_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).text == "OK":
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"kiln server not healthy in {timeout} s:\n{self.log_text()}")
            time.sleep(0.05)  # readiness polling of a child process

    def kill(self) -> None:
        """SIGKILL the server (no shutdown of any kind) and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self._reap()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the server, SIGKILL it after ``timeout`` seconds, and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._reap()

    def _reap(self) -> None:
        if self.process is not None:
            self.process.wait()
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


@contextlib.contextmanager
def server_process(
    backend_store_uri: str,
    root: Path,
    workers: int = 1,
    *,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[ServerProcess]:
    """A started ``ServerProcess`` (``args``, ``env``: see its fields); stopped on
    exit, whatever happened."""
    server = ServerProcess(backend_store_uri, root, workers=workers, args=args, env=env or {})
    try:
        server.start()
        yield server
    finally:
        server.stop()


__all__ = [
    "ServerProcess",
    "asgi_client",
    "free_port",
    "registry_app",
    "serve_in_thread",
    "server_process",
]
