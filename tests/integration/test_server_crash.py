"""A ``kiln server`` over SQLite killed with SIGKILL mid-ingestion loses no acknowledged write.

Logger threads post metrics (single ``log-metric`` calls and ``log-batch`` calls)
as fast as the server answers and record every point the server acknowledged
with HTTP 200. Once enough are acknowledged the server is SIGKILLed while
requests are in flight. The database must pass ``PRAGMA integrity_check``, the
restarted server (same database, same port) must serve the run with every
acknowledged point, and logging must go on.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import httpx
import pytest

from kiln.testing.server import ServerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LOGGERS = 4
BATCH = 10
ACKED_BEFORE_KILL = 400  # points acknowledged before the kill
API = "/api/2.0/mlflow"


class Logger(threading.Thread):
    """Logs ``key`` steps 0, 1, 2, ... until a request fails; keeps acknowledged steps."""

    def __init__(self, url: str, run_id: str, key: str, batched: bool, progress: Progress) -> None:
        super().__init__(daemon=True)
        self.url, self.run_id, self.key, self.batched = url, run_id, key, batched
        self.progress = progress
        self.acked: list[int] = []
        self.failure: str | None = None

    def run(self) -> None:
        step = 0
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while True:
                steps = list(range(step, step + (BATCH if self.batched else 1)))
                try:
                    if self.batched:
                        metrics = [_point(self.key, s) for s in steps]
                        body = {"run_id": self.run_id, "metrics": metrics}
                        answer = http.post(f"{API}/runs/log-batch", json=body)
                    else:
                        body = {"run_id": self.run_id, **_point(self.key, step)}
                        answer = http.post(f"{API}/runs/log-metric", json=body)
                except httpx.HTTPError as exc:  # the server is gone: stop
                    self.failure = type(exc).__name__
                    return
                if answer.status_code != 200:
                    self.failure = f"HTTP {answer.status_code}: {answer.text}"
                    self.progress.add(0)
                    return
                self.acked.extend(steps)
                self.progress.add(len(steps))
                step += len(steps)


class Progress:
    """Counts acknowledged points; ``reached`` is set at ``target`` (or on a failure)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.lock = threading.Lock()
        self.reached = threading.Event()

    def add(self, n: int) -> None:
        with self.lock:
            self.count += n
            if n == 0 or self.count >= self.target:
                self.reached.set()


def _point(key: str, step: int) -> dict[str, object]:
    return {"key": key, "value": step * 0.5, "timestamp": 1_700_000_000_000 + step, "step": step}


def _history(http: httpx.Client, run_id: str, key: str) -> dict[int, float]:
    answer = http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": key})
    assert answer.status_code == 200, answer.text
    return {int(m["step"]): float(m["value"]) for m in answer.json().get("metrics", [])}


def test_sigkill_mid_ingestion_loses_no_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "kiln.db"
    server = ServerProcess(f"sqlite:///{db}", tmp_path)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            created = http.post(f"{API}/runs/create", json={"experiment_id": "0"})
            run_id = created.json()["run"]["info"]["run_id"]
            http.post(
                f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "1"}
            )

        progress = Progress(ACKED_BEFORE_KILL)
        loggers = [
            Logger(server.url, run_id, f"m{i}", batched=i % 2 == 1, progress=progress)
            for i in range(LOGGERS)
        ]
        for logger in loggers:
            logger.start()
        assert progress.reached.wait(timeout=120), "the loggers made no progress"
        server.kill()  # SIGKILL while the loggers still post
        for logger in loggers:
            logger.join(timeout=60)
        assert all(not logger.is_alive() for logger in loggers)
        assert not [lg.failure for lg in loggers if lg.failure and lg.failure.startswith("HTTP")]

        with sqlite3.connect(db) as check:
            assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert check.execute("PRAGMA foreign_key_check").fetchall() == []

        server.start()  # same database, same port
        with httpx.Client(base_url=server.url, timeout=30) as http:
            run = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
            assert run["data"]["params"] == [{"key": "p", "value": "1"}]
            for logger in loggers:
                stored = _history(http, run_id, logger.key)
                lost = [s for s in logger.acked if stored.get(s) != s * 0.5]
                assert not lost, f"{logger.key}: {len(lost)} acknowledged points lost"
            acked = sum(len(logger.acked) for logger in loggers)
            assert acked >= ACKED_BEFORE_KILL
            print(f"\n{acked} points acknowledged before SIGKILL, all present after restart")

            # the client goes on logging into the same run
            # (the logger that got the most acknowledgements: one may have none when
            # the others took every slot before the kill)
            resumed = max(loggers, key=lambda logger: len(logger.acked))
            next_step = max(resumed.acked) + 1000
            answer = http.post(
                f"{API}/runs/log-metric", json={"run_id": run_id, **_point(resumed.key, next_step)}
            )
            assert answer.status_code == 200, answer.text
            assert _history(http, run_id, resumed.key)[next_step] == next_step * 0.5
    finally:
        server.stop()
