"""uvicorn HTTP protocols that set TCP_NODELAY on every accepted connection.

uvicorn leaves TCP_NODELAY off on sockets it did not create with
``IPPROTO_TCP`` (its multi-worker socket, or one handed to ``Server.run``), so
every keep-alive request then waits ~40 ms for a delayed ACK. The protocol
classes here set it in ``connection_made``. Both the tracking server
(``kiln.server.runner``) and the scoring server (``kiln.serving.runner``) use
them; this module imports nothing of Kiln so either layer may import it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

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


__all__ = ["NoDelayH11Protocol", "http_protocol", "set_nodelay"]
