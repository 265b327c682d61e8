"""Many MLflow clients at once against one ``kiln server`` over SQLite.

16 client processes, each with the official ``MlflowClient``, start together and
each logs 1,000 metric points into its own run: 500 by single ``log_metric``
calls, 500 by ``log_batch`` calls, plus params and tags. They fork from a
forkserver that imported mlflow once, so the test does not pay 16 interpreter
starts and mlflow imports on a 2-core machine. Clients do not retry
(``MLFLOW_HTTP_REQUEST_MAX_RETRIES=0``), so any 5xx, "database is locked" or
exhausted pool surfaces as an error. Then every history is read back point by
point and the server's own counters must show no 5xx.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiln.testing.server import server_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIENTS = 16
POINTS = 1000  # per client: half single calls, half batched
BATCH = 50
KEYS = ("single", "batch")


def _client(url: str, experiment_id: str, index: int, start: Any, results: Any) -> None:
    """One client process: wait for the others, log, report ``(index, run_id, error)``."""
    os.environ["MLFLOW_TRACKING_URI"] = url
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        start.wait()
        run_id = client.create_run(experiment_id, run_name=f"client-{index}").info.run_id
        client.log_param(run_id, "client", str(index))
        client.set_tag(run_id, "role", "load")
        half = POINTS // 2
        for step in range(half):
            client.log_metric(run_id, "single", index * 1e6 + step, timestamp=step, step=step)
        for first in range(0, half, BATCH):
            metrics = [
                Metric("batch", index * 1e6 + step, step, step)
                for step in range(first, first + BATCH)
            ]
            params = [Param(f"p{first}", str(first))]
            tags = [RunTag(f"t{first}", str(first))]
            client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
        client.set_terminated(run_id)
        results.put((index, run_id, None))
    except BaseException as exc:
        results.put((index, None, f"{type(exc).__name__}: {exc}"))


def _server_errors(metrics_text: str) -> int:
    pattern = r'^kiln_http_errors_total\{[^}]*kind="5xx"[^}]*\} (\d+)$'
    return sum(int(n) for n in re.findall(pattern, metrics_text, re.MULTILINE))


@pytest.mark.timeout(900)  # 16 interpreters importing mlflow on a small machine
def test_sixteen_client_processes_log_without_errors_or_lost_points(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    with server_process(f"sqlite:///{tmp_path / 'kiln.db'}", tmp_path) as server:
        client = MlflowClient(tracking_uri=server.url)
        experiment_id = client.create_experiment("load")
        spawn = multiprocessing.get_context("forkserver")
        spawn.set_forkserver_preload(["mlflow.tracking"])
        start = spawn.Barrier(CLIENTS + 1)
        results = spawn.Queue()
        workers = [
            spawn.Process(target=_client, args=(server.url, experiment_id, i, start, results))
            for i in range(CLIENTS)
        ]
        spawned = time.perf_counter()
        for worker in workers:
            worker.start()
        try:
            start.wait(timeout=400)  # every client has imported mlflow
            began = time.perf_counter()
            outcomes = [results.get(timeout=400) for _ in workers]
            elapsed = time.perf_counter() - began
        finally:
            for worker in workers:
                worker.join(timeout=30)
                if worker.is_alive():
                    worker.kill()
                    worker.join()

        errors = [f"client {i}: {error}" for i, _, error in outcomes if error]
        assert not errors, "\n".join(errors)
        requests = CLIENTS * (POINTS // 2 + POINTS // 2 // BATCH + 4)
        print(
            f"\n{CLIENTS} client processes started and imported mlflow in {began - spawned:.1f} s"
        )
        print(
            f"{CLIENTS} clients x {POINTS} points ({requests} requests) in {elapsed:.2f} s: "
            f"{CLIENTS * POINTS / elapsed:.0f} points/s, {requests / elapsed:.0f} requests/s"
        )

        read = time.perf_counter()
        for index, run_id, _ in outcomes:
            run = client.get_run(run_id)
            assert run.info.status == "FINISHED"
            assert run.data.params["client"] == str(index)
            assert run.data.tags["role"] == "load"
            assert len([k for k in run.data.params if k.startswith("p")]) == POINTS // 2 // BATCH
            for key in KEYS:
                history = client.get_metric_history(run_id, key)
                got = sorted((m.step, m.value, m.timestamp) for m in history)
                want = [(s, index * 1e6 + s, s) for s in range(POINTS // 2)]
                assert got == want, f"client {index} {key}: {len(got)} of {len(want)} points"

        print(
            f"read back and checked {CLIENTS * POINTS} points in {time.perf_counter() - read:.1f} s"
        )
        assert _server_errors(httpx.get(f"{server.url}/metrics").text) == 0
        log = server.log_text()
        assert "database is locked" not in log
        assert "QueuePool limit" not in log
