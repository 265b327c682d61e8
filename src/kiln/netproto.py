"""uvicorn HTTP protocols that set TCP_NODELAY, and worker processes that die with their parent.

uvicorn leaves TCP_NODELAY off on sockets it did not create with
``IPPROTO_TCP`` (its multi-worker socket, or one handed to ``Server.run``), so
every keep-alive request then waits ~40 ms for a delayed ACK. The protocol
classes here set it in ``connection_made``. Both the tracking server
(``kiln.server.runner``) and the scoring server (``kiln.serving.runner``) use
them; this module imports nothing of Kiln so either layer may import it.

``die_with_parent`` is for the worker processes of both servers: a worker whose
supervisor was SIGKILLed would otherwise live on, holding the port (a restart
then fails with "Address already in use") and answering requests unsupervised.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import sys
import threading
import time

from uvicorn.protocols.http.h11_impl import H11Protocol


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    """Set TCP_NODELAY on the transport's socket if it is a TCP socket (errors ignored)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):  # the peer may already have hung up
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with TCP_NODELAY on every accepted socket."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)


def http_protocol() -> type[asyncio.Protocol]:
    """The fastest HTTP/1.1 protocol available (httptools, else h11), with TCP_NODELAY."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is optional
        return NoDelayH11Protocol

    class NoDelayHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            set_nodelay(transport)
            super().connection_made(transport)

    return NoDelayHttpToolsProtocol


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _set_parent_death_signal(signum: int) -> bool:
    """Ask Linux to send ``signum`` to this process when its parent dies; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def die_with_parent(parent: int, *, grace_s: float = 10.0, poll_s: float = 0.5) -> None:
    """Stop this worker process when ``parent`` (its supervisor's pid) is gone.

    On Linux the kernel sends SIGTERM the moment the parent dies (``PR_SET_PDEATHSIG``);
    uvicorn then shuts down gracefully. A daemon thread also watches ``os.getppid()``
    (the portable fallback, and the check for a parent that died before the signal
    was armed): once the parent is gone it sends SIGTERM itself and, should a
    graceful shutdown take more than ``grace_s`` seconds, ends the process.
    """
    _set_parent_death_signal(signal.SIGTERM)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)  # no portable way to block on the parent's death
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_s)
        os._exit(1)

    threading.Thread(target=watch, name="kiln-parent-watch", daemon=True).start()


__all__ = ["NoDelayH11Protocol", "die_with_parent", "http_protocol", "set_nodelay"]
