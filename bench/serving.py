"""Scoring server: ``kiln models serve`` beside ``mlflow models serve --env-manager local``.

One sklearn ElasticNet trained on the vendored wine data (11 numeric columns), saved
once with ``kiln.models.sklearn.save_model`` in MLflow's layout; both servers serve
that same folder. Each server runs alone as a subprocess on a free 127.0.0.1 port
(they never compete for the CPU), plus a bare ASGI app (uvicorn + Starlette, one
route that echoes the POST body, TCP_NODELAY) as the HTTP floor of this stack.

Measures (client: ``http.client`` keep-alive connections):

1. single-row p50 latency and sequential req/s: the ``dataframe_split`` body for
   every server, and the reference pandas-split wine request (1.x shape) for Kiln;
2. ``--clients`` (8) concurrent clients, each its own process (threads would make
   the Python client the bottleneck): total req/s and the clients' p50/p99;
3. 10,000-row batch: p50 of ``dataframe_split`` with 10,000 rows;
4. server CPU (user+system of the server's process tree) per single-row request:
   far less sensitive to other load on the machine than the wall times;
5. when ``wrk`` is on PATH (and not ``--no-wrk``): ``wrk -c 64 -t 2 -d 30s`` with
   the single-row body against the Kiln servers; req/s, latency percentiles, and
   errors (socket errors + non-2xx answers; the goal is zero).

Then the in-process cost of one reference request: each step of the scoring path,
and the whole ASGI app called directly (no sockets), as thread CPU time.

Servers: kiln (1 worker), kiln (``--workers 2``), mlflow (its default: 1 worker),
bare ASGI echo.

``--memory`` measures large bodies instead (Kiln, 1 worker, a fresh server per case):
one and three concurrent ``dataframe_split`` bodies of ``--big-mb`` (95) MB each,
sampling the scoring process's RSS every 10 ms (peak over its idle RSS, and the
kernel's high-water mark), each big request's status and time, and the latency of
one-row requests sent back to back on another connection meanwhile. Usage::

    .venv/bin/python bench/serving.py [--requests 1000] [--seconds 5] [--clients 8]
        [--batches 15] [--wrk-seconds 30] [--no-wrk] [--json out.json]
    .venv/bin/python bench/serving.py --memory [--big-mb 95] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WINE_DATA = ROOT / "examples/wine/data/winequality.csv.gz"
WINE_1X = (
    b'{"columns":["alcohol", "chlorides", "citric acid", "density", "fixed acidity", '
    b'"free sulfur dioxide", "pH", "residual sugar", "sulphates", "total sulfur dioxide", '
    b'"volatile acidity"],"data":[[12.8, 0.029, 0.48, 0.98, 6.2, 29, 3.33, 1.2, 0.39, 75, 0.66]]}'
)
ECHO_APP = """
import sys
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from kiln.serving.runner import serve

async def echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/json")

async def ping(request: Request) -> Response:
    return Response(b"\\n", media_type="application/json")

