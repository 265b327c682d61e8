"""Chart data: Kiln's ``/ui/data/series`` against MLflow's metric history, on one 100,000-point
metric with a one-step spike, in one run.

The metric: ``--points`` (default 100,000) points of ``loss`` on one run, steps
0..N-1, a smooth noisy curve with one spike (100.0) at step ``--spike-step``
(default 54,321), written the same way into Kiln's SQLite store
(``open_sql_store`` + ``log_batch`` of 1,000) and MLflow's (``SqlAlchemyStore`` +
``log_batch`` of 1,000). Timed, each as a p50 and p95 over ``--calls`` calls
(default 30, after one warm-up):

Kiln, server side (from the database):

- ``floor: index scan``: ``SELECT COUNT(*)`` over the run's points (SQLite walking
  the covering index, nothing reaching Python);
- ``floor: SELECT 3 columns``: the same points' (step, timestamp, value) fetched with
  the ``sqlite3`` driver into Python, no bucketing;
- ``floor: numpy bucketing``: ``bucket_points`` on arrays already in memory;
- ``get_metric_history``: the store's generic read (100,000 ``Metric`` objects),
  what a backend without the fast path is bucketed from (``--history-calls``, 3);
- ``metric_series``: the SQL store's fast path, 1,000 buckets (``--buckets``), each
  call with a new ``lo`` below the first step (the same points, but never an answer the
  store has cached), and again with one query repeated (the cached answer);

over HTTP:

- ``kiln in-process``: ``GET /ui/data/series?key=loss&run=<id>&n=1000`` through
  ``create_app`` and Starlette's test client (no socket);
- ``kiln server``: the same against a ``kiln server --workers 1`` subprocess, with
  ``httpx`` over 127.0.0.1 (a new ``lo`` each call, then one URL repeated: cached);
  beside it the same server's MLflow API ``metrics/get-history`` (every point) and
  ``get-history-bulk-interval`` (``max_results=320``);
- ``mlflow server``: ``mlflow server --workers 1`` over its own copy:
  ``/api/2.0/mlflow/metrics/get-history`` (every point: what a client charting it
  must fetch) and ``/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval`` with
  ``max_results=320`` (what MLflow's UI charts fetch: a sample of steps),
  ``--mlflow-calls`` times (default 10; every get-history: ``--history-calls``).

Beside each wall time, the CPU it cost per call: this process's (the floor and
in-process rows, test client included) or the server process tree's (``/proc``),
which moves far less than wall time on a loaded machine.

Each answer's points are checked: the table says whether the spike (the series'
max) is in what came back, and the last line whether Kiln's bulk-interval sample
kept the very points (step, timestamp) MLflow's did. ``--skip-mlflow`` leaves MLflow out.

Usage::

    .venv/bin/python bench/ui_series.py [--points 100000] [--buckets 1000] [--calls 30]
        [--mlflow-calls 10] [--history-calls 3] [--skip-mlflow] [--json out.json]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# tracking_server sets the client's environment (no retries, no async logging) at import
from tracking_server import cpu_s, kiln_spec, mlflow_spec, running

T0 = 1_700_000_000_000
SPIKE = 100.0
KEY = "loss"


@dataclass
class Row:
    name: str
    p50_ms: float
    p95_ms: float
    calls: int
    cpu_ms: float = 0.0  # CPU per call: this process (in-process rows) or the server's tree
    points: int = 0  # points (or buckets) in the answer
    bytes: int = 0
    spike: str = ""  # "kept" / "missed" / ""


def curve(points: int, spike_step: int, seed: int = 1) -> list[tuple[int, int, float]]:
    """(step, timestamp, value): a decaying noisy loss, one spike."""
    rng = random.Random(seed)
    out = []
    for step in range(points):
        value = 1.0 / math.sqrt(1 + step) + rng.random() * 0.05
        out.append((step, T0 + step * 100, SPIKE if step == spike_step else value))
    return out


def timed(
    name: str, call: Callable[[], Any], calls: int, cpu: Callable[[], float] = time.process_time
) -> tuple[Row, Any]:
    """p50 and p95 of ``calls`` calls after one warm-up, and the CPU seconds ``cpu``
    counts per call; the last answer."""
    answer = call()
    times = []
    cpu_start = cpu()
    for _ in range(calls):
        start = time.perf_counter()
        answer = call()
        times.append((time.perf_counter() - start) * 1000)
    cpu_ms = (cpu() - cpu_start) * 1000 / calls
    times.sort()
    p95 = times[min(len(times) - 1, math.ceil(0.95 * len(times)) - 1)]
    return Row(name, statistics.median(times), p95, calls, cpu_ms), answer


# --------------------------------------------------------------------------- populate


def populate_kiln(db: Path, data: list[tuple[int, int, float]]) -> tuple[str, float]:
    from kiln.entities import Metric
    from kiln.store.sql.tracking import open_sql_store

    start = time.perf_counter()
    store = open_sql_store(f"sqlite:///{db}", workspace="default")
    experiment = store.create_experiment("bench-series")
    run_id = store.create_run(experiment, run_name="long").info.run_id
    metrics = [Metric(KEY, v, t, s) for s, t, v in data]
    for at in range(0, len(metrics), 1000):
        store.log_batch(run_id, metrics=metrics[at : at + 1000])
    return run_id, time.perf_counter() - start


def populate_mlflow(
    db: Path, artifacts: Path, data: list[tuple[int, int, float]]
) -> tuple[str, float]:
    from mlflow.entities import Metric
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    start = time.perf_counter()
    store = SqlAlchemyStore(f"sqlite:///{db}", str(artifacts))
    experiment = store.create_experiment("bench-series")
    run_id = store.create_run(experiment, "bench", T0, [], "long").info.run_id
    metrics = [Metric(KEY, v, t, s) for s, t, v in data]
    for at in range(0, len(metrics), 1000):
        store.log_batch(run_id, metrics[at : at + 1000], [], [])
    store.engine.dispose()
    return run_id, time.perf_counter() - start


# --------------------------------------------------------------------------- measures


def spike_in(values: list[float | None]) -> str:
    return "kept" if any(v == SPIKE for v in values) else "missed"


def kiln_floor(db: Path, run_id: str, args: argparse.Namespace) -> list[Row]:
    import numpy as np

    from kiln.store.protocols.series import read_series
    from kiln.store.query.buckets import SeriesQuery, bucket_points
    from kiln.store.sql.tracking import open_sql_store

    conn = sqlite3.connect(db)
    where = "FROM metrics WHERE run_uuid = ? AND key = ?"
    rows: list[Row] = []
    row, (count,) = timed(
        "floor: index scan (COUNT)",
        lambda: conn.execute(f"SELECT COUNT(*) {where}", (run_id, KEY)).fetchone(),
        args.calls,
    )
    row.points = count
    rows.append(row)
    select = f"SELECT step, timestamp, value {where} ORDER BY step, timestamp"
    row, fetched = timed(
        "floor: SELECT 3 columns",
        lambda: conn.execute(select, (run_id, KEY)).fetchall(),
        args.calls,
    )
    row.points = len(fetched)
    rows.append(row)
    steps = np.array([r[0] for r in fetched], dtype=np.int64)
    stamps = np.array([r[1] for r in fetched], dtype=np.int64)
    values = np.array([r[2] for r in fetched], dtype=np.float64)
    query = SeriesQuery(n=args.buckets)
    row, series = timed(
        "floor: numpy bucketing", lambda: bucket_points(steps, stamps, values, query), args.calls
    )
    row.points, row.spike = len(series.xs), spike_in(series.max)
    rows.append(row)
    store = open_sql_store(f"sqlite:///{db}", workspace="default")
    row, history = timed(
        "store get_metric_history",
        lambda: store.get_metric_history(run_id, KEY),
        args.history_calls,
    )
    row.points, row.spike = len(history), spike_in([m.value for m in history])
    rows.append(row)
    fresh = itertools.count(1)  # lo = -1, -2, ...: the same points, never a cached answer
    row, series = timed(
        "store metric_series (fast path)",
        lambda: read_series(store, run_id, KEY, SeriesQuery(lo=-next(fresh), n=args.buckets)),
        args.calls,
    )
    row.points, row.spike = len(series.xs), spike_in(series.max)
    rows.append(row)
    row, series = timed(
        "store metric_series (cached answer)",
        lambda: read_series(store, run_id, KEY, query),
        args.calls,
    )
    row.points, row.spike = len(series.xs), spike_in(series.max)
    rows.append(row)
    row, series = timed(
        "store metric_series x=time",
        lambda: read_series(
            store, run_id, KEY, SeriesQuery(x="time", lo=T0 - next(fresh), n=args.buckets)
        ),
        args.calls,
    )
    row.points, row.spike = len(series.xs), spike_in(series.max)
    rows.append(row)
    conn.close()
    return rows


def http_row(
    name: str,
    get: Callable[[], Any],
    calls: int,
    points: Callable[[Any], tuple[int, list[Any]]],
    cpu: Callable[[], float] = time.process_time,
) -> Row:
    row, answer = timed(name, get, calls, cpu)
    assert answer.status_code == 200, answer.text[:300]
    count, values = points(answer.json())
    row.points, row.bytes, row.spike = count, len(answer.content), spike_in(values)
    return row


def series_points(body: dict[str, Any]) -> tuple[int, list[Any]]:
    (one,) = body["series"]
    return len(one["xs"]), one["max"]


SAMPLES: dict[str, list[tuple[int, int]]] = {}  # each server's bulk-interval (step, timestamp)


def history_points(body: dict[str, Any]) -> tuple[int, list[Any]]:
    metrics = body.get("metrics", [])
    return len(metrics), [m["value"] for m in metrics]


def bulk_points(server: str) -> Callable[[dict[str, Any]], tuple[int, list[Any]]]:
    """``history_points``, noting which points ``server``'s sample kept."""

    def points(body: dict[str, Any]) -> tuple[int, list[Any]]:
        kept = body.get("metrics", [])
        SAMPLES[server] = [(int(m["step"]), int(m["timestamp"])) for m in kept]
        return history_points(body)

    return points


