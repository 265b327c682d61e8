"""The compare page of N runs x M metrics of P points each, in headless Chromium.

Seeds a SQLite store directly (``log_batch`` of 1,000 points), starts a real
``kiln server`` on it, opens ``/compare?run=...`` and times ``goto`` -> every chart in
(or within 300 px of) the viewport drawn (charts.js mounts lazily) and compare.js done;
also the compare HTML's own server time and the series requests the page made. The
issue's goal: 10 runs x 10 charts fully drawn in < 1.5 s (100,000 points a metric).

    .venv/bin/python bench/ui_compare.py [--runs 10] [--metrics 10] [--points 100000]
        [--repeat 5] [--height 4000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from kiln.entities import Metric, Param
from kiln.store.open import close_store, open_tracking_store
from kiln.testing.browser import CHROMIUM, CHROMIUM_ARGS
from kiln.testing.server_process import kiln_server_process

DRAWN = """() => {
  const charts = [...document.querySelectorAll('.kiln-chart')];
  const near = charts.filter((e) => e.getBoundingClientRect().top < innerHeight + 300);
  return document.body.dataset.compareReady === '1' && charts.length > 0 &&
    near.every((e) => ['drawn', 'empty', 'error'].includes(e.dataset.state));
}"""
MEASURE = """() => {
  const charts = [...document.querySelectorAll('.kiln-chart')];
  const series = performance.getEntriesByType('resource')
    .filter((r) => r.name.includes('/ui/data/series'));
  const nav = performance.getEntriesByType('navigation')[0];
  return {charts: charts.length, drawn: charts.filter((e) => e.dataset.state === 'drawn').length,
    series_requests: series.length,
    slowest_series_ms: Math.round(Math.max(0, ...series.map((r) => r.duration))),
    plots_ms: Math.round(performance.getEntriesByName('kiln:compare-plots')[0]?.duration ?? -1),
    html_ttfb_ms: Math.round(nav.responseStart),
    dom_ready_ms: Math.round(nav.domContentLoadedEventEnd)};
}"""


def seed(db: Path, runs: int, metrics: int, points: int) -> list[str]:
    store = open_tracking_store(f"sqlite:///{db}", workspace="default")
    noise = random.Random(1)
    ids: list[str] = []
    try:
        experiment = store.create_experiment("compare-bench")
        for r in range(runs):
            run_id = store.create_run(experiment, run_name=f"run-{r}").info.run_id
            params = [Param("lr", str([0.1, 0.03, 0.01][r % 3])), Param("seed", str(r))]
            store.log_batch(run_id, params=params)
            for k in range(metrics):
                batch: list[Metric] = []
                for step in range(points):
                    value = math.exp(-3 * step / points) + 0.05 * noise.random()
                    batch.append(Metric(f"metric_{k}", value, 1_700_000_000_000 + step, step))
                    if len(batch) == 1000:
                        store.log_batch(run_id, metrics=batch)
                        batch = []
                if batch:
                    store.log_batch(run_id, metrics=batch)
            ids.append(run_id)
    finally:
        close_store(store)
    return ids


def measure(url: str, repeat: int, height: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    html = httpx.get(url, timeout=60)
    html_ms = (time.perf_counter() - started) * 1000
    times: list[float] = []
    details: list[dict[str, Any]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        page = browser.new_page(viewport={"width": 1440, "height": height})
        for _ in range(repeat):
            started = time.perf_counter()
            page.goto(url, wait_until="commit")
            page.wait_for_function(DRAWN, timeout=120_000, polling=10)
            times.append((time.perf_counter() - started) * 1000)
            details.append(page.evaluate(MEASURE))
        browser.close()
    return {
        "html_status": html.status_code,
        "html_first_ms": round(html_ms),
        "drawn_ms": [round(t) for t in times],
        "drawn_first_ms": round(times[0]),
        "drawn_median_ms": round(statistics.median(times)),
        "last": details[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--height", type=int, default=4000, help="viewport height (px)")
    parser.add_argument("--keep", type=Path, help="seed here (reused when it holds ids.txt)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="kiln-compare-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    saved = root / "ids.txt"
    if saved.exists():
        ids = saved.read_text().split()
    else:
        started = time.perf_counter()
        ids = seed(root / "kiln.db", args.runs, args.metrics, args.points)
        saved.write_text("\n".join(ids))
        print(
            f"seeded {args.runs} x {args.metrics} x {args.points} in "
            f"{time.perf_counter() - started:.0f} s",
            flush=True,
        )
    with kiln_server_process(root) as base:
        url = f"{base}/compare?" + "&".join(f"run={run_id}" for run_id in ids)
        result = measure(url, args.repeat, args.height)
    print(
        json.dumps(
            {
                "runs": len(ids),
                "metrics": args.metrics,
                "points": args.points,
                "viewport_height": args.height,
                **result,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
