"""The compare page in a real browser: compare.js's plots, hover and "only differences".

A real ``kiln server`` (SQLite) and headless Chromium (``kiln.testing.browser``): three
runs of two experiments, one holding a param that is a script tag. The page must draw
one parallel-coordinates line and one scatter point per run, never run the param's
script, hide the equal rows in place (the URL keeps ``diff=1``), pick one run out in
every plot on hover and follow the scatter's selects into the URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kiln.entities import Metric, Param
from kiln.store.open import close_store, open_tracking_store
from kiln.testing.browser import Shots
from kiln.testing.server_process import kiln_server_process

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HOSTILE = "</script><script>alert(1)</script>"
T0 = 1_765_000_000_000
READY = """() => document.body.dataset.compareReady === '1' &&
  [...document.querySelectorAll('.kiln-chart')].every(e => e.dataset.state === 'drawn')"""


@dataclass(frozen=True)
class Site:
    url: str
    ids: list[str]


def _seed(db: Path) -> list[str]:
    store = open_tracking_store(f"sqlite:///{db}", workspace="default")
    try:
        other = store.create_experiment("baseline")
        sweep = store.create_experiment("sweep")
        runs = [
            (other, "brave", {"lr": "0.1", "opt": "adam", "epochs": "10", "wd": "1e-1"}),
            (sweep, "calm", {"lr": "0.03", "opt": "sgd", "epochs": "10", "wd": "1e-3"}),
            (
                sweep,
                "eager",
                {"lr": "0.01", "opt": "adamw", "epochs": "10", "note": HOSTILE, "wd": "1e-5"},
            ),
        ]
        ids = []
        for i, (experiment, name, params) in enumerate(runs):
            run_id = store.create_run(experiment, run_name=name).info.run_id
            points = [
                Metric(key, (1 + i) / (1 + step) + offset, T0 + step, step)
                for step in range(50)
                for key, offset in (("loss", 0.0), ("acc", 0.5))
            ]
            store.log_batch(run_id, metrics=points, params=[Param(k, v) for k, v in params.items()])
            ids.append(run_id)
        return ids
    finally:
        close_store(store)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("compare")
    ids = _seed(root / "kiln.db")
    with kiln_server_process(root) as url:
        yield Site(url, ids)


@pytest.fixture
def page(browser_context: BrowserContext, site: Site) -> Iterator[Page]:
    opened = browser_context.new_page()
    problems: list[str] = []
    opened.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    query = "&".join(f"run={run_id}" for run_id in site.ids)
    opened.goto(f"{site.url}/compare?{query}")
    opened.wait_for_function(READY)
    yield opened
    assert problems == []


def test_every_plot_draws_each_run_and_the_script_param_stays_text(
    page: Page, site: Site, shots: Shots
) -> None:
    shots(page, "compare")
    assert page.locator(".kiln-chart").count() == 2  # loss and acc
    lines = page.locator("#parallel-plot .lines .run-mark")
    assert [lines.nth(i).get_attribute("data-run") for i in range(3)] == site.ids
    axes = page.locator("#parallel-plot [data-axis]")
    shown = [axes.nth(i).get_attribute("data-axis") for i in range(axes.count())]
    assert shown == [
        "param:lr",
        "param:note",
        "param:opt",
        "param:wd",
        "metric:acc",
        "metric:loss",
    ]
    kinds = page.locator("#parallel-plot .axis-kind").all_text_contents()
    assert kinds[0] == "param"  # 0.01 to 0.1: linear
    assert kinds[3] == "param · log"  # 1e-5 to 1e-1: four decades
    assert page.locator("#scatter-plot .dots .scatter-dot").count() == 3
    note = page.locator('#compare-table tr[data-key="note"] td').nth(2)
    assert note.text_content() == HOSTILE


def test_only_differences_hides_the_equal_rows_in_place_and_in_the_url(
    page: Page, site: Site
) -> None:
    epochs = page.locator('#compare-table tr[data-key="epochs"]')
    assert epochs.is_visible()
    page.check("#diff-toggle")
    assert epochs.is_hidden()
    assert page.locator('#compare-table tr[data-key="lr"]').is_visible()
    assert page.url.endswith("&diff=1")
    page.reload()
    page.wait_for_function(READY)
    assert page.is_checked("#diff-toggle")
    assert page.locator('#compare-table tr[data-key="epochs"]').is_hidden()
    page.uncheck("#diff-toggle")
    assert page.locator('#compare-table tr[data-key="epochs"]').is_visible()
    assert "diff=" not in page.url


def test_hover_picks_one_run_out_everywhere_and_the_scatter_follows_its_selects(
    page: Page, site: Site, shots: Shots
) -> None:
    page.locator("#scatter").scroll_into_view_if_needed()
    page.locator("#scatter-plot .dots .scatter-dot").nth(1).hover()
    assert page.evaluate("document.body.classList.contains('run-focus')")
    focused = page.locator(f'.focused[data-run="{site.ids[1]}"]')
    assert focused.count() >= 4  # the legend row, its line, its dot and their copies on top
    assert "calm" in (page.locator("#plot-tip").text_content() or "")
    shots(page, "scatter-hover")
    page.mouse.move(0, 0)
    assert not page.evaluate("document.body.classList.contains('run-focus')")
    page.select_option("#scatter-x", "param:opt")
    page.select_option("#scatter-y", "metric:loss")
    assert "sx=param%3Aopt" in page.url
    assert "sy=metric%3Aloss" in page.url
    axis_labels = page.locator("#scatter-plot .axis-label").all_text_contents()
    assert axis_labels == ["param: opt", "loss"]
    assert page.locator("#scatter-plot .tick").all_text_contents()[:3] == ["adam", "adamw", "sgd"]


def test_unticking_a_run_and_pressing_the_button_drops_it(page: Page, site: Site) -> None:
    update = page.locator("#runs-update")
    assert update.is_disabled()
    page.uncheck(f'#compare-runs input[value="{site.ids[0]}"]')
    assert update.is_enabled()
    update.click()
    page.wait_for_function(READY)
    assert page.locator("h1").text_content() == "Compare 2 runs"
    assert site.ids[0] not in page.url
    assert page.locator("#parallel-plot .lines .run-mark").count() == 2


def test_many_differing_params_never_push_the_metrics_out_of_parallel_coordinates(
    browser_context: BrowserContext, tmp_path: Path
) -> None:
    db = tmp_path / "many" / "kiln.db"
    db.parent.mkdir()
    store = open_tracking_store(f"sqlite:///{db}", workspace="default")
    try:
        ids = []
        for i in range(2):
            run_id = store.create_run("0", run_name=f"wide-{i}").info.run_id
            params = [Param(f"p{k:02d}", str(i * k)) for k in range(1, 41)]
            metrics = [Metric(f"m{k}", float(i + k), T0, 0) for k in range(3)]
            store.log_batch(run_id, metrics=metrics, params=params)
            ids.append(run_id)
    finally:
        close_store(store)
    with kiln_server_process(db.parent) as url:
        page = browser_context.new_page()
        page.goto(f"{url}/compare?run={ids[0]}&run={ids[1]}")
        page.wait_for_function("document.body.dataset.compareReady === '1'")
        axes = page.locator("#parallel-plot [data-axis]")
        shown = [axes.nth(i).get_attribute("data-axis") or "" for i in range(axes.count())]
        assert len(shown) == 24
        assert shown[-3:] == ["metric:m0", "metric:m1", "metric:m2"]
        assert shown[0] == "param:p01"
        note = page.locator("#parallel-plot .plot-note").text_content()
        assert note == "24 of the 43 params and metrics that differ are shown."
