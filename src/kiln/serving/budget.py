"""Reading request bodies within a byte budget for the bodies one scoring process holds at once.

Parsing a JSON body builds Python objects several times its size (a 95 MB
``dataframe_split`` body cost ~1 GB of RSS), so a few large requests at once
could exhaust the machine's memory. Each body over ``exempt_bytes`` reserves its
size (its Content-Length up front, else chunk by chunk as it arrives) and keeps
the reservation until its answer is built; a body that does not fit is refused
with 503 and ``Retry-After`` before it is read. A body alone always fits (up to
the server's body limit), so the budget never refuses every request of some size.
Small bodies (parsed on the event loop, a few KB) are never refused: the budget
keeps large requests from starving them, not the other way round.

Only the event loop touches the counters, so there is no lock.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive

from kiln.errors import BadInput, BodyTooLarge, Overloaded

DEFAULT_MAX_INFLIGHT_BYTES = 256 * 1024 * 1024
RETRY_AFTER_S = 1


class BodyBudget:
    """Bytes of large request bodies in flight, against ``limit``."""

    __slots__ = ("exempt_bytes", "in_use", "limit")

    def __init__(self, limit: int, exempt_bytes: int) -> None:
        self.limit = limit
        self.exempt_bytes = exempt_bytes
        self.in_use = 0

    def reserve(self, size: int) -> None:
        """Take ``size`` bytes.

        Raises:
            Overloaded: other bodies hold the budget and ``size`` does not fit beside them.
        """
        if self.in_use and self.in_use + size > self.limit:
            raise Overloaded(
                f"The server is busy with {self.in_use} bytes of request bodies (its budget is "
                f"{self.limit}); retry in {RETRY_AFTER_S} s"
            )
        self.in_use += size

    def release(self, size: int) -> None:
        self.in_use -= size


class Held:
    """The bytes one request holds in a ``BodyBudget``; ``release()`` gives them all back."""

    __slots__ = ("budget", "size")

    def __init__(self, budget: BodyBudget) -> None:
        self.budget = budget
        self.size = 0

    def grow(self, total: int) -> None:
        """Hold ``total`` bytes in all (bodies up to the budget's ``exempt_bytes`` hold none)."""
        if total <= self.budget.exempt_bytes or total <= self.size:
            return
        self.budget.reserve(total - self.size)
        self.size = total

    def release(self) -> None:
        self.budget.release(self.size)
        self.size = 0


async def read_body(request: Request, held: Held, limit: int, inline_bytes: int) -> bytes:
    """The whole body, its size held in the budget (``held``) as it is known.

    A body with a Content-Length over ``inline_bytes`` is read into one buffer of
    that size (no list of chunks joined into a second copy).

    Raises:
        BodyTooLarge: over ``limit``.
        Overloaded: the body does not fit in the budget beside the others.
        ClientDisconnect: the client hung up before the end of the body.
    """
    declared = request.headers.get("content-length")
    expected = int(declared) if declared is not None and declared.isdigit() else None
    if expected is not None and expected > limit:
        raise BodyTooLarge(f"Request body of {declared} bytes is over the {limit}-byte limit")
    if expected is not None:
        held.grow(expected)
    # ASGI receive directly: Request.stream()'s async generator costs more than
    # the rest of a one-row request's plumbing (this is the only reader).
    receive = request.receive
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnect()
    first: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(first) > limit:
            raise BodyTooLarge(f"Request body is over the {limit}-byte limit")
        held.grow(len(first))
        return first
    if expected is not None and expected > inline_bytes:
        return await _read_into(receive, first, expected)
    chunks = [first]
    size = len(first)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"Request body is over the {limit}-byte limit")
        held.grow(size)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _read_into(receive: Receive, first: bytes, expected: int) -> bytes:
    """A declared-length body read into one buffer (the server enforces the length)."""
    buffer = bytearray(expected)
    view = memoryview(buffer)
    view[: len(first)] = first
    size = len(first)
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        view[size : size + len(chunk)] = chunk
        size += len(chunk)
        more = message.get("more_body", False)
    view.release()
    if size != expected:  # pragma: no cover - uvicorn enforces Content-Length
        raise BadInput(f"Request body has {size} bytes, Content-Length said {expected}")
    return buffer  # type: ignore[return-value]  # read-only use: bytes for every reader


__all__ = ["DEFAULT_MAX_INFLIGHT_BYTES", "RETRY_AFTER_S", "BodyBudget", "Held", "read_body"]
