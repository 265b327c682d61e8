"""Tracking server: ``kiln server`` beside ``mlflow server``, in one run, through MLflow's client.

Each server runs as a subprocess on a free 127.0.0.1 port, in its own process
group, over a SQLite store and a local artifact folder in a temporary
directory; they run one after the other so they never compete for the CPU.
Servers: ``kiln server --workers 1``, ``mlflow server --workers 1`` and
``mlflow server`` with its default worker count (4 in MLflow 3.17; leave it out
with ``--skip-mlflow-default``).

Measures, the same for every server (client: ``mlflow.MlflowClient``):

1. time to ready: from spawn to the first 200 on ``/health`` (median of
   ``--ready-trials`` spawns over the already-populated store);
2. ``log_metric``: ``--log-metric-calls`` calls (default 1,000) one by one on
   one run -> p50 latency and calls per second;
3. ``log_batch``: 20 batches of 1,000 metrics -> metrics per second;
4. search: ``metrics.loss < 0.5 and params.alpha = '0.1'`` ordered by
   ``metrics.loss ASC``, ``max_results=100``, over ``--search-runs`` runs
   (default 100,000): one warm-up call, then the p50 of ``--search-calls``
   (default 15). The returned losses must be the same on every server;
5. RSS of the server process and all its descendants (``VmRSS`` from
   ``/proc``), idle after ready, and again idle after the workload;
6. search shapes (``search_shapes``): equality and ``LIKE``-prefix matches on
   ``tags.`mlflow.runName``` and ``attributes.run_name``, and a tag every run
   has, each the p50 of ``--shape-calls`` after a warm-up (with the hit count
   checked).

The floor (``--floor-rounds``, default 5): ``serve_null`` answers ``{}`` at once
on every path, served exactly as ``kiln server --workers 1`` is (uvicorn, the
same protocol class). It runs beside Kiln, both up at once, and ``log_metric``
and ``log_batch`` are timed on each in alternating rounds; the report gives the
floor, Kiln and MLflow side by side with Kiln/floor and Kiln/MLflow. What the
client itself costs bounds every server; Kiln/floor is what Kiln's request
handling (and its commit) leaves of that. ``--writes-only`` runs just this.
``--skip-mlflow`` measures Kiln alone (e.g. at 1,000,000 runs, which MLflow's
store cannot be populated with in useful time).

The search runs are written before any server starts, in-process, through each
project's own store layer, from the same seeded random sequence (so every
server returns the same losses): Kiln through ``open_tracking_store`` +
``create_run`` + ``log_batch``; MLflow through its ``SqlAlchemyStore``. MLflow's
public per-run path (``create_run`` + ``log_batch``) manages only ~10 runs/s
on SQLite, so by default the bench times it on ``--mlflow-api-sample`` runs
(reported) and writes the rest with bulk inserts into the store's own ORM
tables (``SqlRun``, ``SqlTag``, ``SqlParam``, ``SqlMetric``, ``SqlLatestMetric``)
through its ``ManagedSessionMaker`` -- the same rows ``create_run`` +
``log_batch`` write. ``--mlflow-populate api`` uses the public path for all.

Usage::

    .venv/bin/python bench/tracking_server.py [--search-runs 100000] [--json out.json]
    .venv/bin/python bench/tracking_server.py --writes-only [--floor-rounds 5]
    .venv/bin/python bench/tracking_server.py --search-runs 1000000 --skip-mlflow \
        --keep /tmp/kiln1m --reuse  # build the store once, reuse it
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ["MLFLOW_ENABLE_ASYNC_LOGGING"] = "false"
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"  # fail fast instead of retrying
os.environ.pop("MLFLOW_TRACKING_URI", None)

FILTER = "metrics.loss < 0.5 and params.alpha = '0.1'"
ORDER = ["metrics.loss ASC"]
ALPHAS = ["0.1", "0.2", "0.5", "1.0"]
SEARCH_EXPERIMENT = "bench-search"
READY_TIMEOUT_S = 180.0
BASE_TIME_MS = 1_700_000_000_000
TIMED_OUT = -1.0  # search_p50_ms of a server whose search ran past the client's timeout
SLOW_SEARCH_S = 10.0  # a warm-up slower than this counts as a timed call
VENV_BIN = Path(sys.executable).parent


@dataclass
class Result:
    name: str
    ready_s: float = 0.0
    log_metric_p50_ms: float = 0.0
    log_metric_calls_per_s: float = 0.0
    batch_metrics_per_s: float = 0.0
    # --clients processes at once, each with its own run
    conc_log_metric_calls_per_s: float = 0.0
    conc_batch_metrics_per_s: float = 0.0
    conc_log_metric_cpu_ms: float = 0.0  # server CPU per call under concurrency
    conc_batch_cpu_ms: float = 0.0
    search_p50_ms: float = 0.0
    search_hits: int = 0
    log_metric_cpu_ms: float = 0.0  # server CPU (all its processes) per call
    batch_cpu_ms: float = 0.0  # server CPU per 1,000-metric batch
    search_cpu_ms: float = 0.0  # server CPU per search (timed calls only)
    idle_rss_mib: float = 0.0
    rss_after_mib: float = 0.0
    processes: int = 0
    shapes: dict[str, float] = field(default_factory=dict)  # search_shapes: p50 ms
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- populate


BULK_CHUNK_ROWS = 5000  # runs per bulk-insert transaction, for both stores
Row = tuple[int, float, str]  # (index, loss, alpha) of one search run


def _chunks(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    """What is left of ``rows`` in consecutive lists of at most ``size``."""
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


def search_rows(n: int) -> Iterator[tuple[int, float, str]]:
    """(index, loss, alpha) for each search run: the same sequence for every store."""
    rng = random.Random(42)
    for i in range(n):
        yield i, rng.random(), rng.choice(ALPHAS)


def populate_kiln(
    db: Path, artifacts: Path, n: int, mode: str, api_sample: int
) -> dict[str, float]:
    """Write the search runs into Kiln's SQLite store; return timings.

    As for MLflow: the first ``api_sample`` runs (all with ``mode == "api"``) go
    through ``create_run`` + ``log_batch``, the rest are bulk-inserted into the
    tables those calls write (``runs``, ``tags`` for the run name and user,
    ``params``, ``metrics``, ``latest_metrics``).
    """
    from sqlalchemy import insert

    from kiln.entities import RUN_NAME_TAG, USER_TAG, Metric, Param
    from kiln.store.sql.schema import latest_metrics, metrics, params, runs, tags
    from kiln.store.sql.tracking import open_sql_store

    store = open_sql_store(f"sqlite:///{db}", artifact_root=str(artifacts), workspace="default")
    exp = store.create_experiment(SEARCH_EXPERIMENT)
    location = store.get_experiment(exp).artifact_location
    api_n = n if mode == "api" else min(api_sample, n)
    rows = search_rows(n)

    start = time.perf_counter()
    for _ in range(api_n):
        i, loss, alpha = next(rows)
        ts = BASE_TIME_MS + i
        run_id = store.create_run(
            exp, user_id="bench", start_time=ts, run_name=f"run-{i}"
        ).info.run_id
        store.log_batch(
            run_id, metrics=[Metric("loss", loss, ts, 0)], params=[Param("alpha", alpha)]
        )
    api_s = time.perf_counter() - start

    start = time.perf_counter()
    ws = store.workspace

    def write(chunk: list[Row]) -> None:
        run_rows, tag_rows, param_rows, metric_rows = [], [], [], []
        for i, loss, alpha in chunk:
            run_id = uuid.uuid4().hex
            ts = BASE_TIME_MS + i
            run_rows.append(
                {
                    "run_uuid": run_id,
                    "workspace": ws,
                    "experiment_id": int(exp),
                    "name": f"run-{i}",
                    "user_id": "bench",
                    "status": "RUNNING",
                    "start_time": ts,
                    "end_time": None,
                    "lifecycle_stage": "active",
                    "deleted_time": None,
                    "artifact_uri": f"{location}/{run_id}/artifacts",
                }
            )
            for key, value in ((RUN_NAME_TAG, f"run-{i}"), (USER_TAG, "bench")):
                tag_rows.append({"workspace": ws, "run_uuid": run_id, "key": key, "value": value})
            param_rows.append({"workspace": ws, "run_uuid": run_id, "key": "alpha", "value": alpha})
            metric_rows.append(
                {
                    "workspace": ws,
                    "run_uuid": run_id,
                    "key": "loss",
                    "value": loss,
                    "timestamp": ts,
                    "step": 0,
                    "is_nan": False,
                }
            )
        with store.engine.begin() as conn:
            conn.execute(insert(runs), run_rows)
            conn.execute(insert(tags), tag_rows)
            conn.execute(insert(params), param_rows)
            conn.execute(insert(metrics), metric_rows)
            conn.execute(insert(latest_metrics), metric_rows)

    for chunk in _chunks(rows, BULK_CHUNK_ROWS):
        write(chunk)
    bulk_s = time.perf_counter() - start
    return {
        "api_runs": api_n,
        "api_s": api_s,
        "api_runs_per_s": api_n / api_s if api_s else 0.0,
        "bulk_runs": n - api_n,
        "bulk_s": bulk_s,
    }


def populate_mlflow(
    db: Path, artifacts: Path, n: int, mode: str, api_sample: int
) -> dict[str, float]:
    """Write the search runs into MLflow's SQLite store; return timings.

    The first ``api_sample`` runs (all of them with ``mode == "api"``) go through
    ``create_run`` + ``log_batch``; the rest are bulk-inserted into the same ORM
    tables those calls write.
    """
    from mlflow.entities import Metric, Param
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME
    from sqlalchemy import insert

    start = time.perf_counter()
    store = SqlAlchemyStore(f"sqlite:///{db}", str(artifacts))
    init_s = time.perf_counter() - start
    exp = store.create_experiment(SEARCH_EXPERIMENT)
    location = store.get_experiment(exp).artifact_location
    api_n = n if mode == "api" else min(api_sample, n)
    rows = search_rows(n)

    start = time.perf_counter()
    for _ in range(api_n):
        i, loss, alpha = next(rows)
        ts = BASE_TIME_MS + i
        run_id = store.create_run(exp, "bench", ts, [], f"run-{i}").info.run_id
        store.log_batch(run_id, [Metric("loss", loss, ts, 0)], [Param("alpha", alpha)], [])
    api_s = time.perf_counter() - start

    start = time.perf_counter()

    def write(chunk: list[Row]) -> None:
        runs, tags, params, metrics = [], [], [], []
        for i, loss, alpha in chunk:
            run_id = uuid.uuid4().hex
            ts = BASE_TIME_MS + i
            runs.append(
                {
                    "run_uuid": run_id,
                    "name": f"run-{i}",
                    "source_type": "UNKNOWN",
                    "source_name": "",
                    "entry_point_name": "",
                    "user_id": "bench",
                    "status": "RUNNING",
                    "start_time": ts,
                    "end_time": None,
                    "deleted_time": None,
                    "source_version": "",
                    "lifecycle_stage": "active",
                    "artifact_uri": f"{location}/{run_id}/artifacts",
                    "experiment_id": int(exp),
                }
            )
            tags.append({"key": MLFLOW_RUN_NAME, "value": f"run-{i}", "run_uuid": run_id})
            params.append({"key": "alpha", "value": alpha, "run_uuid": run_id})
            point = {"key": "loss", "value": loss, "timestamp": ts, "step": 0, "is_nan": False}
            metrics.append({**point, "run_uuid": run_id})
        with store.ManagedSessionMaker(read_only=False) as session:
            session.execute(insert(SqlRun.__table__), runs)
            session.execute(insert(SqlTag.__table__), tags)
            session.execute(insert(SqlParam.__table__), params)
            session.execute(insert(SqlMetric.__table__), metrics)
            session.execute(insert(SqlLatestMetric.__table__), metrics)

    for chunk in _chunks(rows, BULK_CHUNK_ROWS):
        write(chunk)
    bulk_s = time.perf_counter() - start
    store.engine.dispose()
    return {
        "init_s": init_s,
        "api_runs": api_n,
        "api_s": api_s,
        "api_runs_per_s": api_n / api_s if api_s else 0.0,
        "bulk_runs": n - api_n,
        "bulk_s": bulk_s,
    }


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that are alive now."""
    tree = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return found


