"""Running the tracking server inside tests: in-process clients and a real uvicorn.

``asgi_client(app)`` is Starlette's TestClient (no sockets). ``serve_in_thread(app)``
runs a real uvicorn server on a free 127.0.0.1 port in a background thread; its
socket is bound and listening before the thread starts, so clients may connect at
once (the kernel queues them) and no readiness polling is needed.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.exceptions import StarletteDeprecationWarning
from starlette.types import ASGIApp

from kiln.server.runner import NoDelayH11Protocol


def asgi_client(app: ASGIApp, **kwargs: Any) -> Any:
    """A ``starlette.testclient.TestClient`` for ``app`` (use it as a context manager)."""
    with warnings.catch_warnings():
        # Starlette 1.x nudges towards httpx2, which is not installable here; httpx works.
        warnings.simplefilter("ignore", StarletteDeprecationWarning)
        from starlette.testclient import TestClient

        return TestClient(app, **kwargs)


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


__all__ = ["asgi_client", "serve_in_thread"]
