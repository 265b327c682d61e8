"""A blocking file-like view of an async request body.

``ArtifactStore.write_stream`` is synchronous and runs in a worker thread;
the request body is an async iterator on the event loop. ``BodyReader.read``
fetches the next chunks from the loop (``run_coroutine_threadsafe``), so an
upload of any size flows to the store with one chunk in memory and no temporary
file. It works from any thread (an S3 uploader's own threads included), never
from the event loop itself.

A client that hangs up mid-body makes ``read`` raise Starlette's ``ClientDisconnect``
and sets ``disconnected``, which the caller checks whatever the store made of the
error (an S3 or HTTP uploader may wrap it).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect


class BodyReader(io.RawIOBase):
    """Read-only, non-seekable stream over ``chunks``; ``read(n)`` fills up to ``n`` bytes."""

    def __init__(self, chunks: AsyncIterator[bytes], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._chunks = chunks
        self._loop = loop
        self._buffer = bytearray()
        self._done = False
        self.bytes_read = 0
        self.disconnected = False

    def readable(self) -> bool:
        return True

    async def _next_chunk(self) -> bytes | None:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            return None
        except ClientDisconnect:
            self.disconnected = True
            raise

    def _fill(self, size: int) -> None:
        while not self._done and (size < 0 or len(self._buffer) < size):
            chunk = asyncio.run_coroutine_threadsafe(self._next_chunk(), self._loop).result()
            if chunk is None:
                self._done = True
            else:
                self._buffer += chunk

    def read(self, size: int | None = -1) -> bytes:
        wanted = -1 if size is None else size
        self._fill(wanted)
        if wanted < 0 or wanted >= len(self._buffer):
            out = bytes(self._buffer)
            self._buffer.clear()
        else:
            out = bytes(self._buffer[:wanted])
            del self._buffer[:wanted]
        self.bytes_read += len(out)
        return out

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)


__all__ = ["BodyReader"]
