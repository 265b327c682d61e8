"""Scoring server: ``kiln models serve`` beside ``mlflow models serve --env-manager local``.

One sklearn ElasticNet trained on the vendored wine data (11 numeric columns), saved
once with ``kiln.models.sklearn.save_model`` in MLflow's layout; both servers serve
that same folder. Each server runs alone as a subprocess on a free 127.0.0.1 port
(they never compete for the CPU), plus a bare ASGI app (uvicorn + Starlette, one
route that echoes the POST body, TCP_NODELAY) as the HTTP floor of this stack.

Measures (client: ``http.client`` keep-alive connections, in threads):

1. single-row p50 latency and sequential req/s: the reference pandas-split wine
   request for Kiln (1.x shape) and the ``dataframe_split`` body for both;
2. 8 concurrent clients: total req/s, single-row ``dataframe_split`` requests;
3. 10,000-row batch: p50 of ``dataframe_split`` with 10,000 rows.

Servers: kiln (1 worker), kiln (``--workers 2``), mlflow (its default: 1 worker),
bare ASGI echo. Usage::

    .venv/bin/python bench/serving.py [--requests 1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
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
def spawn(command: list[str], port: int, log: Path) -> Iterator[float]:
    """Start a server; yield seconds to first 200 on /ping; stop its process group."""
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
        yield time.perf_counter() - start
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


def concurrent(port: int, body: bytes, content_type: str, clients: int, seconds: float) -> float:
    counts = [0] * clients
    stop = threading.Event()
    ready = threading.Barrier(clients + 1)

    def worker(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        _post(conn, body, content_type)
        ready.wait()
        while not stop.is_set():
            _post(conn, body, content_type)
            counts[i] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    time.sleep(seconds)  # the measuring window
    stop.set()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - start)


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


def breakdown(model_path: Path, n: int = 300) -> dict[str, float]:
    """In-process p50 (us) of each step of one single-row reference request."""
    from kiln.models.pyfunc import load_model
    from kiln.serving import encoding
    from kiln.serving.invocations import parse_invocation
    from kiln.serving.model import describe_model

    model = load_model(model_path)
    interface = describe_model(model)
    content_type = "application/json; format=pandas-split"
    steps: dict[str, list[float]] = {"parse": [], "predict (pyfunc)": [], "encode": []}
    for i in range(n + 50):
        t0 = time.perf_counter()
        parsed = parse_invocation(WINE_1X, content_type, interface)
        t1 = time.perf_counter()
        predictions = model.predict(parsed.data)
        t2 = time.perf_counter()
        encoding.dumps_predictions(predictions, wrap=False)
        t3 = time.perf_counter()
        if i >= 50:
            for key, value in zip(steps, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                steps[key].append(value)
    return {key: statistics.median(values) * 1e6 for key, values in steps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="sequential requests")
    parser.add_argument("--seconds", type=float, default=5.0, help="concurrent window")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batches", type=int, default=15, help="10,000-row requests")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()

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
        with spawn(command(port), port, log) as ready_s:
            result: dict[str, float] = {"ready_s": ready_s}
            single = sequential(port, one_row, "application/json", args.requests)
            result["single_p50_ms"], result["sequential_req_s"] = single["p50_ms"], single["req_s"]
            if label.startswith("kiln"):
                legacy = sequential(
                    port, WINE_1X, "application/json; format=pandas-split", args.requests
                )
                result["reference_1x_p50_ms"] = legacy["p50_ms"]
            result["concurrent_req_s"] = concurrent(
                port, one_row, "application/json", args.clients, args.seconds
            )
            result["batch_10k_p50_ms"] = batch_p50(port, big, args.batches)
        results[label] = result
        print(f"{label}: {json.dumps({k: round(v, 3) for k, v in result.items()})}", flush=True)

    mlflow = results["mlflow (default, 1 worker)"]
    print()
    print(
        f"| server | ready s | 1-row p50 ms | seq req/s | {args.clients} clients req/s | "
        "10k-row p50 ms |"
    )
    print("|---|---|---|---|---|---|")
    for label, r in results.items():
        print(
            f"| {label} | {r['ready_s']:.1f} | {r['single_p50_ms']:.2f} | "
            f"{r['sequential_req_s']:.0f} | {r['concurrent_req_s']:.0f} | "
            f"{r['batch_10k_p50_ms']:.1f} |"
        )
    for label in ("kiln (1 worker)", "kiln (2 workers)"):
        r = results[label]
        print(
            f"{label} vs mlflow: 1-row p50 {mlflow['single_p50_ms'] / r['single_p50_ms']:.1f}x, "
            f"{args.clients}-client throughput "
            f"{r['concurrent_req_s'] / mlflow['concurrent_req_s']:.1f}x, "
            f"10k batch {mlflow['batch_10k_p50_ms'] / r['batch_10k_p50_ms']:.1f}x faster"
        )
    steps = breakdown(model_path)
    print(
        "in-process p50 of one reference request (us): "
        + ", ".join(f"{k} {v:.0f}" for k, v in steps.items())
    )
    if args.json:
        args.json.write_text(json.dumps({"servers": results, "steps_us": steps}, indent=2))


if __name__ == "__main__":
    main()