app = Starlette(routes=[Route("/invocations", echo, methods=["POST"]), Route("/ping", ping)])
serve(lambda: app, port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_model(folder: Path) -> tuple[Path, list[list[float]], list[str]]:
    """Train and save the wine ElasticNet; return its folder, sample rows and columns."""
    import pandas as pd
    from sklearn.linear_model import ElasticNet

    from kiln.models import sklearn as kiln_sklearn
    from kiln.models.signature import infer_signature

    frame = pd.read_csv(WINE_DATA)
    features = frame.drop(columns=["quality", "color"])
    model = ElasticNet(alpha=0.5, l1_ratio=0.5, random_state=42).fit(features, frame["quality"])
    path = folder / "wine-model"
    kiln_sklearn.save_model(
        model, path, signature=infer_signature(features, model.predict(features))
    )
    rows = features.sample(10_000, replace=True, random_state=0).to_numpy().tolist()
    return path, rows, list(features.columns)


@contextmanager
def spawn(command: list[str], port: int, log: Path) -> Iterator[tuple[float, int]]:
    """Start a server; yield (seconds to first 200 on /ping, pid); stop its process group."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("TRACKING_URI")}
    env["KILN_HOME"] = str(log.parent / "kiln-home")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # uvicorn
    start = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[:4]} exited:\n{log.read_text()[-3000:]}")
            with suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/ping")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            time.sleep(0.1)  # readiness polling
        yield time.perf_counter() - start, process.pid
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _post(conn: http.client.HTTPConnection, body: bytes, content_type: str) -> bytes:
    conn.request("POST", "/invocations", body=body, headers={"Content-Type": content_type})
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"{response.status}: {data[:300]!r}")
    return data


def sequential(port: int, body: bytes, content_type: str, n: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(max(20, n // 20)):
        _post(conn, body, content_type)
    times = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        _post(conn, body, content_type)
        times.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    conn.close()
    return {"p50_ms": statistics.median(times) * 1e3, "req_s": n / total}


def _client_process(
    port: int,
    body: bytes,
    content_type: str,
    seconds: float,
    barrier: Any,
    out: Any,
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(20):
        _post(conn, body, content_type)
    barrier.wait()
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while True:
        t = time.perf_counter()
        if t >= deadline:
            break
        _post(conn, body, content_type)
        times.append(time.perf_counter() - t)
    conn.close()
    out.put(times)


def concurrent(
    port: int, body: bytes, content_type: str, clients: int, seconds: float
) -> dict[str, float]:
    """``clients`` processes posting back to back for ``seconds``: req/s and latencies."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(clients)
    out = context.Queue()
    processes = [
        context.Process(
            target=_client_process, args=(port, body, content_type, seconds, barrier, out)
        )
        for _ in range(clients)
    ]
    for process in processes:
        process.start()
    times = [t for _ in processes for t in out.get(timeout=seconds + 120)]
    for process in processes:
        process.join()
    times.sort()
    return {
        "req_s": len(times) / seconds,
        "p50_ms": times[len(times) // 2] * 1e3,
        "p99_ms": times[int(len(times) * 0.99)] * 1e3,
    }


def batch_p50(port: int, body: bytes, n: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    _post(conn, body, "application/json")
    times = []
    for _ in range(n):
        t = time.perf_counter()
        _post(conn, body, "application/json")
        times.append(time.perf_counter() - t)
    conn.close()
    return statistics.median(times) * 1e3


def _tree_cpu_s(pid: int) -> float:
    """User+system CPU seconds of ``pid`` and its descendants (Linux /proc)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        with suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending += [int(c) for c in children]
    return total


def server_cpu_us(pid: int, port: int, body: bytes, content_type: str, n: int) -> float:
    """Server CPU (us) per sequential single-row request, over ``n`` requests."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    _post(conn, body, content_type)
    before = _tree_cpu_s(pid)
    for _ in range(n):
        _post(conn, body, content_type)
    after = _tree_cpu_s(pid)
    conn.close()
    return (after - before) / n * 1e6


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "KILN-WRK {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"connect\\": %%d, "
    .. "\\"read\\": %%d, \\"write\\": %%d, \\"status\\": %%d, \\"timeout\\": %%d, "
    .. "\\"p50_us\\": %%d, \\"p90_us\\": %%d, \\"p99_us\\": %%d, \\"max_us\\": %%d}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def run_wrk(port: int, body: bytes, seconds: int, work: Path) -> dict[str, float]:
    """``wrk -c 64 -t 2`` with the single-row body: req/s, latency percentiles, errors."""
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT % body.decode())
    command = ["wrk", "-c", "64", "-t", "2", "-d", f"{seconds}s", "--timeout", "10s"]
    done = subprocess.run(
        [*command, "-s", str(script), f"http://127.0.0.1:{port}/invocations"],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 120,
    )
    found = re.search(r"KILN-WRK (\{.*\})", done.stdout)
    if found is None:
        raise RuntimeError(f"unexpected wrk output:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(found.group(1))
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"] + raw["status"]
    return {
        "req_s": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1e3,
        "p90_ms": raw["p90_us"] / 1e3,
        "p99_ms": raw["p99_us"] / 1e3,
        "max_ms": raw["max_us"] / 1e3,
        "requests": raw["requests"],
        "errors": errors,
        "non_2xx": raw["status"],
    }


def breakdown(model_path: Path, one_row: bytes, n: int = 2000) -> dict[str, float]:
    """In-process cost (us, thread CPU time, median of batches) of one single-row request.

    The steps of the reference 1.x request through the scoring path, then the whole
    app (routing, metrics, encoding) called as ASGI with no sockets, for the 1.x
    request and the ``dataframe_split`` body; and sklearn's own ``predict`` on the
    one-row array, the floor of it all.
    """
    import warnings

    import numpy as np

    from kiln.models.pyfunc import load_model
    from kiln.serving import encoding
    from kiln.serving.app import create_scoring_app
    from kiln.serving.direct import direct_path
    from kiln.serving.invocations import parse_invocation
    from kiln.serving.model import describe_model

    model = load_model(model_path)
    interface = describe_model(model)
    direct = direct_path(model)
    legacy = "application/json; format=pandas-split"
    parsed = parse_invocation(WINE_1X, legacy, interface, direct)
    estimator = model.unwrap_python_model()
    row = np.asarray(parsed.data, dtype="float64")
    app = create_scoring_app(model, name="wine")

    def floor() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator.predict(row)

    def asgi(body: bytes, content_type: str) -> Any:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/invocations",
            "raw_path": b"/invocations",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"bench"),
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 2),
        }
        message = {"type": "http.request", "body": body, "more_body": False}

        async def receive() -> Any:
            return message

        async def send(message: Any) -> None:
            return None

        def call() -> None:
            coroutine = app(scope, receive, send)
            try:
                coroutine.send(None)  # nothing in this request awaits real I/O
            except StopIteration:
                return
            coroutine.close()
            raise RuntimeError("the app suspended; run it on an event loop instead")

        return call

    predictions = model.predict(parse_invocation(WINE_1X, legacy, interface).data)
    steps: dict[str, Any] = {
        "parse (direct path)": lambda: parse_invocation(WINE_1X, legacy, interface, direct),
        "parse (general path)": lambda: parse_invocation(WINE_1X, legacy, interface),
        "predict (direct path)": lambda: direct.predict(parsed.data) if direct else None,
        "predict (pyfunc, frame)": lambda: model.predict(
            parse_invocation(WINE_1X, legacy, interface).data
        ),
        "encode": lambda: encoding.dumps_predictions(predictions, wrap=False),
        "whole app, reference 1.x request": asgi(WINE_1X, legacy),
        "whole app, dataframe_split": asgi(one_row, "application/json"),
        "sklearn predict(array) floor": floor,
    }
    out: dict[str, float] = {}
    batch = 50
    for label, step in steps.items():
        for _ in range(batch):
            step()
        samples = []
        for _ in range(max(1, n // batch)):
            t = time.thread_time()
            for _ in range(batch):
                step()
            samples.append((time.thread_time() - t) / batch)
        out[label] = statistics.median(samples) * 1e6
    return out


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def big_body(rows: list[list[float]], columns: list[str], megabytes: float) -> bytes:
    """A ``dataframe_split`` body of about ``megabytes`` MB (the sample rows repeated)."""
    chunk = json.dumps(rows)[1:-1]
    copies = max(1, int(megabytes * 1e6 / (len(chunk) + 1)))
    head = json.dumps({"dataframe_split": {"columns": columns, "data": []}})[:-4]
    return (head + "[" + ",".join([chunk] * copies) + "]}}").encode()


def _big_post(port: int, body: bytes, out: list[tuple[int, float]]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    start = time.perf_counter()
    conn.request("POST", "/invocations", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    out.append((response.status, time.perf_counter() - start))
    conn.close()


def memory_case(
    model_path: Path, work: Path, big: bytes, small: bytes, concurrent_bodies: int
) -> dict[str, Any]:
    """One fresh server, ``concurrent_bodies`` big requests at once, small ones meanwhile."""
    import threading

    kiln = [sys.executable, "-m", "kiln.cli.main", "models", "serve", "-m", str(model_path)]
    port = free_port()
    log = work / f"memory-{concurrent_bodies}-{port}.log"
    with spawn([*kiln, "--port", str(port)], port, log) as (_ready, pid):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        for _ in range(50):
            _post(conn, small, "application/json")
        idle_kb = _status_kb(pid, "VmRSS")
        answers: list[tuple[int, float]] = []
        bigs = [
            threading.Thread(target=_big_post, args=(port, big, answers))
            for _ in range(concurrent_bodies)
        ]
        peak_kb = idle_kb
        latencies: list[float] = []
        for thread in bigs:
            thread.start()
        last_sample = 0.0
        while any(t.is_alive() for t in bigs):
            t = time.perf_counter()
            _post(conn, small, "application/json")
            latencies.append(time.perf_counter() - t)
            if t - last_sample > 0.01:
                peak_kb = max(peak_kb, _status_kb(pid, "VmRSS"))
                last_sample = t
        for thread in bigs:
            thread.join()
        hwm_kb = _status_kb(pid, "VmHWM")
        conn.close()
    latencies.sort()
    return {
        "model": model_path.name,
        "bodies": concurrent_bodies,
        "body_mb": len(big) / 1e6,
        "idle_rss_mb": idle_kb / 1024,
        "peak_rss_mb": peak_kb / 1024,
        "hwm_mb": hwm_kb / 1024,
        "peak_over_idle_mb": (max(peak_kb, hwm_kb) - idle_kb) / 1024,
        "statuses": sorted(status for status, _ in answers),
        "big_s": [round(seconds, 2) for _, seconds in answers],
        "small_requests": len(latencies),
        "small_p50_ms": latencies[len(latencies) // 2] * 1e3 if latencies else 0.0,
        "small_p99_ms": latencies[int(len(latencies) * 0.99)] * 1e3 if latencies else 0.0,
        "small_max_ms": latencies[-1] * 1e3 if latencies else 0.0,
    }


def memory_bench(big_mb: float, out: Path | None) -> None:
    """``--memory``: RSS and small-request latency around one and three big bodies."""
    work = Path(tempfile.mkdtemp(prefix="kiln-bench-serving-memory-"))
    model_path, rows, columns = build_model(work)
    small = json.dumps({"dataframe_split": {"columns": columns, "data": rows[:1]}}).encode()
    big = big_body(rows, columns, big_mb)
    from kiln.models import sklearn as kiln_sklearn

    unsigned = work / "wine-model-unsigned"  # the same estimator, saved without a signature
    kiln_sklearn.save_model(kiln_sklearn.load_model(model_path), unsigned)
    results = [
        memory_case(path, work, big, small, n) for path in (model_path, unsigned) for n in (1, 3)
    ]
    print(
        "| model | big bodies at once | body MB | idle RSS MB | peak RSS MB | peak-idle MB | "
        "statuses | big s | 1-row during: n, p50/p99/max ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['model']} | {r['bodies']} | {r['body_mb']:.0f} | {r['idle_rss_mb']:.0f} | "
            f"{max(r['peak_rss_mb'], r['hwm_mb']):.0f} | {r['peak_over_idle_mb']:.0f} | "
            f"{r['statuses']} | {r['big_s']} | {r['small_requests']}, "
            f"{r['small_p50_ms']:.1f}/{r['small_p99_ms']:.1f}/{r['small_max_ms']:.0f} |"
        )
    if out is not None:
        out.write_text(json.dumps({"memory": results}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests")
    parser.add_argument("--seconds", type=float, default=5.0, help="concurrent window")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client processes")
    parser.add_argument("--batches", type=int, default=15, help="10,000-row requests")
    parser.add_argument("--wrk-seconds", type=int, default=30, help="wrk soak per Kiln server")
    parser.add_argument("--no-wrk", action="store_true", help="skip the wrk soak")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--memory", action="store_true", help="only the large-body cases")
    parser.add_argument("--big-mb", type=float, default=95.0, help="size of a large body")
    args = parser.parse_args()
    if args.memory:
        memory_bench(args.big_mb, args.json)
        return
    use_wrk = not args.no_wrk and shutil.which("wrk") is not None

    work = Path(tempfile.mkdtemp(prefix="kiln-bench-serving-"))
    model_path, rows, columns = build_model(work)
    one_row = json.dumps({"dataframe_split": {"columns": columns, "data": rows[:1]}}).encode()
    big = json.dumps({"dataframe_split": {"columns": columns, "data": rows}}).encode()
    kiln = [sys.executable, "-m", "kiln.cli.main", "models", "serve", "-m", str(model_path)]
    mlflow_bin = str(Path(sys.executable).parent / "mlflow")
    servers: dict[str, Any] = {
        "kiln (1 worker)": lambda p: [*kiln, "--port", str(p)],
        "kiln (2 workers)": lambda p: [*kiln, "--port", str(p), "--workers", "2"],
        "mlflow (default, 1 worker)": lambda p: [
            mlflow_bin,
            "models",
            "serve",
            "-m",
            str(model_path),
            "--env-manager",
            "local",
            "-p",
            str(p),
            "-h",
            "127.0.0.1",
        ],
        "bare ASGI echo": lambda p: [sys.executable, "-c", ECHO_APP, str(p)],
    }
    results: dict[str, dict[str, float]] = {}
    for label, command in servers.items():
        port = free_port()
        log = work / f"{label.split()[0]}-{port}.log"
        with spawn(command(port), port, log) as (ready_s, pid):
            result: dict[str, float] = {"ready_s": ready_s}
            single = sequential(port, one_row, "application/json", args.requests)
            result["single_p50_ms"], result["sequential_req_s"] = single["p50_ms"], single["req_s"]
            if label.startswith("kiln"):
                legacy = sequential(
                    port, WINE_1X, "application/json; format=pandas-split", args.requests
                )
                result["reference_1x_p50_ms"] = legacy["p50_ms"]
            result["server_cpu_us"] = server_cpu_us(
                pid, port, one_row, "application/json", args.requests
            )
            many = concurrent(port, one_row, "application/json", args.clients, args.seconds)
            result["concurrent_req_s"] = many["req_s"]
            result["concurrent_p50_ms"] = many["p50_ms"]
            result["concurrent_p99_ms"] = many["p99_ms"]
            if not label.startswith("bare"):
                result["batch_10k_p50_ms"] = batch_p50(port, big, args.batches)
            if use_wrk and label.startswith("kiln"):
                soak = run_wrk(port, one_row, args.wrk_seconds, work)
                result.update({f"wrk_{key}": value for key, value in soak.items()})
        results[label] = result
        print(f"{label}: {json.dumps({k: round(v, 3) for k, v in result.items()})}", flush=True)

    mlflow = results["mlflow (default, 1 worker)"]
    print()
    print(
        f"| server | ready s | 1-row p50 ms | seq req/s | server CPU us/req | "
        f"{args.clients} clients req/s | {args.clients} clients p50/p99 ms | 10k-row p50 ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, r in results.items():
        batch = f"{r['batch_10k_p50_ms']:.1f}" if "batch_10k_p50_ms" in r else "-"
        print(
            f"| {label} | {r['ready_s']:.1f} | {r['single_p50_ms']:.2f} | "
            f"{r['sequential_req_s']:.0f} | {r['server_cpu_us']:.0f} | "
            f"{r['concurrent_req_s']:.0f} | "
            f"{r['concurrent_p50_ms']:.1f}/{r['concurrent_p99_ms']:.1f} | {batch} |"
        )
    for label in ("kiln (1 worker)", "kiln (2 workers)"):
        r = results[label]
        print(
            f"{label} vs mlflow: 1-row p50 {mlflow['single_p50_ms'] / r['single_p50_ms']:.1f}x, "
            f"{args.clients}-client throughput "
            f"{r['concurrent_req_s'] / mlflow['concurrent_req_s']:.1f}x, "
            f"10k batch {mlflow['batch_10k_p50_ms'] / r['batch_10k_p50_ms']:.1f}x faster, "
            f"server CPU per request {mlflow['server_cpu_us'] / r['server_cpu_us']:.1f}x less"
        )
    if use_wrk:
        print()
        print("| wrk -c 64 -t 2 | req/s | p50 ms | p90 ms | p99 ms | max ms | requests | errors |")
        print("|---|---|---|---|---|---|---|---|")
        for label, r in results.items():
            if "wrk_req_s" in r:
                print(
                    f"| {label} | {r['wrk_req_s']:.0f} | {r['wrk_p50_ms']:.2f} | "
                    f"{r['wrk_p90_ms']:.2f} | {r['wrk_p99_ms']:.2f} | {r['wrk_max_ms']:.1f} | "
                    f"{r['wrk_requests']:.0f} | {r['wrk_errors']:.0f} |"
                )
    steps = breakdown(model_path, one_row)
    print()
    print("in-process cost of one single-row request (us of thread CPU time, median):")
    for key, value in steps.items():
        print(f"  {key}: {value:.0f}")
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.json:
        args.json.write_text(
            json.dumps({"servers": results, "steps_us": steps, "load": load}, indent=2)
        )


if __name__ == "__main__":
    main()