def kiln_in_process(root: Path, run_id: str, args: argparse.Namespace) -> list[Row]:
    from kiln.server.app import create_app
    from kiln.testing.auth_app import sqlite_settings
    from kiln.testing.server import asgi_client

    path = f"/ui/data/series?key={KEY}&run={run_id}&n={args.buckets}"
    fresh = itertools.count(1)
    with asgi_client(create_app(sqlite_settings(root))) as http:
        return [
            http_row(
                "kiln in-process /ui/data/series",
                lambda: http.get(f"{path}&lo=-{next(fresh)}"),
                args.calls,
                series_points,
            )
        ]


def kiln_server(root: Path, run_id: str, args: argparse.Namespace) -> list[Row]:
    import httpx

    spec = kiln_spec(root / "kiln.db", root / "artifacts")
    with (
        running(spec, root) as (url, process, _ready),
        httpx.Client(base_url=url, timeout=120) as http,
    ):
        series = f"/ui/data/series?key={KEY}&run={run_id}&n={args.buckets}"
        history = f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key={KEY}"
        bulk = (
            f"/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={run_id}"
            f"&metric_key={KEY}&max_results=320"
        )
        if http.get(bulk).status_code == 404:
            bulk = bulk.replace("/ajax-api/", "/api/")
        server_cpu = functools.partial(cpu_s, process.pid)
        fresh = itertools.count(1)
        return [
            http_row(
                "kiln server /ui/data/series",
                lambda: http.get(f"{series}&lo=-{next(fresh)}"),
                args.calls,
                series_points,
                cpu=server_cpu,
            ),
            http_row(
                "kiln server /ui/data/series (cached)",
                lambda: http.get(series),
                args.calls,
                series_points,
                cpu=server_cpu,
            ),
            http_row(
                "kiln server get-history (all)",
                lambda: http.get(history),
                args.history_calls,
                history_points,
                cpu=server_cpu,
            ),
            http_row(
                "kiln server bulk-interval 320",
                lambda: http.get(bulk),
                args.calls,
                bulk_points("kiln"),
                cpu=server_cpu,
            ),
        ]


