"""The run page's chart in a real browser: a 100,000-point metric with a one-step spike.

A real ``kiln server`` (SQLite) and headless Chromium (``kiln.testing.browser``). The
chart must show the spike (the min-max band reaches it), never receive more points than
it has pixels, re-bucket a dragged range down to the raw points, go back on double-click,
and switch to log scale, smoothing and time on the x axis.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kiln.entities import Metric
from kiln.store.open import close_store, open_tracking_store
from kiln.testing.browser import Shots
from kiln.testing.server_process import kiln_server_process

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POINTS = 100_000
SPIKE_STEP = 61_234
SPIKE = 25.0
T0 = 1_765_000_000_000
CHART = ".kiln-chart[data-key=loss]"


@dataclass(frozen=True)
class Site:
    url: str
    run_id: str


def _seed(db: Path) -> str:
    store = open_tracking_store(
        f"sqlite:///{db}", workspace="default", artifact_root=str(db.parent)
    )
    try:
        experiment = store.create_experiment("charts")
        run_id = store.create_run(experiment, user_id="ada", run_name="long-train").info.run_id
        noise = random.Random(7)
        points = [
            Metric(
                "loss",
                SPIKE
                if step == SPIKE_STEP
                else 2.0 * math.exp(-step / 20_000) + 0.05 * noise.random(),
                T0 + step * 50,
                step,
            )
            for step in range(POINTS)
        ]
        for start in range(0, POINTS, 1000):
            store.log_batch(run_id, metrics=points[start : start + 1000], params=[], tags=[])
        return run_id
    finally:
        close_store(store)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("charts")
    run_id = _seed(root / "kiln.db")
    with kiln_server_process(root) as url:
        yield Site(url, run_id)


def _shown(page: Page) -> dict[str, Any]:
    """What the chart's uPlot holds: its series columns, y scale and the info line."""
    shown: dict[str, Any] = page.evaluate(
        """(selector) => {
            const el = document.querySelector(selector);
            const u = window.KilnCharts.plot(el);
            return {
                state: el.dataset.state, info: el.querySelector('.kc-info').textContent,
                width: u.over.clientWidth, columns: u.data.map((c) => Array.from(c)),
                labels: u.series.map((s) => s.label), distr: u.scales.y.distr,
                xTime: !!u.scales.x.time,
            };
        }""",
        CHART,
    )
    return shown


def _drawn(page: Page, info: str | None = None) -> dict[str, Any]:
    page.wait_for_function(
        """([selector, info]) => {
            const el = document.querySelector(selector);
            return el && el.dataset.state === 'drawn' && window.KilnCharts.plot(el) &&
                (!info || el.querySelector('.kc-info').textContent.includes(info));
        }""",
        arg=[CHART, info],
    )
    return _shown(page)


def test_a_spike_in_100k_points_is_drawn_and_zoom_rebuckets(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/ui/data/series" in r.url else None)
    page.goto(f"{site.url}/runs/{site.run_id}?tab=charts&key=loss")
    whole = _drawn(page)
    shots(page, "spike")
    assert "100,000 points" in whole["info"]
    xs, last, high, low = whole["columns"]
    assert len(xs) <= whole["width"] + 1  # never more buckets than pixels
    assert max(v for v in high if v is not None) == SPIKE  # the band reaches the spike
    assert max(v for v in last if v is not None) < SPIKE  # which the line alone may miss
    assert min(v for v in low if v is not None) > 0
    drawn_ms = page.evaluate("() => performance.getEntriesByName('kiln-chart-drawn')[0].startTime")
    print(f"100k-point chart drawn {drawn_ms:.0f} ms after navigation start")

    # drag across a few percent around the spike: asked again for that range, raw points
    box = page.locator(f"{CHART} .u-over").bounding_box()
    assert box is not None
    left = box["x"] + box["width"] * (SPIKE_STEP / POINTS - 0.006)
    right = box["x"] + box["width"] * (SPIKE_STEP / POINTS + 0.006)
    page.mouse.move(left, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(right, box["y"] + 60, steps=6)
    page.mouse.up()
    zoomed = _drawn(page, "zoomed")
    shots(page, "zoomed")
    assert "lo=" in asked[-1]
    assert "hi=" in asked[-1]
    assert len(zoomed["columns"]) == 2  # raw: no band
    zxs, zlast = zoomed["columns"]
    assert len(zxs) < 2000
    assert SPIKE_STEP in zxs
    assert zlast[zxs.index(SPIKE_STEP)] == SPIKE

    page.locator(f"{CHART} .u-over").dblclick()
    back = _drawn(page, "max band")
    assert "zoomed" not in back["info"]

    page.locator(f"{CHART} .kc-log input").check()
    assert _shown(page)["distr"] == 3
    page.locator(f"{CHART} .kc-smooth input").fill("0.9")
    smoothed = _shown(page)
    assert smoothed["labels"][-1] == "long-train smoothed"
    assert len(smoothed["columns"]) == 5

    page.locator(f"{CHART} .kc-x").select_option("time")
    timed = _drawn(page)
    assert "x=time" in asked[-1]
    assert timed["xTime"]
    assert timed["columns"][0][-1] == T0 + (POINTS - 1) * 50
    shots(page, "time-log-smoothed")
    # the focused chart keeps its controls in the URL: a reload shows the same view
    assert "x=time" in page.url
    assert "log=1" in page.url
    assert "smooth=0.90" in page.url
    page.reload()
    again = _drawn(page)
    assert again["xTime"]
    assert again["distr"] == 3
    assert again["labels"][-1] == "long-train smoothed"
    assert errors == []


def test_a_dark_page_draws_the_chart_in_its_own_colours(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    page = browser_context.new_page()
    page.emulate_media(color_scheme="dark")
    page.goto(f"{site.url}/runs/{site.run_id}?tab=charts&key=loss&x=relative")
    shown = _drawn(page)
    shots(page, "dark-relative")
    axis = page.evaluate(
        "(s) => { const u = window.KilnCharts.plot(document.querySelector(s)); "
        "return u.axes[1].stroke(u, 1); }",
        CHART,
    )
    fg = page.evaluate(
        "() => getComputedStyle(document.documentElement).getPropertyValue('--fg-soft').trim()"
    )
    assert axis == fg  # the axis text follows the dark theme
    assert shown["columns"][0][0] >= 0  # relative: ms since the first point
