"""scikit-learn autolog: Kiln's overhead beside MLflow's, in one run.

Each library runs in its own fresh interpreter (so neither's patches touch the
other's fits) against a ``sqlite:///`` store in a temporary folder. For each case
(a binary ``LogisticRegression`` on the standardized breast-cancer data, which
draws all three classifier plots; a ``Ridge`` regressor on diabetes; a
``StandardScaler`` + ``LogisticRegression`` ``Pipeline`` on iris) it times, as
medians of ``--reps`` repetitions after one untimed warm-up, each fit on a fresh
clone, in rounds that alternate the modes (BLAS and OpenMP limited to one thread):

- ``fit``: the bare fit, no run;
- ``fit + log_model``: ``start_run``, the fit, ``<lib>.sklearn.log_model(model,
  name="model", signature=...)`` with the signature autolog would infer from the
  first five rows, ``end_run``: the model's own logging;
- ``autolog``: ``<lib>.sklearn.autolog()`` on, the fit alone (autolog starts and
  ends its run): the time until the fit returns to the caller;
- ``autolog durable``: the same plus ``<lib>.flush_async_logging()`` right after,
  i.e. until everything autolog logged is stored.

- ``no-model``: ``autolog(log_models=False)``, the fit alone.

Overhead = autolog - (fit + log_model), in wall time and in CPU time of the calling
thread (``time.thread_time``: what the caller itself spent, nearly independent of
other jobs on the machine); the goal is Kiln's <= 50 ms. MLflow's ``log_model``
infers pip requirements in a subprocess that imports the model (seconds, varying a
lot under load), which makes its overhead a small difference of two large noisy
numbers; "no-model extra" = no-model - fit (everything autolog adds but the model,
its run's start and end included) compares without it. Also
``import kiln.sklearn`` vs ``import mlflow.sklearn`` in fresh interpreters (goal
< 0.3 s): the best of ``--import-trials`` minus the best bare interpreter start.

Usage::

    .venv/bin/python bench/autolog.py [--reps 15] [--import-trials 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# BLAS/OpenMP pools of one thread: on a small shared box their spinning threads made the
# bare fit itself vary 10x between repetitions. Both libraries run under the same.
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

CHILD = r"""
import json, statistics, sys, time, warnings
import {lib} as lib
import {lib}.sklearn
from {lib}.models import infer_signature
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

warnings.filterwarnings("ignore")
lib.set_tracking_uri(sys.argv[1])
lib.set_experiment("bench-autolog")
reps = int(sys.argv[2])
X, y = load_breast_cancer(return_X_y=True)
cases = {{
    "classifier": (LogisticRegression(), (StandardScaler().fit_transform(X), y)),
    "regressor": (Ridge(), load_diabetes(return_X_y=True)),
    "pipeline": (
        Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression(max_iter=1000))]),
        load_iris(return_X_y=True),
    ),
}}


def fit(model, X, y):
    model.fit(X, y)


def manual(model, X, y):
    with lib.start_run():
        model.fit(X, y)
        signature = infer_signature(X[:5], model.predict(X[:5]))
        lib.sklearn.log_model(model, name="model", signature=signature)


def once(step, base, X, y):
    # One call on a fresh clone: ms until it returned (wall, and CPU of this thread),
    # and until everything is stored.
    model = clone(base)
    start, cpu = time.perf_counter(), time.thread_time()
    step(model, X, y)
    returned, cpu = time.perf_counter(), time.thread_time() - cpu
    lib.flush_async_logging()  # the next call starts with nothing pending
    stored = time.perf_counter()
    return (returned - start) * 1000, cpu * 1000, (stored - start) * 1000


# Rounds alternate the modes, so that a change in the machine's load hits all of them.
MODES = (
    "fit", "manual", "autolog", "durable", "no_model", "fit_cpu", "manual_cpu", "autolog_cpu",
    "no_model_cpu",
)
samples = {{name: {{m: [] for m in MODES}} for name in cases}}
for i in range(reps + 1):
    lib.sklearn.autolog(disable=True)
    for name, (base, (X, y)) in cases.items():
        for mode, step in (("fit", fit), ("manual", manual)):
            wall, cpu, _ = once(step, base, X, y)
            if i:
                samples[name][mode].append(wall)
                samples[name][mode + "_cpu"].append(cpu)
    lib.sklearn.autolog()
    for name, (base, (X, y)) in cases.items():
        wall, cpu, stored = once(fit, base, X, y)
        if i:
            samples[name]["autolog"].append(wall)
            samples[name]["autolog_cpu"].append(cpu)
            samples[name]["durable"].append(stored)
    lib.sklearn.autolog(log_models=False)
    for name, (base, (X, y)) in cases.items():
        wall, cpu, _ = once(fit, base, X, y)
        if i:
            samples[name]["no_model"].append(wall)
            samples[name]["no_model_cpu"].append(cpu)
