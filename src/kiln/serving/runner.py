"""Running a scoring app under uvicorn in one process or N processes sharing the port.

With ``workers > 1`` the parent (which already loaded the model, so the children
share its memory copy-on-write) forks N children. Each binds its own listening
socket to the same address with ``SO_REUSEPORT`` and the kernel spreads new
connections across them; there is no supervisor socket in the request path. The
parent keeps a bound, non-listening socket on the port (so ``port=0`` picks one
port for everybody), forwards SIGINT/SIGTERM, and restarts a child that dies
unexpectedly (giving up after repeated crashes). Each child dies with the parent
(``kiln.netproto.die_with_parent``): a SIGKILLed parent leaves no worker holding the port.

Connections get TCP_NODELAY from ``kiln.netproto.http_protocol`` (shared with the
tracking server; without it every keep-alive request waits ~40 ms for a delayed ACK).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from kiln.netproto import NoDelayH11Protocol, die_with_parent, http_protocol

_log = logging.getLogger("kiln.serving")


def listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A TCP socket bound to (host, port), IPPROTO_TCP, optionally with SO_REUSEPORT."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _config(app: Any, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=http_protocol(),
        log_level=log_level,
        access_log=False,
        lifespan="off",
        proxy_headers=False,  # no route reads the client address
        server_header=False,
    )


def _run_one(app: Any, sock: socket.socket, log_level: str) -> None:
    host, port = sock.getsockname()[:2]
    sock.listen(2048)
    server = uvicorn.Server(_config(app, host, port, log_level))
    server.run(sockets=[sock])


def serve(
    build_app: Callable[[], Any],
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    workers: int = 1,
    log_level: str = "info",
    on_bound: Callable[[int], None] | None = None,
) -> None:
    """Serve the app ``build_app`` makes until interrupted.

    Args:
        build_app: makes the ASGI app; called once per process (after the fork),
            so each process keeps its own metrics.
        workers: processes sharing the port (``SO_REUSEPORT``); 1 serves in-process.
        on_bound: called with the bound port before serving (``port=0`` picks one).
    """
    if workers <= 1:
        sock = listening_socket(host, port, reuse_port=False)
        if on_bound is not None:
            on_bound(sock.getsockname()[1])
        _run_one(build_app(), sock, log_level)
        return
    anchor = listening_socket(host, port, reuse_port=True)  # bound, never listening
    port = anchor.getsockname()[1]
    if on_bound is not None:
        on_bound(port)
    try:
        _Supervisor(build_app, host, port, workers, log_level).run()
    finally:
        anchor.close()


class _Supervisor:
    """Forks the workers, forwards shutdown signals, restarts crashed workers."""

    max_restarts = 5
    restart_window_s = 30.0

    def __init__(
        self, build_app: Callable[[], Any], host: str, port: int, workers: int, log_level: str
    ) -> None:
        self.build_app = build_app
        self.host, self.port, self.workers, self.log_level = host, port, workers, log_level
        self.children: set[int] = set()
        self.stopping = False
        self.restarts: list[float] = []

    def _fork(self) -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                die_with_parent(parent)
                sock = listening_socket(self.host, self.port, reuse_port=True)
                _run_one(self.build_app(), sock, self.log_level)
            except BaseException:
                _log.exception("scoring worker %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        self.children.add(pid)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def run(self) -> None:
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for _ in range(self.workers):
                self._fork()
            while self.children:
                try:
                    pid, status = os.wait()
                except ChildProcessError:
                    break
                except InterruptedError:  # pragma: no cover - PEP 475 retries wait()
                    continue
                self.children.discard(pid)
                if self.stopping:
                    continue
                now = time.monotonic()
                self.restarts = [t for t in self.restarts if now - t < self.restart_window_s]
                if len(self.restarts) >= self.max_restarts:
                    _log.error("scoring workers keep crashing; stopping")
                    self._stop(signal.SIGTERM, None)
                    continue
                _log.warning("scoring worker %d exited (status %d); restarting", pid, status)
                self.restarts.append(now)
                self._fork()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


__all__ = ["NoDelayH11Protocol", "http_protocol", "listening_socket", "serve"]
