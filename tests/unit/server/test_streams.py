"""BodyReader: a blocking view of an async body, readable from any thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from kiln.server.streams import BodyReader


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def test_reads_fill_across_chunks_from_a_plain_thread() -> None:
    async def main() -> tuple[list[bytes], int]:
        loop = asyncio.get_running_loop()
        reader = BodyReader(_chunks([b"ab", b"cde", b"", b"f"]), loop)

        def consume() -> list[bytes]:
            return [reader.read(2), reader.read(3), reader.read(10), reader.read(1)]

        reads = await loop.run_in_executor(None, consume)
        return reads, reader.bytes_read

    assert asyncio.run(main()) == ([b"ab", b"cde", b"f", b""], 6)


def test_read_all_and_readinto() -> None:
    async def main() -> tuple[bytes, int, bytes]:
        loop = asyncio.get_running_loop()
        whole = BodyReader(_chunks([b"x" * 10, b"y" * 5]), loop)
        into = BodyReader(_chunks([b"12", b"34"]), loop)
        target = bytearray(3)

        def consume() -> tuple[bytes, int]:
            return whole.read(), into.readinto(target)

        data, count = await loop.run_in_executor(None, consume)
        return data, count, bytes(target)

    assert asyncio.run(main()) == (b"x" * 10 + b"y" * 5, 3, b"123")
