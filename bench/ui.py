"""Web UI: the first runs page of a 10,000-run experiment, Kiln beside MLflow's UI.

Both stores get the same runs (``--runs``, default 10,000; each with the params
``alpha``, ``l1_ratio``, ``optimizer`` and the metrics ``loss``, ``rmse``, ``r2``,
``mae`` at step 0), written in-process through each project's own store: the first
``--api-sample`` runs through ``create_run`` + ``log_batch``, the rest as bulk
inserts of the rows those calls write (as ``bench/tracking_server.py`` does; MLflow's
public path manages ~10 runs/s on SQLite).

Measured:

1. Kiln, server time of ``GET /experiments/<id>`` (the runs table's first page,
   rendered on the server): in-process through the ASGI app (no socket), and over
   real HTTP to ``kiln server --workers 1``; p50/p95 of ``--requests`` after warm-ups.
2. The floor: a bare Starlette app (uvicorn, like ``kiln server``) answering the same
   HTML bytes Kiln rendered, with Kiln's static files beside them.
3. MLflow: ``mlflow server --workers 1`` (its React UI from the wheel), and its
   runs table's ajax call (``POST /ajax-api/2.0/mlflow/runs/search``, the body its UI
   sends) timed the same way; Kiln's ``runs/search`` with the same body beside it.
4. Paint in headless Chromium (``kiln.testing.browser``): navigation start (the
   ``performance.now()`` origin) to the frame after the first ``MIN_ROWS`` runs
   table rows are in the DOM (a MutationObserver installed before the page loads
   notes the time; a ``requestAnimationFrame`` + ``setTimeout`` after it is the
   frame that shows them, or the first contentful paint when that comes later:
   rows parsed before the first paint show with it). Kiln: ``/experiments/<id>``; MLflow:
   ``/#/experiments/<id>/runs`` until its ag-grid rows show. One context per server
   (a warm cache, as for a user who comes back), a new page per load, warm-ups first.
   First contentful paint is reported beside it.

Goals (issue 14): Kiln's first runs page < 100 ms server time, < 300 ms paint.

Usage::

    .venv/bin/python bench/ui.py [--runs 10000] [--requests 30] [--loads 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# tracking_server sets the client's environment (no retries, no async logging) at import
from tracking_server import (
    BASE_TIME_MS,
    BULK_CHUNK_ROWS,
    ServerSpec,
    _chunks,
    kiln_spec,
    mlflow_spec,
    running,
)

EXPERIMENT = "bench-ui"
OPTIMIZERS = ["adam", "sgd", "lbfgs"]
KILN_ROWS = "table.data tbody tr"
MLFLOW_ROWS = ".ag-center-cols-container .ag-row"
MIN_ROWS = 10
SEARCH_BODY: dict[str, Any] = {
    "run_view_type": "ACTIVE_ONLY",
    "max_results": 100,
    "order_by": ["attributes.start_time DESC"],
}  # what MLflow 3.17's runs page posts (plus experiment_ids)

Row = tuple[int, dict[str, str], dict[str, float]]


def ui_rows(n: int) -> Iterator[Row]:
    """(index, params, metrics) of each run: the same sequence for both stores."""
    rng = random.Random(14)
    for i in range(n):
        params = {
            "alpha": rng.choice(["0.1", "0.2", "0.5", "1.0"]),
            "l1_ratio": f"{rng.random():.3f}",
            "optimizer": rng.choice(OPTIMIZERS),
        }
        loss = rng.random()
        metrics = {"loss": loss, "rmse": loss**0.5, "r2": 1 - loss, "mae": loss * 0.8}
        yield i, params, metrics


def populate_kiln(db: Path, artifacts: Path, n: int, api_sample: int) -> str:
    """The runs in Kiln's SQLite store; the experiment's id."""
    from sqlalchemy import insert

    from kiln.entities import RUN_NAME_TAG, USER_TAG, Metric, Param
    from kiln.store.sql.schema import latest_metrics, metrics, params, runs, tags
    from kiln.store.sql.tracking import open_sql_store

    store = open_sql_store(f"sqlite:///{db}", artifact_root=str(artifacts), workspace="default")
    exp = store.create_experiment(EXPERIMENT)
    location = store.get_experiment(exp).artifact_location
    rows = ui_rows(n)
    for i, ps, ms in (next(rows) for _ in range(min(api_sample, n))):
        ts = BASE_TIME_MS + i
        run_id = store.create_run(exp, user_id="bench", start_time=ts, run_name=f"run-{i}")
        store.log_batch(
            run_id.info.run_id,
            metrics=[Metric(k, v, ts, 0) for k, v in ms.items()],
            params=[Param(k, v) for k, v in ps.items()],
        )
    ws = store.workspace
    for chunk in _chunks(rows, BULK_CHUNK_ROWS):
        run_rows, tag_rows, param_rows, metric_rows = [], [], [], []
        for i, ps, ms in chunk:
            run_id, ts = uuid.uuid4().hex, BASE_TIME_MS + i
            own = {"workspace": ws, "run_uuid": run_id}
            run_rows.append(
                {
                    **own,
                    "experiment_id": int(exp),
                    "name": f"run-{i}",
                    "user_id": "bench",
                    "status": "FINISHED",
                    "start_time": ts,
                    "end_time": ts + 1000,
                    "lifecycle_stage": "active",
                    "deleted_time": None,
                    "artifact_uri": f"{location}/{run_id}/artifacts",
                }
            )
            for key, value in ((RUN_NAME_TAG, f"run-{i}"), (USER_TAG, "bench")):
                tag_rows.append({**own, "key": key, "value": value})
            param_rows += [{**own, "key": k, "value": v} for k, v in ps.items()]
            metric_rows += [
                {**own, "key": k, "value": v, "timestamp": ts, "step": 0, "is_nan": False}
                for k, v in ms.items()
            ]
        with store.engine.begin() as conn:
            conn.execute(insert(runs), run_rows)
            conn.execute(insert(tags), tag_rows)
            conn.execute(insert(params), param_rows)
            conn.execute(insert(metrics), metric_rows)
            conn.execute(insert(latest_metrics), metric_rows)
    store.engine.dispose()
    return str(exp)


def populate_mlflow(db: Path, artifacts: Path, n: int, api_sample: int) -> str:
    """The same runs in MLflow's SQLite store (its ``SqlAlchemyStore``); the experiment's id."""
    from mlflow.entities import Metric, Param
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME, MLFLOW_USER
    from sqlalchemy import insert

    store = SqlAlchemyStore(f"sqlite:///{db}", str(artifacts))
    exp = store.create_experiment(EXPERIMENT)
    location = store.get_experiment(exp).artifact_location
    rows = ui_rows(n)
    for i, ps, ms in (next(rows) for _ in range(min(api_sample, n))):
        ts = BASE_TIME_MS + i
        run_id = store.create_run(exp, "bench", ts, [], f"run-{i}").info.run_id
        metrics = [Metric(k, v, ts, 0) for k, v in ms.items()]
        store.log_batch(run_id, metrics, [Param(k, v) for k, v in ps.items()], [])
    for chunk in _chunks(rows, BULK_CHUNK_ROWS):
        run_rows, tag_rows, param_rows, metric_rows = [], [], [], []
        for i, ps, ms in chunk:
            run_id, ts = uuid.uuid4().hex, BASE_TIME_MS + i
            run_rows.append(
                {
                    "run_uuid": run_id,
                    "name": f"run-{i}",
                    "source_type": "UNKNOWN",
                    "source_name": "",
                    "entry_point_name": "",
                    "user_id": "bench",
                    "status": "FINISHED",
                    "start_time": ts,
                    "end_time": ts + 1000,
                    "deleted_time": None,
                    "source_version": "",
                    "lifecycle_stage": "active",
                    "artifact_uri": f"{location}/{run_id}/artifacts",
                    "experiment_id": int(exp),
                }
            )
            for key, value in ((MLFLOW_RUN_NAME, f"run-{i}"), (MLFLOW_USER, "bench")):
                tag_rows.append({"key": key, "value": value, "run_uuid": run_id})
            param_rows += [{"key": k, "value": v, "run_uuid": run_id} for k, v in ps.items()]
            metric_rows += [
                {"key": k, "value": v, "timestamp": ts, "step": 0, "is_nan": False}
                | {"run_uuid": run_id}
                for k, v in ms.items()
            ]
        with store.ManagedSessionMaker(read_only=False) as session:
            session.execute(insert(SqlRun.__table__), run_rows)
            session.execute(insert(SqlTag.__table__), tag_rows)
            session.execute(insert(SqlParam.__table__), param_rows)
            session.execute(insert(SqlMetric.__table__), metric_rows)
            session.execute(insert(SqlLatestMetric.__table__), metric_rows)
    store.engine.dispose()
    return str(exp)


# --------------------------------------------------------------------------- timing


@dataclass
class Timing:
    name: str
    samples_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def timed(name: str, call: Callable[[], None], requests: int, warmups: int = 3) -> Timing:
    """``call`` ``warmups`` times, then ``requests`` timed calls."""
    for _ in range(warmups):
        call()
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return Timing(name, samples)


def http_get(http: Any, url: str, expect: str) -> Callable[[], None]:
    def call() -> None:
        answer = http.get(url)
        if answer.status_code != 200 or expect not in answer.text:
            raise RuntimeError(f"GET {url} -> {answer.status_code}: {answer.text[:300]}")

    return call


def http_post(http: Any, url: str, body: dict[str, Any], expect: str) -> Callable[[], None]:
    def call() -> None:
        answer = http.post(url, json=body)
        if answer.status_code != 200 or expect not in answer.text:
            raise RuntimeError(f"POST {url} -> {answer.status_code}: {answer.text[:300]}")

    return call


def rows_watcher(selector: str) -> str:
    """An init script: note when ``MIN_ROWS`` rows matching ``selector`` are in the DOM
    (``__rowsAt``) and the frame after (``__paintAt``), both from navigation start."""
    return f"""(() => {{
  const seen = () => document.querySelectorAll({json.dumps(selector)}).length >= {MIN_ROWS};
  const observer = new MutationObserver(() => {{
    if (window.__rowsAt !== undefined || !seen()) return;
    window.__rowsAt = performance.now();
    observer.disconnect();
    requestAnimationFrame(() => setTimeout(() => {{ window.__paintAt = performance.now(); }}, 0));
  }});
  observer.observe(document, {{childList: true, subtree: true}});
  new PerformanceObserver((list) => {{
    for (const entry of list.getEntries()) {{
      if (entry.name === "first-contentful-paint") window.__fcp = entry.startTime;
    }}
  }}).observe({{type: "paint", buffered: true}});
}})();"""


def paint(browser: Any, name: str, url: str, selector: str, loads: int) -> dict[str, Timing]:
    """Navigation start to rows painted, ``loads`` times (after 2 warm-ups) in one context."""
    print(f"paint: {name} ({loads} loads)", flush=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(rows_watcher(selector))
    rows, painted, fcp = [], [], []
    try:
        for index in range(loads + 2):
            page = context.new_page()
            page.goto(url, wait_until="commit")
            page.wait_for_function(
                "() => window.__paintAt !== undefined && window.__fcp !== undefined",
                timeout=60_000,
            )
            got = page.evaluate("() => [window.__rowsAt, window.__paintAt, window.__fcp]")
            page.close()
            if index >= 2:
                rows.append(got[0])
                painted.append(max(got[1], got[2]))  # rows parsed before the first paint
                fcp.append(got[2])
    finally:
        context.close()
    return {
        "rows": Timing(f"{name} rows in DOM", rows),
        "paint": Timing(f"{name} rows painted", painted),
        "fcp": Timing(f"{name} first contentful paint", fcp),
    }


# --------------------------------------------------------------------------- floor


def serve_floor(port: int, html_path: Path) -> None:
    """The floor: bare Starlette answering ``html_path``'s bytes at any page path and
    Kiln's static files, served as ``kiln server`` is (uvicorn, its protocol class)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, PlainTextResponse
    from starlette.routing import Route

    from kiln.netproto import http_protocol
    from kiln.server.ui.render import STATIC_PREFIX, static_file

    body = html_path.read_bytes()

    async def page(request: Any) -> HTMLResponse:
        return HTMLResponse(body)

    async def health(request: Any) -> PlainTextResponse:
        return PlainTextResponse("OK")

    app = Starlette(
        routes=[
            Route("/health", health),
            Route(STATIC_PREFIX + "{path:path}", static_file),
            Route("/{path:path}", page),
        ]
    )
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=http_protocol(), access_log=False, lifespan="off"
    )
    uvicorn.Server(config).run()


