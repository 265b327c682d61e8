"""The body budget (503 + Retry-After beyond it) and client aborts, over real sockets.

A real uvicorn server on 127.0.0.1 (``serve_in_thread``) serves ``SumModel``; raw
sockets send a request's headers and part of its body, so a large request is
held in flight (or abandoned) exactly where the test wants it.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from scoring_fakes import SumModel

from kiln.errors import Overloaded
from kiln.serving.app import create_scoring_app
from kiln.serving.budget import BodyBudget, Held
from kiln.testing.server import serve_in_thread

INLINE = 1024
BUDGET = 100_000


def _rows_body(min_bytes: int) -> bytes:
    """A ``dataframe_split`` body of at least ``min_bytes`` (rows of 12 bytes)."""
    rows = max(1, min_bytes // 12 + 1)
    split = {"columns": ["a", "b"], "data": [[1.5, 2.5]] * rows}
    return json.dumps({"dataframe_split": split}).encode()


@pytest.fixture
def served() -> Iterator[tuple[str, Any]]:
    app = create_scoring_app(
        SumModel(), name="wine", inline_body_bytes=INLINE, max_inflight_bytes=BUDGET
    )
    with serve_in_thread(app) as url:
        yield url, app


def _start(url: str, body: bytes, sent: int) -> socket.socket:
    """A connection that has sent the headers and ``sent`` bytes of ``body``."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + body[:sent])
    return sock


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)  # the server runs in another thread


def test_a_body_beyond_the_budget_is_503_with_retry_after_and_small_ones_pass(
    served: tuple[str, Any],
) -> None:
    url, app = served
    big = _rows_body(60_000)
    assert 2 * len(big) > BUDGET
    held = _start(url, big, 1000)  # 60 KB held from its headers on
    try:
        _wait(lambda: app.state.budget.in_use >= len(big), "the first body's reservation")
        answer = httpx.post(
            f"{url}/invocations", content=big, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 503, answer.text[:200]
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        small = httpx.post(f"{url}/invocations", json={"inputs": {"a": [1.0], "b": [2.0]}})
        assert small.status_code == 200
        assert small.json() == {"predictions": [3.0]}
        held.sendall(big[1000:])
        response = held.recv(65536)
        assert response.startswith(b"HTTP/1.1 200"), response[:200]
    finally:
        held.close()
    _wait(lambda: app.state.budget.in_use == 0, "the budget's release")
    again = httpx.post(
        f"{url}/invocations", content=big, headers={"Content-Type": "application/json"}
    )
    assert again.status_code == 200
    assert len(again.json()["predictions"]) == big.count(b"[1.5, 2.5]")
    metrics = httpx.get(f"{url}/metrics").text
    assert 'kiln_scoring_errors_total{route="/invocations",error="Overloaded"} 1' in metrics


def test_a_body_alone_is_admitted_even_over_the_budget() -> None:
    budget = BodyBudget(limit=100, exempt_bytes=10)
    alone = Held(budget)
    alone.grow(500)
    second = Held(budget)
    second.grow(5)  # small bodies never wait on the budget
    with pytest.raises(Overloaded, match="busy with 500 bytes"):
        second.grow(50)
    alone.release()
    second.grow(50)
    assert budget.in_use == 50


def test_a_client_that_hangs_up_mid_body_is_a_499_client_abort_without_traceback(
    served: tuple[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    url, app = served
    caplog.set_level(logging.INFO)
    for size in (5_000, 500):  # over and under the inline size
        body = _rows_body(size)
        sock = _start(url, body, len(body) // 2)
        time.sleep(0.1)  # let the server read the half it got
        sock.close()

    def counted() -> bool:
        return "ClientAbort" in httpx.get(f"{url}/metrics").text

    _wait(counted, "the abort in /metrics")
    _wait(lambda: app.state.budget.in_use == 0, "the budget's release")
    metrics = httpx.get(f"{url}/metrics").text
    assert 'kiln_scoring_errors_total{route="/invocations",error="ClientAbort"} 2' in metrics
    assert 'kiln_scoring_requests_total{route="/invocations",status="499"} 2' in metrics
    assert 'status="500"' not in metrics
    assert "InternalError" not in metrics
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
