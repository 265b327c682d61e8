"""Embedded tracking store: Kiln's SQLite store side by side with MLflow's, in one run.

Workload (the same calls against both, through each project's client):

1. 50 runs, each with 10 params and 100 ``log_metric`` calls made one by one;
2. 20 ``log_batch`` calls of 1,000 metrics each;
3. a search over N runs (default 10,000) for
   ``metrics.loss < 0.5 and params.alpha = '0.1'`` ordered by ``metrics.loss``;
4. the wall time of ``import kiln`` and ``import mlflow`` in fresh interpreters.

Usage: ``.venv/bin/python bench/tracking_embedded.py [--search-runs 10000] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracking_server import SEARCH_EXPERIMENT, populate_kiln, populate_mlflow

FILTER = "metrics.loss < 0.5 and params.alpha = '0.1'"
ORDER = ["metrics.loss ASC"]


@dataclass
class Result:
    name: str
    single_call_ms: float = 0.0
    calls_per_s: float = 0.0
    batch_metrics_per_s: float = 0.0
    search_p50_ms: float = 0.0
    search_hits: int = 0
    import_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Adapter:
    """The few calls the workload needs, so both clients run the same code."""

    def __init__(self, client: Any, metric_cls: Any, param_cls: Any, now: Callable[[], int]):
        self.client = client
        self.metric_cls = metric_cls
        self.param_cls = param_cls
        self.now = now

    def experiment(self, name: str) -> str:
        return str(self.client.create_experiment(name))

    def experiment_id(self, name: str) -> str:
        return str(self.client.get_experiment_by_name(name).experiment_id)

    def run(self, experiment_id: str) -> str:
        return str(self.client.create_run(experiment_id).info.run_id)

    def log_param(self, run_id: str, key: str, value: str) -> None:
        self.client.log_param(run_id, key, value)

    def log_metric(self, run_id: str, key: str, value: float, step: int) -> None:
        self.client.log_metric(run_id, key, value, timestamp=self.now(), step=step)

    def log_batch(
        self, run_id: str, metrics: list[tuple[str, float, int]], params: Any = ()
    ) -> None:
        ts = self.now()
        self.client.log_batch(
            run_id,
            metrics=[self.metric_cls(k, v, ts, s) for k, v, s in metrics],
            params=[self.param_cls(k, v) for k, v in params],
        )

    def search(self, experiment_id: str) -> int:
        page = self.client.search_runs(
            [experiment_id], filter_string=FILTER, order_by=ORDER, max_results=100
        )
        return len(page)


def now_ms() -> int:
    return int(time.time() * 1000)


def kiln_adapter(folder: Path) -> Adapter:
    from kiln.entities import Metric, Param
    from kiln.tracking.client import KilnClient

    client = KilnClient.from_uri(f"sqlite:///{folder / 'kiln.db'}")
    return Adapter(client, Metric, Param, now_ms)


def mlflow_adapter(folder: Path) -> Adapter:
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")
    return Adapter(client, Metric, Param, now_ms)


def workload(name: str, adapter: Adapter) -> Result:
    result = Result(name)
    exp = adapter.experiment("bench-singles")

    # 1. single calls
    latencies: list[float] = []
    total_start = time.perf_counter()
    calls = 0
    for r in range(50):
        run_id = adapter.run(exp)
        for p in range(10):
            t = time.perf_counter()
            adapter.log_param(run_id, f"p{p}", str(p * r))
            latencies.append(time.perf_counter() - t)
        for step in range(100):
            t = time.perf_counter()
            adapter.log_metric(run_id, "loss", 1.0 / (step + 1), step)
            latencies.append(time.perf_counter() - t)
        calls += 110
    elapsed = time.perf_counter() - total_start
    result.single_call_ms = statistics.median(latencies) * 1000
    result.calls_per_s = calls / elapsed

    # 2. batches of 1,000 metrics
    run_id = adapter.run(exp)
    start = time.perf_counter()
    for b in range(20):
        adapter.log_batch(
            run_id, [(f"m{i % 10}", float(i), b * 100 + i // 10) for i in range(1000)]
        )
    result.batch_metrics_per_s = 20_000 / (time.perf_counter() - start)

    # 3. search over the runs populated before the workload (not timed here)
    sexp = adapter.experiment_id(SEARCH_EXPERIMENT)
    timings = []
    for _ in range(15):
        t = time.perf_counter()
        result.search_hits = adapter.search(sexp)
        timings.append(time.perf_counter() - t)
    result.search_p50_ms = statistics.median(timings) * 1000
    return result


def import_time(module: str) -> float:
    times = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.perf_counter() - t)
    base = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base.append(time.perf_counter() - t)
    return max(0.0, min(times) - min(base))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--search-runs", type=int, default=10_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # The same seeded search runs in both stores, each written the fastest way its
        # project allows (MLflow's public API manages ~10 runs/s, so most of its runs
        # are bulk-inserted into its own tables; see tracking_server.populate_mlflow).
        populate_kiln(folder / "kiln.db", folder / "artifacts", args.search_runs, "bulk", 300)
        populate_mlflow(folder / "mlflow.db", folder / "mlartifacts", args.search_runs, "bulk", 300)
        k = workload("kiln", kiln_adapter(folder))
        m = workload("mlflow", mlflow_adapter(folder))
    k.import_s = import_time("kiln")
    m.import_s = import_time("mlflow")

    rows = [
        (
            "single call p50 (ms)",
            k.single_call_ms,
            m.single_call_ms,
            m.single_call_ms / k.single_call_ms,
        ),
        ("single calls per s", k.calls_per_s, m.calls_per_s, k.calls_per_s / m.calls_per_s),
        (
            "batch metrics per s",
            k.batch_metrics_per_s,
            m.batch_metrics_per_s,
            k.batch_metrics_per_s / m.batch_metrics_per_s,
        ),
        (
            f"search p50 over {args.search_runs} runs (ms)",
            k.search_p50_ms,
            m.search_p50_ms,
            m.search_p50_ms / k.search_p50_ms,
        ),
        ("import time (s)", k.import_s, m.import_s, m.import_s / max(k.import_s, 1e-9)),
    ]
    print(f"{'measure':<40} {'kiln':>12} {'mlflow':>12} {'kiln advantage':>15}")
    for label, kv, mv, ratio in rows:
        print(f"{label:<40} {kv:>12.3f} {mv:>12.3f} {ratio:>14.1f}x")
    print(f"search hits: kiln {k.search_hits}, mlflow {m.search_hits}")
    if args.json:
        args.json.write_text(json.dumps({"kiln": k.__dict__, "mlflow": m.__dict__}, indent=2))


if __name__ == "__main__":
    main()
