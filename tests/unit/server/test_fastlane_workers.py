"""The fast lane's handler threads: parallel up to their limit, errors and context kept."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from kiln.server.fastlane import _Workers

_REQUEST = contextvars.ContextVar("request", default="none")


def test_handlers_run_in_parallel_up_to_the_limit_and_the_rest_wait() -> None:
    workers = _Workers(limit=3)
    gate = threading.Event()
    running: list[int] = []
    lock = threading.Lock()
    peak = [0]

    def handler(n: int) -> int:
        with lock:
            running.append(n)
            peak[0] = max(peak[0], len(running))
        gate.wait(10)
        with lock:
            running.remove(n)
        return n * 2

    async def main() -> list[int]:
        futures = [workers.run(handler, n) for n in range(7)]
        await asyncio.sleep(0.3)  # let every thread that may start pick up a job
        started = peak[0]
        gate.set()
        results = list(await asyncio.gather(*futures))
        assert started == 3
        return results

    assert asyncio.run(main()) == [n * 2 for n in range(7)]
    assert peak[0] == 3
    assert workers._threads == 3
    # Every thread went back to waiting, and the queue owes none of them a job.
    assert workers._idle == 3
    assert workers._owed == 0


def test_a_handler_error_reaches_the_request_and_the_thread_goes_on() -> None:
    workers = _Workers(limit=1)

    def failing(arg: str) -> None:
        raise ValueError(f"bad {arg}")

    async def main() -> str:
        with pytest.raises(ValueError, match="bad input"):
            await workers.run(failing, "input")
        result: str = await workers.run(str.upper, "still served")
        return result

    assert asyncio.run(main()) == "STILL SERVED"
    assert workers._threads == 1


def test_a_handler_sees_the_requests_context() -> None:
    workers = _Workers()

    async def main() -> str:
        _REQUEST.set("request-7")
        seen: str = await workers.run(lambda _: _REQUEST.get(), None)
        return seen

    assert asyncio.run(main()) == "request-7"
