"""The fast lane: handler threads (parallel up to their limit, errors and context kept),
and small SQLite writes tried on the event loop first."""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kiln.config import Settings
from kiln.server.app import create_app
from kiln.server.fastlane import _Workers
from kiln.store.artifacts.local import LocalArtifactStore
from kiln.store.sql.engine import dispose_engine
from kiln.testing.server import asgi_client

API = "/api/2.0/mlflow"

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
    assert len(workers.pool._threads) == 3

    # Every thread went back to waiting: later jobs reuse them, none is started.
    async def more() -> list[int]:
        return list(await asyncio.gather(*(workers.run(abs, -n) for n in range(3))))

    assert asyncio.run(more()) == [0, 1, 2]
    assert len(workers.pool._threads) == 3


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
    assert len(workers.pool._threads) == 1


def test_a_handler_sees_the_requests_context() -> None:
    workers = _Workers()

    async def main() -> str:
        _REQUEST.set("request-7")
        seen: str = await workers.run(lambda _: _REQUEST.get(), None)
        return seen

    assert asyncio.run(main()) == "request-7"


def test_a_log_metric_that_would_wait_for_the_lock_waits_on_a_thread(tmp_path: Path) -> None:
    """Another process holds SQLite's write lock: the inline attempt gives way (nothing
    written), the request waits for the lock on a thread and then succeeds."""
    uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    app = create_app(
        Settings(home=tmp_path, tracking_uri="unused", backend_store_uri=uri),
        destination=LocalArtifactStore(str(tmp_path / "artifacts")),
    )
    try:
        with asgi_client(app) as client:
            run = client.post(f"{API}/runs/create", json={"experiment_id": "0"}).json()
            run_id = run["run"]["info"]["run_id"]
            point = {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0}
            assert client.post(f"{API}/runs/log-metric", json=point).status_code == 200
            other = sqlite3.connect(
                tmp_path / "kiln.db", isolation_level=None, check_same_thread=False
            )
            other.execute("BEGIN IMMEDIATE")
            timer = threading.Timer(0.5, other.execute, args=("ROLLBACK",))
            timer.start()
            answers: list[Any] = []
            start = time.monotonic()
            poster = threading.Thread(
                target=lambda: answers.append(
                    client.post(f"{API}/runs/log-metric", json={**point, "step": 1})
                )
            )
            poster.start()
            time.sleep(0.1)
            probe = time.monotonic()
            assert client.get("/health").status_code == 200
            assert time.monotonic() - probe < 0.3  # the event loop was not held up meanwhile
            poster.join()
            waited = time.monotonic() - start
            (answer,) = answers
            timer.join()
            other.close()
            assert answer.status_code == 200, answer.text
            assert waited >= 0.4  # it waited for the lock rather than failing
            history = client.get(
                f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}
            ).json()
            assert [m["step"] for m in history["metrics"]] == [0, 1]
    finally:
        dispose_engine(uri)