def mlflow_server(root: Path, run_id: str, args: argparse.Namespace) -> list[Row]:
    import httpx

    spec = mlflow_spec(root / "mlflow.db", root / "mlflow-artifacts", 1)
    with (
        running(spec, root) as (url, process, _ready),
        httpx.Client(base_url=url, timeout=300) as http,
    ):
        history = f"/api/2.0/mlflow/metrics/get-history?run_id={run_id}&metric_key={KEY}"
        bulk = (
            f"/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={run_id}"
            f"&metric_key={KEY}&max_results=320"
        )
        server_cpu = functools.partial(cpu_s, process.pid)
        return [
            http_row(
                "mlflow server get-history (all)",
                lambda: http.get(history),
                args.history_calls,
                history_points,
                cpu=server_cpu,
            ),
            http_row(
                "mlflow server bulk-interval 320",
                lambda: http.get(bulk),
                args.mlflow_calls,
                bulk_points("mlflow"),
                cpu=server_cpu,
            ),
        ]


def table(rows: list[Row]) -> str:
    widths = (36, 8, 8, 8, 5, 7, 10, 6)
    head = ("measure", "p50 ms", "p95 ms", "CPU ms", "calls", "points", "bytes", "spike")
    lines = [
        "| "
        + " | ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(head, widths, strict=True))
        )
        + " |",
        "| "
        + " | ".join("-" * w if i in (0, 7) else "-" * (w - 1) + ":" for i, w in enumerate(widths))
        + " |",
    ]
    for r in rows:
        cells = (
            r.name.ljust(36),
            f"{r.p50_ms:8.1f}",
            f"{r.p95_ms:8.1f}",
            f"{r.cpu_ms:8.1f}",
            f"{r.calls:>5}",
            f"{r.points:>7,}",
            f"{r.bytes:>10,}" if r.bytes else " " * 10,
            r.spike.ljust(6),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--spike-step", type=int, default=54_321)
    parser.add_argument("--buckets", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--history-calls", type=int, default=3)
    parser.add_argument("--mlflow-calls", type=int, default=10)
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    data = curve(args.points, args.spike_step)
    rows: list[Row] = []
    notes: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="kiln-bench-series-") as tmp:
        root = Path(tmp)
        kiln_run, notes["kiln_populate_s"] = populate_kiln(root / "kiln.db", data)
        print(
            f"kiln: {args.points:,} points written in {notes['kiln_populate_s']:.1f} s", flush=True
        )
        rows += kiln_floor(root / "kiln.db", kiln_run, args)
        rows += kiln_in_process(root, kiln_run, args)
        rows += kiln_server(root, kiln_run, args)
        if not args.skip_mlflow:
            mlflow_run, notes["mlflow_populate_s"] = populate_mlflow(
                root / "mlflow.db", root / "mlflow-artifacts", data
            )
            print(f"mlflow: written in {notes['mlflow_populate_s']:.1f} s", flush=True)
            rows += mlflow_server(root, mlflow_run, args)
    print(table(rows))
    if len(SAMPLES) == 2:
        same = notes["bulk_interval_same_points"] = SAMPLES["kiln"] == SAMPLES["mlflow"]
        print(f"bulk-interval: Kiln kept the points MLflow kept: {same}")
    if args.json:
        args.json.write_text(json.dumps({"rows": [asdict(r) for r in rows], **notes}, indent=2))


if __name__ == "__main__":
    main()