def floor_spec(html_path: Path) -> ServerSpec:
    def command(port: int, folder: Path) -> list[str]:
        script = str(Path(__file__).resolve())
        return [sys.executable, script, "--serve-floor", str(port), str(html_path)]

    return ServerSpec("floor", command)


# --------------------------------------------------------------------------- main


def measure(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    import httpx

    from kiln.server.app import create_app
    from kiln.testing.auth_app import sqlite_settings
    from kiln.testing.browser import chromium
    from kiln.testing.server import asgi_client

    kiln_root, mlflow_root = folder / "kiln", folder / "mlflow"
    kiln_root.mkdir()
    mlflow_root.mkdir()
    start = time.perf_counter()
    kiln_exp = populate_kiln(kiln_root / "kiln.db", kiln_root / "artifacts", args.runs, 100)
    mlflow_exp = populate_mlflow(
        mlflow_root / "mlflow.db", mlflow_root / "artifacts", args.runs, args.api_sample
    )
    print(f"populated {args.runs} runs in each store in {time.perf_counter() - start:.1f} s")
    page_path = f"/experiments/{kiln_exp}"
    server: dict[str, Timing] = {}
    paints: dict[str, dict[str, Timing]] = {}

    app = create_app(sqlite_settings(kiln_root))
    with asgi_client(app) as client:
        first = client.get(page_path)
        if first.status_code != 200 or "run-" not in first.text:
            raise RuntimeError(f"{page_path} -> {first.status_code}: {first.text[:300]}")
        html = first.content
        server["kiln in-process"] = timed(
            "kiln in-process", http_get(client, page_path, "run-"), args.requests
        )
    html_path = folder / "runs-page.html"
    html_path.write_bytes(html)
    print(f"Kiln's first runs page: {len(html):,} bytes")

    with chromium() as browser, httpx.Client(timeout=60) as http:
        kiln = kiln_spec(kiln_root / "kiln.db", kiln_root / "artifacts")
        with running(kiln, kiln_root) as (url, _, _):
            server["kiln http"] = timed(
                "kiln http", http_get(http, url + page_path, "run-"), args.requests
            )
            body = {**SEARCH_BODY, "experiment_ids": [kiln_exp]}
            search = http_post(http, f"{url}/api/2.0/mlflow/runs/search", body, "run-")
            server["kiln runs/search api"] = timed("kiln runs/search", search, args.requests)
            paints["kiln"] = paint(browser, "kiln", url + page_path, KILN_ROWS, args.loads)
        with running(floor_spec(html_path), folder) as (url, _, _):
            server["floor http"] = timed(
                "floor http", http_get(http, url + page_path, "run-"), args.requests
            )
            paints["floor"] = paint(browser, "floor", url + page_path, KILN_ROWS, args.loads)
        mlflow = mlflow_spec(mlflow_root / "mlflow.db", mlflow_root / "artifacts", 1)
        with running(mlflow, mlflow_root) as (url, _, _):
            body = {**SEARCH_BODY, "experiment_ids": [mlflow_exp]}
            search = http_post(http, f"{url}/ajax-api/2.0/mlflow/runs/search", body, "run-")
            server["mlflow runs/search ajax"] = timed("mlflow runs/search", search, args.requests)
            mlflow_url = f"{url}/#/experiments/{mlflow_exp}/runs"
            paints["mlflow"] = paint(browser, "mlflow", mlflow_url, MLFLOW_ROWS, args.loads)
    return {"server": server, "paint": paints, "html_bytes": len(html)}


def report(found: dict[str, Any]) -> str:
    server: dict[str, Timing] = found["server"]
    paints: dict[str, dict[str, Timing]] = found["paint"]
    lines = ["| server time | p50 ms | p95 ms |", "| --- | ---: | ---: |"]
    for name, t in server.items():
        lines.append(f"| {name} | {t.p50:.1f} | {t.p95:.1f} |")
    lines += [
        "",
        "| Chromium (from navigation start) | rows in DOM p50 | painted p50 | painted p95 "
        "| FCP p50 |",
    ]
    lines.append("| --- | ---: | ---: | ---: | ---: |")
    for name, kinds in paints.items():
        r, p, f = kinds["rows"], kinds["paint"], kinds["fcp"]
        lines.append(f"| {name} | {r.p50:.0f} | {p.p50:.0f} | {p.p95:.0f} | {f.p50:.0f} |")
    kiln_http = server["kiln http"].p50
    kiln_paint = paints["kiln"]["paint"].p50
    lines += [
        "",
        f"kiln http / floor http: {kiln_http / server['floor http'].p50:.2f}x the floor's time",
        f"mlflow runs/search ajax / kiln page (http): "
        f"{server['mlflow runs/search ajax'].p50 / kiln_http:.1f}x",
        f"mlflow paint / kiln paint: {paints['mlflow']['paint'].p50 / kiln_paint:.1f}x",
        f"kiln paint / floor paint: {kiln_paint / paints['floor']['paint'].p50:.2f}x",
        f"goals: server < 100 ms ({kiln_http:.1f}), paint < 300 ms ({kiln_paint:.0f})",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--api-sample", type=int, default=50, help="MLflow runs via create_run")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per server")
    parser.add_argument("--loads", type=int, default=15, help="timed page loads per UI")
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep stores and logs in")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--serve-floor", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor is not None:  # the floor's own process (see floor_spec)
        serve_floor(int(args.serve_floor[0]), Path(args.serve_floor[1]))
        return
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=False)
        found = measure(args, args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
            found = measure(args, Path(tmp))
    print(report(found))
    if args.json is not None:
        plain = {
            "html_bytes": found["html_bytes"],
            "server": {k: t.samples_ms for k, t in found["server"].items()},
            "paint": {
                k: {kind: t.samples_ms for kind, t in v.items()} for k, v in found["paint"].items()
            },
        }
        args.json.write_text(json.dumps(plain, indent=2))


if __name__ == "__main__":
    main()