lib.sklearn.autolog(disable=True)
out = {{
    name: {{mode: statistics.median(values) for mode, values in modes.items()}}
    for name, modes in samples.items()
}}
print(json.dumps(out))
"""


def measure(lib: str, folder: Path, reps: int) -> dict[str, dict[str, float]]:
    """Time every case and mode for ``lib`` ("kiln" or "mlflow") in a fresh interpreter."""
    store = folder / lib
    store.mkdir()
    uri = f"sqlite:///{store / 'db.sqlite'}"
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(lib=lib), uri, str(reps)],
        cwd=store,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
        env={**os.environ, **ONE_THREAD, "MLFLOW_TRACKING_URI": "", "KILN_HOME": str(store)},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{lib} failed:\n{done.stderr[-3000:]}")
    result: dict[str, dict[str, float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def import_time(module: str, trials: int) -> float:
    """Best wall time of ``import module`` in a fresh interpreter, less a bare start."""

    def best(code: str) -> float:
        times = []
        for _ in range(trials):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times.append(time.perf_counter() - start)
        return min(times)

    return max(0.0, best(f"import {module}") - best("pass"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--import-trials", type=int, default=5)
    parser.add_argument("--skip-mlflow", action="store_true", help="Kiln's rows only")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    libs = ("kiln",) if args.skip_mlflow else ("kiln", "mlflow")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="kiln-bench-autolog-") as tmp:
        results = {lib: measure(lib, Path(tmp), args.reps) for lib in libs}
    imports = {f"{lib}.sklearn": import_time(f"{lib}.sklearn", args.import_trials) for lib in libs}
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(
        f"\nms, median of {args.reps}; overhead = autolog - (fit + log_model), in wall time "
        "and in CPU time of the calling thread (less sensitive to other load)"
    )
    header = (
        "case",
        "lib",
        "fit",
        "fit+log_model",
        "autolog",
        "until durable",
        "overhead",
        "overhead CPU",
        "no-model extra",
        "no-model CPU",
    )
    print(f"{header[0]:11}{header[1]:7}" + "".join(f"{h:>15}" for h in header[2:]))
    for case in results["kiln"]:
        for lib, by_case in results.items():
            r = by_case[case]
            r["overhead"] = r["autolog"] - r["manual"]
            r["overhead_cpu"] = r["autolog_cpu"] - r["manual_cpu"]
            r["overhead_durable"] = r["durable"] - r["manual"]
            r["no_model_extra"] = r["no_model"] - r["fit"]
            r["no_model_extra_cpu"] = r["no_model_cpu"] - r["fit_cpu"]
            values = (
                r["fit"],
                r["manual"],
                r["autolog"],
                r["durable"],
                r["overhead"],
                r["overhead_cpu"],
                r["no_model_extra"],
                r["no_model_extra_cpu"],
            )
            print(f"{case:11}{lib:7}" + "".join(f"{v:>15.1f}" for v in values))
        if args.skip_mlflow:
            continue
        k, m = results["kiln"][case], results["mlflow"][case]
        print(
            f"{'':11}kiln/mlflow: overhead wall {k['overhead'] / m['overhead']:.3f}, "
            f"CPU {k['overhead_cpu'] / m['overhead_cpu']:.3f}; no-model extra wall "
            f"{k['no_model_extra'] / m['no_model_extra']:.3f}, "
            f"CPU {k['no_model_extra_cpu'] / m['no_model_extra_cpu']:.3f}"
        )
    print("\n" + ", ".join(f"import {m} {s:.3f} s" for m, s in imports.items()))
    if not args.skip_mlflow:
        ratio = imports["mlflow.sklearn"] / max(imports["kiln.sklearn"], 1e-9)
        print(f"import: mlflow.sklearn / kiln.sklearn = {ratio:.1f}x")
    if args.json:
        args.json.write_text(json.dumps({"fits": results, "imports": imports}, indent=2))


if __name__ == "__main__":
    main()