def rss_mib(pid: int) -> tuple[float, int]:
    """Summed VmRSS of ``pid`` and its descendants (MiB), and how many processes."""
    total_kib, count = 0, 0
    for p in process_tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
                count += 1
    return total_kib / 1024, count


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` and its live descendants.

    Unlike wall time, this barely moves with the load of a shared machine.
    """
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


@dataclass
class ServerSpec:
    name: str
    command: Callable[[int, Path], list[str]]  # (port, folder) -> argv


def kiln_spec(db: Path, artifacts: Path) -> ServerSpec:
    def command(port: int, folder: Path) -> list[str]:
        return [
            sys.executable, "-m", "kiln.cli.main", "server",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{db}",
            "--artifacts-destination", str(artifacts),
        ]  # fmt: skip

    return ServerSpec("kiln w1", command)


def mlflow_spec(db: Path, artifacts: Path, workers: int | None) -> ServerSpec:
    def command(port: int, folder: Path) -> list[str]:
        argv = [
            str(VENV_BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
            "--backend-store-uri", f"sqlite:///{db}",
            "--artifacts-destination", str(artifacts),
        ]  # fmt: skip
        if workers is not None:
            argv += ["--workers", str(workers)]
        return argv

    return ServerSpec(f"mlflow w{workers or 'default'}", command)


def serve_null(port: int) -> None:
    """The floor: an ASGI app that reads the request and answers ``{}`` at once, on every path.

    Served as ``kiln server --workers 1`` serves Kiln (uvicorn, the same HTTP
    protocol class with TCP_NODELAY, no access log), so the gap to it is what
    Kiln's own request handling costs.
    """
    import uvicorn

    from kiln.netproto import http_protocol

    headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body", False):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=http_protocol(),
        log_level="info",
        access_log=False,
        lifespan="off",
    )
    uvicorn.Server(config).run()


def null_spec() -> ServerSpec:
    def command(port: int, folder: Path) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "--serve-null", str(port)]

    return ServerSpec("floor", command)


@contextmanager
def running(spec: ServerSpec, folder: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    """Start a server in its own process group; yield (url, process, seconds to ready).

    The whole group is terminated on exit, killed if it lingers, even on error.
    """
    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KILN_", "MLFLOW_"))}
    env["KILN_HOME"] = str(folder / "kiln-home")
    log_path = folder / f"{spec.name.replace(' ', '-')}-{port}.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        start = time.perf_counter()
        process = subprocess.Popen(
            spec.command(port, folder),
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            with httpx.Client(timeout=2.0) as http:
                while True:
                    if process.poll() is not None:
                        raise RuntimeError(f"{spec.name} exited: {log_path.read_text()[-3000:]}")
                    try:
                        if http.get(f"{url}/health").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.perf_counter() - start > READY_TIMEOUT_S:
                        raise RuntimeError(f"{spec.name} not ready in {READY_TIMEOUT_S} s")
                    time.sleep(0.01)  # polling a subprocess for readiness
            yield url, process, time.perf_counter() - start
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, SIGKILL it after 20 s."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers (workers) of our group
    process.wait()


# --------------------------------------------------------------------------- workload


def _client_process(url: str, run_id: str, mode: str, count: int, barrier: Any, out: Any) -> None:
    """One concurrent client: wait for the others, then log; report (start, end)."""
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url)
    client.log_metric(run_id, "warm", 0.0, step=0)  # connection and imports settled
    barrier.wait()
    start = time.perf_counter()  # CLOCK_MONOTONIC: comparable across processes
    for i in range(count):
        ts = int(time.time() * 1000)
        if mode == "metric":
            client.log_metric(run_id, "loss", 1.0 / (i + 1), timestamp=ts, step=i)
        else:
            metrics = [Metric(f"m{j % 10}", float(j), ts, i * 100 + j // 10) for j in range(1000)]
            client.log_batch(run_id, metrics=metrics)
    out.put((start, time.perf_counter()))


def concurrent(
    url: str, pid: int, run_ids: list[str], mode: str, count: int
) -> tuple[float, float]:
    """``len(run_ids)`` client processes log at once -> (calls per second, server CPU ms per call).

    The clock runs from the first client's start to the last one's end.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(len(run_ids) + 1), ctx.Queue()
    procs = [
        ctx.Process(target=_client_process, args=(url, r, mode, count, barrier, out))
        for r in run_ids
    ]
    for proc in procs:
        proc.start()
    try:
        barrier.wait(timeout=300)
        cpu0 = cpu_s(pid)
        spans = [out.get(timeout=600) for _ in procs]
        cpu = cpu_s(pid) - cpu0
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    calls = count * len(run_ids)
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    return calls / elapsed, cpu * 1000 / calls


def search_shapes(n: int) -> list[tuple[str, str, int]]:
    """(label, filter, expected hits) of the equality and prefix searches, over ``n`` runs.

    The first four find the newest runs by name: without an index on tag values
    and run names they scan every run. The last matches every run, where walking
    the runs in order and stopping at the page's end is the right plan.
    """
    last, stem = f"run-{n - 1}", f"run-{(n - 1) // 10}"
    prefixed = min(11, n)  # the stem itself and its ten one-digit extensions
    return [
        ("tag = (mlflow.runName)", f"tags.`mlflow.runName` = '{last}'", 1),
        ("attributes.run_name =", f"attributes.run_name = '{last}'", 1),
        ("run_name LIKE prefix", f"attributes.run_name LIKE '{stem}%'", prefixed),
        ("tag LIKE prefix", f"tags.`mlflow.runName` LIKE '{stem}%'", prefixed),
        ("tag LIKE, every run", "tags.`mlflow.runName` LIKE 'run-%'", min(100, n)),
    ]


def time_shapes(client: Any, experiment_id: str, args: argparse.Namespace) -> dict[str, float]:
    """p50 ms of each ``search_shapes`` filter (``TIMED_OUT`` past the client's timeout).

    One warm-up call, then ``--shape-calls``; a warm-up slower than ``SLOW_SEARCH_S``
    is the only sample. The hit counts must be the expected ones.
    """
    from mlflow.exceptions import MlflowException

    found: dict[str, float] = {}
    for label, flt, hits in search_shapes(args.search_runs):
        timings: list[float] = []
        try:
            for call in range(args.shape_calls + 1):
                t = time.perf_counter()
                page = client.search_runs([experiment_id], flt, max_results=100)
                elapsed = time.perf_counter() - t
                assert len(page) == hits, f"{label}: {len(page)} hits, expected {hits}"
                if call > 0 or elapsed > SLOW_SEARCH_S:
                    timings.append(elapsed)
                if elapsed > SLOW_SEARCH_S:
                    break
        except MlflowException:  # the client's read timeout
            found[label] = TIMED_OUT
            continue
        found[label] = statistics.median(timings) * 1000
    return found


BATCHES = 20  # log_batch calls of 1,000 metrics each


def time_log_metric(client: Any, run_id: str, pid: int, calls: int, result: Result) -> None:
    """``calls`` log_metric calls one by one on ``run_id``: rate, p50, server CPU per call."""
    latencies = []
    cpu0 = cpu_s(pid)
    start = time.perf_counter()
    for step in range(calls):
        t = time.perf_counter()
        client.log_metric(
            run_id, "loss", 1.0 / (step + 1), timestamp=int(time.time() * 1000), step=step
        )
        latencies.append(time.perf_counter() - t)
    result.log_metric_calls_per_s = calls / (time.perf_counter() - start)
    result.log_metric_cpu_ms = (cpu_s(pid) - cpu0) * 1000 / calls
    result.log_metric_p50_ms = statistics.median(latencies) * 1000


def time_log_batch(client: Any, run_id: str, pid: int, batches: int, result: Result) -> None:
    """``batches`` log_batch calls of 1,000 metrics: metrics/s, server CPU per batch."""
    from mlflow.entities import Metric

    cpu0 = cpu_s(pid)
    start = time.perf_counter()
    for b in range(batches):
        ts = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(f"m{i % 10}", float(i), ts, b * 100 + i // 10) for i in range(1000)],
        )
    result.batch_metrics_per_s = batches * 1000 / (time.perf_counter() - start)
    result.batch_cpu_ms = (cpu_s(pid) - cpu0) * 1000 / batches


def workload(url: str, pid: int, result: Result, args: argparse.Namespace) -> list[float] | None:
    """Run the measured calls against ``url``; return the losses the search found.

    ``None`` (and ``search_p50_ms == TIMED_OUT``) when a search ran past the
    client's timeout (``--search-timeout``).
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url)
    tag = uuid.uuid4().hex[:8]
    exp = client.create_experiment(f"bench-{tag}")

    time_log_metric(client, client.create_run(exp).info.run_id, pid, args.log_metric_calls, result)
    time_log_batch(client, client.create_run(exp).info.run_id, pid, BATCHES, result)

    # the same two, from --clients processes at once (server capacity)
    if args.clients > 0:
        runs = [client.create_run(exp).info.run_id for _ in range(args.clients)]
        rate, cpu = concurrent(url, pid, runs, "metric", args.concurrent_calls)
        result.conc_log_metric_calls_per_s, result.conc_log_metric_cpu_ms = rate, cpu
        runs = [client.create_run(exp).info.run_id for _ in range(args.clients)]
        rate, cpu = concurrent(url, pid, runs, "batch", args.concurrent_batches)
        result.conc_batch_metrics_per_s, result.conc_batch_cpu_ms = rate * 1000, cpu

    # search over the pre-populated experiment
    experiment = client.get_experiment_by_name(SEARCH_EXPERIMENT)
    assert experiment is not None, "the search experiment was not populated"
    search_exp = experiment.experiment_id

    def search() -> tuple[list[Any], float]:
        t = time.perf_counter()
        found = client.search_runs([search_exp], FILTER, order_by=ORDER, max_results=100)
        return list(found), time.perf_counter() - t

    from mlflow.exceptions import MlflowException

    try:
        page, warm_s = search()
    except MlflowException as exc:  # the client's read timeout: record it, go on
        result.search_p50_ms = TIMED_OUT
        result.extra["search_error"] = str(exc)[:300]
        return None
    # A search slower than SLOW_SEARCH_S is its own sample; stop after --search-budget s.
    timings = [warm_s] if warm_s > SLOW_SEARCH_S else []
    spent = sum(timings)
    cpu0 = cpu_s(pid)
    while len(timings) < args.search_calls and (not timings or spent < args.search_budget):
        page, elapsed = search()
        timings.append(elapsed)
        spent += elapsed
    timed_here = len(timings) - (1 if warm_s > SLOW_SEARCH_S else 0)
    if timed_here:
        result.search_cpu_ms = (cpu_s(pid) - cpu0) * 1000 / timed_here
    result.search_p50_ms = statistics.median(timings) * 1000
    result.search_hits = len(page)
    result.extra["search_calls_timed"] = len(timings)
    result.extra["search_min_ms"] = min(timings) * 1000
    result.extra["search_max_ms"] = max(timings) * 1000
    if args.shape_calls > 0:
        result.shapes = time_shapes(client, search_exp, args)
    return [run.data.metrics["loss"] for run in page]


def against_floor(kiln: ServerSpec, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Kiln beside the null server (``serve_null``), both up at once, in alternating rounds.

    Each of ``--floor-rounds`` rounds times ``log_metric`` and then ``log_batch`` on
    both servers, the order flipped every round so that a change in the machine's
    load hits both alike. Per measure: the median rate of each server and the
    median of the per-round ratios kiln/floor.
    """
    from mlflow.tracking import MlflowClient

    with (
        running(null_spec(), folder) as (null_url, null_proc, _),
        running(kiln, folder) as (kiln_url, kiln_proc, _),
    ):
        floor_client, kiln_client = MlflowClient(null_url), MlflowClient(kiln_url)
        exp = kiln_client.create_experiment(f"floor-{uuid.uuid4().hex[:8]}")
        servers = {
            "floor": (floor_client, null_proc.pid, lambda: uuid.uuid4().hex),
            "kiln": (kiln_client, kiln_proc.pid, lambda: kiln_client.create_run(exp).info.run_id),
        }
        for client, pid, new_run in servers.values():  # warm-up: imports, connections
            time_log_metric(client, new_run(), pid, 50, Result("warm-up"))
            time_log_batch(client, new_run(), pid, 1, Result("warm-up"))
        rounds: dict[str, list[Result]] = {"floor": [], "kiln": []}
        for r in range(args.floor_rounds):
            order = ["floor", "kiln"] if r % 2 == 0 else ["kiln", "floor"]
            found = {name: Result(name) for name in order}
            for name in order:
                client, pid, new_run = servers[name]
                time_log_metric(client, new_run(), pid, args.log_metric_calls, found[name])
            for name in reversed(order):
                client, pid, new_run = servers[name]
                time_log_batch(client, new_run(), pid, BATCHES, found[name])
            for name in order:
                rounds[name].append(found[name])
            print(
                f"  round {r + 1}: log_metric floor {found['floor'].log_metric_calls_per_s:,.0f}/s "
                f"kiln {found['kiln'].log_metric_calls_per_s:,.0f}/s; log_batch floor "
                f"{found['floor'].batch_metrics_per_s:,.0f} kiln "
                f"{found['kiln'].batch_metrics_per_s:,.0f} metrics/s",
                flush=True,
            )
    summary: dict[str, Any] = {"rounds": args.floor_rounds}
    for measure, attr, cpu in (
        ("log_metric", "log_metric_calls_per_s", "log_metric_cpu_ms"),
        ("log_batch", "batch_metrics_per_s", "batch_cpu_ms"),
    ):
        pairs = list(zip(rounds["floor"], rounds["kiln"], strict=True))
        summary[measure] = {
            "floor": statistics.median(getattr(f, attr) for f, _ in pairs),
            "kiln": statistics.median(getattr(k, attr) for _, k in pairs),
            "kiln_over_floor": statistics.median(
                getattr(k, attr) / getattr(f, attr) for f, k in pairs
            ),
            "floor_cpu_ms": statistics.median(getattr(f, cpu) for f, _ in pairs),
            "kiln_cpu_ms": statistics.median(getattr(k, cpu) for _, k in pairs),
            "all_floor": [getattr(f, attr) for f, _ in pairs],
            "all_kiln": [getattr(k, attr) for _, k in pairs],
        }
    return summary


def floor_table(floor: dict[str, Any], results: list[Result]) -> str:
    """Writes through the client: the floor, Kiln (paired rounds), the MLflow servers, ratios."""
    mlflow = [r for r in results if r.name.startswith("mlflow")]
    head = f"{'one client':<22}{'floor':>10}{'kiln':>10}" + "".join(f"{r.name:>12}" for r in mlflow)
    head += f"{'kiln/floor':>12}" + "".join(f"{'kiln/' + r.name:>18}" for r in mlflow)
    lines = [head, "-" * len(head)]
    for label, measure, attr in (
        ("log_metric calls/s", "log_metric", "log_metric_calls_per_s"),
        ("log_batch metrics/s", "log_batch", "batch_metrics_per_s"),
    ):
        row = floor[measure]
        line = f"{label:<22}{row['floor']:>10,.0f}{row['kiln']:>10,.0f}"
        line += "".join(f"{getattr(r, attr):>12,.0f}" for r in mlflow)
        line += f"{row['kiln_over_floor']:>12.2f}"
        line += "".join(
            f"{row['kiln'] / getattr(r, attr):>18.1f}" if getattr(r, attr) else f"{'-':>18}"
            for r in mlflow
        )
        lines.append(line)
    for label, measure in (("per log_metric", "log_metric"), ("per 1k batch", "log_batch")):
        row = floor[measure]
        lines.append(
            f"server CPU {label} (ms): "
            f"floor {row['floor_cpu_ms']:.2f}, kiln {row['kiln_cpu_ms']:.2f}"
        )
    lines.append(
        f"(floor and kiln: medians of {floor['rounds']} alternating rounds, both servers up; "
        "kiln/floor: median of the per-round ratios)"
    )
    return "\n".join(lines)


def measure(
    spec: ServerSpec, folder: Path, args: argparse.Namespace
) -> tuple[Result, list[float] | None]:
    result = Result(spec.name)
    readies = []
    for _ in range(max(args.ready_trials - 1, 0)):
        with running(spec, folder) as (_url, _process, ready_s):
            readies.append(ready_s)
    with running(spec, folder) as (url, process, ready_s):
        readies.append(ready_s)
        result.ready_s = statistics.median(readies)
        result.extra["ready_all_s"] = readies
        time.sleep(1.0)  # let start-up work settle before reading idle memory
        result.idle_rss_mib, result.processes = rss_mib(process.pid)
        print(f"  {spec.name}: ready in {ready_s:.2f} s, {result.idle_rss_mib:.0f} MiB", flush=True)
        losses = workload(url, process.pid, result, args)
        time.sleep(1.0)
        result.rss_after_mib, _ = rss_mib(process.pid)
    search = (
        f"> {args.search_timeout:.0f} s (timed out)"
        if result.search_p50_ms == TIMED_OUT
        else f"{result.search_p50_ms:,.1f} ms"
    )
    print(
        f"  {spec.name}: log_metric p50 {result.log_metric_p50_ms:.2f} ms "
        f"({result.log_metric_calls_per_s:,.0f}/s), log_batch {result.batch_metrics_per_s:,.0f} "
        f"metrics/s, search p50 {search}, RSS after {result.rss_after_mib:,.0f} MiB",
        flush=True,
    )
    return result, losses


# --------------------------------------------------------------------------- report


def ratio(kiln: float, other: float, higher_is_better: bool, timeout_ms: float) -> str:
    if kiln == TIMED_OUT:
        return "-"
    if other == TIMED_OUT:
        return f"> {timeout_ms / kiln:,.0f}x"
    if kiln <= 0 or other <= 0:
        return "-"
    return f"{(kiln / other if higher_is_better else other / kiln):,.1f}x"


def cell(value: float, fmt: str, timeout_ms: float) -> str:
    return f"> {timeout_ms:,.0f}" if value == TIMED_OUT else format(value, fmt)


def table(results: list[Result], n: int, timeout_s: float, clients: int) -> str:
    timeout_ms = timeout_s * 1000
    kiln, others = results[0], results[1:]
    rows: list[tuple[str, str, bool, str]] = [
        ("time to ready (s)", "ready_s", False, ".2f"),
        ("log_metric p50 (ms)", "log_metric_p50_ms", False, ".2f"),
        ("log_metric calls/s", "log_metric_calls_per_s", True, ",.0f"),
        ("log_batch metrics/s", "batch_metrics_per_s", True, ",.0f"),
        (f"log_metric calls/s, {clients} clients", "conc_log_metric_calls_per_s", True, ",.0f"),
        (f"log_batch metrics/s, {clients} clients", "conc_batch_metrics_per_s", True, ",.0f"),
        (f"search p50, {n:,} runs (ms)", "search_p50_ms", False, ",.1f"),
        ("server CPU per log_metric (ms)", "log_metric_cpu_ms", False, ",.2f"),
        ("server CPU per 1k batch (ms)", "batch_cpu_ms", False, ",.1f"),
        (f"  same, {clients} clients: log_metric", "conc_log_metric_cpu_ms", False, ",.2f"),
        (f"  same, {clients} clients: 1k batch", "conc_batch_cpu_ms", False, ",.1f"),
        ("server CPU per search (ms)", "search_cpu_ms", False, ",.1f"),
        ("idle RSS (MiB)", "idle_rss_mib", False, ",.0f"),
        ("RSS after workload (MiB)", "rss_after_mib", False, ",.0f"),
        ("server processes", "processes", False, "d"),
    ]
    head = f"{'measure':<32}" + "".join(f"{r.name:>14}" for r in results)
    head += "".join(f"{'vs ' + o.name:>18}" for o in others)
    lines = [head, "-" * len(head)]
    for label, attr, higher, fmt in rows:
        k = getattr(kiln, attr)
        line = f"{label:<32}"
        line += "".join(f"{cell(getattr(r, attr), fmt, timeout_ms):>14}" for r in results)
        if attr != "processes":
            line += "".join(f"{ratio(k, getattr(o, attr), higher, timeout_ms):>18}" for o in others)
        lines.append(line)
    if kiln.shapes:
        lines.append(f"search shapes, {n:,} runs, p50:")
    for label, _flt, _hits in search_shapes(n) if kiln.shapes else []:
        k = kiln.shapes.get(label, 0.0)
        line = f"{'  ' + label + ' (ms)':<32}"
        line += "".join(
            f"{cell(r.shapes.get(label, 0.0), ',.1f', timeout_ms):>14}" for r in results
        )
        line += "".join(
            f"{ratio(k, o.shapes.get(label, 0.0), False, timeout_ms):>18}" for o in others
        )
        lines.append(line)
    lines.append("(ratios: how many times better kiln is; < 1.0x means kiln is worse)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--search-runs", type=int, default=100_000)
    parser.add_argument("--search-calls", type=int, default=15)
    parser.add_argument(
        "--search-timeout",
        type=float,
        default=300.0,
        help="client read timeout (s) for the search; a server past it is reported as timed out",
    )
    parser.add_argument(
        "--search-budget",
        type=float,
        default=120.0,
        help="stop timing searches on a server after this many seconds (at least 1 call)",
    )
    parser.add_argument("--log-metric-calls", type=int, default=1_000)
    parser.add_argument(
        "--clients", type=int, default=8, help="concurrent client processes (0: skip)"
    )
    parser.add_argument("--concurrent-calls", type=int, default=200, help="log_metric per client")
    parser.add_argument("--concurrent-batches", type=int, default=5, help="1k batches per client")
    parser.add_argument("--ready-trials", type=int, default=3)
    parser.add_argument("--mlflow-populate", choices=["bulk", "api"], default="bulk")
    parser.add_argument("--kiln-populate", choices=["bulk", "api"], default="bulk")
    parser.add_argument("--mlflow-api-sample", type=int, default=300)
    parser.add_argument(
        "--skip-mlflow-default", action="store_true", help="no default-workers mlflow"
    )
    parser.add_argument(
        "--skip-mlflow",
        action="store_true",
        help="Kiln alone (and the floor): no MLflow store or server, e.g. at 1,000,000 runs",
    )
    parser.add_argument(
        "--shape-calls", type=int, default=5, help="timed calls per search shape (0: skip)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep stores and logs in")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --keep: reuse stores a previous run populated there (same --search-runs)",
    )
    parser.add_argument(
        "--floor-rounds",
        type=int,
        default=5,
        help="alternating rounds of kiln beside the null server (0: skip)",
    )
    parser.add_argument(
        "--writes-only", action="store_true", help="only the rounds against the floor"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--serve-null", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_null is not None:  # the null server's own process (see null_spec)
        serve_null(args.serve_null)
        return
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(int(args.search_timeout))

    with tempfile.TemporaryDirectory(prefix="kiln-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        kdb, kart = folder / "kiln.db", folder / "kiln-artifacts"
        mdb, mart = folder / "mlflow.db", folder / "mlflow-artifacts"
        kpop: dict[str, float] = {"api_runs_per_s": 0.0}
        mpop: dict[str, float] = {"api_runs_per_s": 0.0}
        floor: dict[str, Any] | None = None
        if args.writes_only:
            print(f"writes against the floor ({args.floor_rounds} rounds):", flush=True)
            floor = against_floor(kiln_spec(kdb, kart), folder, args)
            print()
            print(floor_table(floor, []))
            if args.json:
                args.json.write_text(json.dumps({"floor": floor}, indent=2))
            return
        if args.reuse and kdb.exists() and (args.skip_mlflow or mdb.exists()):
            print(f"reusing the stores in {folder} (no populating)", flush=True)
        else:
            print(f"populating {args.search_runs:,} runs in {folder}", flush=True)
            kpop = populate_kiln(
                kdb, kart, args.search_runs, args.kiln_populate, args.mlflow_api_sample
            )
            print(
                f"  kiln: {kpop['api_runs']:,} runs via API in {kpop['api_s']:.1f} s "
                f"({kpop['api_runs_per_s']:.1f} runs/s); "
                f"{kpop['bulk_runs']:,} bulk in {kpop['bulk_s']:.1f} s",
                flush=True,
            )
        if not args.skip_mlflow and not (args.reuse and mdb.exists()):
            mpop = populate_mlflow(
                mdb, mart, args.search_runs, args.mlflow_populate, args.mlflow_api_sample
            )
            print(
                f"  mlflow: init {mpop['init_s']:.1f} s; {mpop['api_runs']:,} runs via API in "
                f"{mpop['api_s']:.1f} s ({mpop['api_runs_per_s']:.1f} runs/s); "
                f"{mpop['bulk_runs']:,} bulk in {mpop['bulk_s']:.1f} s",
                flush=True,
            )

        if args.floor_rounds > 0:
            print(f"writes against the floor ({args.floor_rounds} rounds):", flush=True)
            floor = against_floor(kiln_spec(kdb, kart), folder, args)
        specs = [kiln_spec(kdb, kart)]
        if not args.skip_mlflow:
            specs.append(mlflow_spec(mdb, mart, 1))
        if not args.skip_mlflow and not args.skip_mlflow_default:
            specs.append(mlflow_spec(mdb, mart, None))
        results: list[Result] = []
        pages: list[list[float] | None] = []
        print("servers:", flush=True)
        for spec in specs:
            try:
                result, losses = measure(spec, folder, args)
            except Exception as exc:  # report the other servers anyway (kiln's must work)
                if not results:
                    raise
                print(f"  {spec.name} failed: {exc!r}"[:2000], flush=True)
                continue
            results.append(result)
            pages.append(losses)

    print()
    print(table(results, args.search_runs, args.search_timeout, args.clients))
    if floor is not None:
        print()
        print(floor_table(floor, results))
    answered = [p for p in pages if p is not None]
    same = all(p == answered[0] for p in answered)
    hits = ", ".join(f"{r.name} {r.search_hits}" for r in results)
    print(f"search hits: {hits}; same losses on every server that answered: {same}")
    if kpop["api_runs_per_s"]:
        print(
            f"populate via create_run+log_batch: kiln {kpop['api_runs_per_s']:,.0f} runs/s; "
            f"mlflow {mpop['api_runs_per_s']:.1f} runs/s"
        )
    if args.json:
        payload = {
            "search_runs": args.search_runs,
            "populate": {"kiln": kpop, "mlflow": mpop},
            "results": [asdict(r) for r in results],
            "same_search_results": same,
            "floor": floor,
        }
        args.json.write_text(json.dumps(payload, indent=2))
    if not same:
        sys.exit("search results differ between servers")


if __name__ == "__main__":
    main()
