"""Async logging: Kiln's ``log_metric(synchronous=False)`` to ``kiln server`` beside MLflow's
to ``mlflow server``, in one run.

Each server runs as a subprocess over SQLite in a temporary folder (started and
stopped by ``bench/tracking_server.py``'s helpers: ``kiln server --workers 1`` and
``mlflow server --workers 1``), one after the other. Against each, a fresh client
process (``import kiln`` or ``import mlflow``) starts a run, logs ``--points``
(default 100,000) points of one metric with ``synchronous=False`` at steps 0..N-1,
then calls ``end_run()``. It reports:

- calls/s: N over the time the N calls took to return;
- time to durable: from the last call's return to ``end_run()``'s return (Kiln's
  ``end_run`` waits for its queue; MLflow's does not, so for MLflow it is measured
  over waiting on every call's ``RunOperations``, then ``end_run``;
  ``mlflow.flush_async_logging()`` hung with buffering on here). It is for that
  client's own point count, which differs between the two, so it is shown per
  client and not as a ratio; the ratio is of points made durable per second
  (points / time to durable);
- that every point is in ``get_metric_history``, in step order.

MLflow as it ships sends one request per call from its queue, about 50 points/s
to ``mlflow server`` on SQLite here, so it logs ``--shipped-points`` (default
2,000; 100,000 would take over half an hour); the rates compare. With
``MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS`` set (which lets its queue merge calls)
its client hung here, so that case is left out.

Usage::

    .venv/bin/python bench/async_logging.py [--points 100000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tracking_server import kiln_spec, mlflow_spec, running

CLIENT = """
import json, sys, time
import {module} as lib
lib.set_tracking_uri(sys.argv[1])
n = int(sys.argv[2])
run = lib.start_run()
run_id = run.info.run_id
log_metric = lib.log_metric
ops = []
start = time.perf_counter()
for i in range(n):
    ops.append(log_metric("loss", 1.0 / (i + 1), step=i, synchronous=False))
called = time.perf_counter()
{flush}
lib.end_run()
durable = time.perf_counter()
history = lib.tracking.MlflowClient().get_metric_history(run_id, "loss") if {mlflow} else (
    lib.get_metric_history(run_id, "loss"))
steps = [m.step for m in history]
print(json.dumps({{
    "calls_per_s": n / (called - start),
    "calls_s": called - start,
    "durable_s": durable - called,
    "present": len(history),
    "in_order": steps == sorted(steps) and len(set(steps)) == n,
}}))
"""


def client(module: str, url: str, points: int, folder: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run the logging loop in a fresh interpreter against ``url``; answer its numbers."""
    is_mlflow = module == "mlflow"
    code = CLIENT.format(
        module=module,
        flush="for op in ops: op.wait()" if is_mlflow else "",
        mlflow=is_mlflow,
    )
    done = subprocess.run(
        [sys.executable, "-c", code, url, str(points)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
        env={**os.environ, **env},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} client failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--shipped-points", type=int, default=2_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    cases = (  # name, server, client module, points, client environment
        ("kiln", "kiln", "kiln", args.points, {}),
        ("mlflow shipped", "mlflow", "mlflow", args.shipped_points, {}),
    )
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="kiln-bench-async-") as tmp:
        root = Path(tmp)
        for name, server, module, points, env in cases:
            folder = root / name.replace(" ", "-")
            folder.mkdir()
            spec = (
                kiln_spec(folder / "kiln.db", folder / "artifacts")
                if server == "kiln"
                else mlflow_spec(folder / "mlflow.db", folder / "artifacts", 1)
            )
            with running(spec, folder) as (url, _process, _ready_s):
                results[name] = {"points": points, **client(module, url, points, folder, env)}
    print("log_metric(synchronous=False), one run, one metric, server on SQLite, --workers 1")
    names = list(results)
    print(
        f"{'':24}"
        + "".join(f"{n:>18}" for n in names)
        + "".join(f"{'kiln/' + n.split()[-1]:>18}" for n in names[1:])
    )
    # Each client logs its own number of points (MLflow's would take hours at Kiln's):
    # the time to durable is for that client's own points and is not compared; the
    # rates are per point and are.
    rows = (
        ("points logged", lambda r: r["points"], None, "{:,}"),
        ("calls/s", lambda r: r["calls_per_s"], True, "{:,.0f}"),
        ("durable after end (s)", lambda r: r["durable_s"], None, "{:.2f}"),
        ("points made durable/s", lambda r: r["points"] / r["durable_s"], True, "{:,.0f}"),
    )
    kiln = results["kiln"]
    for label, get, higher, fmt in rows:
        line = f"{label:24}" + "".join(f"{fmt.format(get(results[n])):>18}" for n in names)
        if higher is not None:
            for n in names[1:]:
                ratio = get(kiln) / get(results[n]) if higher else get(results[n]) / get(kiln)
                line += f"{ratio:>17.1f}x"
        print(line)
    for name, result in results.items():
        ok = result["present"] == result["points"] and result["in_order"]
        print(f"{name}: {result['present']:,} of {result['points']:,} present, in order: {ok}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
