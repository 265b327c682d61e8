"""The web UI in a real browser: headless Chromium (``kiln.testing.browser``) against a
real ``kiln server --auth`` process, with runs logged by the official mlflow client
(the world: ``ui_site``): sign in, experiments, the runs table (filter, sort, columns,
pages), a run with its chart and artifacts, compare, MLflow's links, what a viewer
and another tenant see, and auth off. ``test_ui_browser_actions.py`` has the rest.

Each test signs in through the login page in a fresh browser context and takes
screenshots of each step (``shots``; ``KILN_SCREENSHOTS=<folder>`` keeps them).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from kiln.testing.browser import Shots
from kiln.testing.server import server_process

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext

pytestmark = [pytest.mark.integration, pytest.mark.slow]

from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric  # noqa: E402
from ui_site import (  # noqa: E402
    CREDENTIALS,
    NAMES,
    ROWS,
    SWEEP,
    SWEEP_RUNS,
    Site,
    drawn_pixels,
    mlflow_as,
    run_names,
    running_site,
    sign_in,
    write_controls,
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(tmp_path_factory) as made:
        yield made


def test_a_wrong_password_stays_on_the_login_page(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    page = browser_context.new_page()
    page.goto(site.url + "/experiments")
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("input[name=name]", "mia")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    shots(page, "wrong-password")
    assert "/login" in page.url
    assert page.locator(".alert-error").is_visible()
    assert not any(c["name"] == "kiln_session" for c in browser_context.cookies())


def test_sign_in_lands_on_the_experiments(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    tab = sign_in(browser_context, site, shots, "mia")
    page = tab.clean()
    tab.shot("experiments")
    assert page.url == site.url + "/experiments"
    assert page.get_by_role("link", name=SWEEP).is_visible()
    session = [c for c in browser_context.cookies() if c["name"] == "kiln_session"]
    assert len(session) == 1
    assert session[0]["httpOnly"]
    assert session[0]["sameSite"] == "Lax"


def test_an_experiment_made_in_the_ui_shows_the_runs_mlflow_logs(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    tab = sign_in(browser_context, site, shots, "mia")
    page = tab.clean()
    name = f"made-in-the-ui-{uuid.uuid4().hex[:6]}"
    page.get_by_text("New experiment").click()
    page.fill("form[action='/experiments/create'] input[name=name]", name)
    tab.shot("new-experiment")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/experiments/\d+$"))
    experiment_id = page.url.rsplit("/", 1)[1]
    tab.clean()
    tab.shot("empty-experiment")
    assert page.locator("h1").inner_text() == name
    assert page.locator("section.empty").is_visible()
    with mlflow_as(site.url, site.tokens["mia"]) as client:
        assert client.get_experiment_by_name(name).experiment_id == experiment_id
        for run_name in ("first-run", "second-run"):
            run = client.create_run(experiment_id, run_name=run_name)
            client.log_batch(run.info.run_id, metrics=[Metric("rmse", 0.5, 0, 0)])
            client.set_terminated(run.info.run_id)
    page.reload()
    tab.clean()
    tab.shot("runs-appear")
    assert run_names(page) == ["second-run", "first-run"]


def test_filter_sort_columns_and_pages(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    tab = sign_in(browser_context, site, shots, "mia")
    page = tab.visit(f"/experiments/{site.sweep_id}?size=5")
    tab.shot("first-page")
    newest = [f"sweep-{i:02d}" for i in range(SWEEP_RUNS - 1, -1, -1)]
    assert run_names(page) == newest[:5]
    page.get_by_role("link", name="Next page").click()
    page.wait_for_url(re.compile(r"page_token="))
    expect(page.locator(NAMES)).to_have_text(newest[5:10])
    tab.clean()
    page.get_by_role("link", name="Next page").click()
    expect(page.locator(NAMES)).to_have_text(newest[10:])
    tab.clean()
    tab.shot("last-page")
    assert page.get_by_role("link", name="Next page").count() == 0

    page = tab.visit(f"/experiments/{site.sweep_id}")
    search = page.locator("input.search")
    search.fill("metrics.accuracy > 0.555 and params.alpha = '0.1'")
    search.press("Enter")
    page.wait_for_url(re.compile(r"filter=metrics.accuracy"))
    expect(page.locator(NAMES)).to_have_text(["sweep-09", "sweep-06"])
    tab.clean()
    tab.shot("filtered")

    search = page.locator("input.search")
    search.fill("metrics.rmse <<< 'oops")
    search.press("Enter")
    error = page.locator(".filter-error")
    error.wait_for()
    tab.clean()
    tab.shot("bad-filter")
    assert "does not work" in error.inner_text()
    assert page.locator("input.search").input_value() == "metrics.rmse <<< 'oops"

    page = tab.visit(f"/experiments/{site.sweep_id}")
    page.locator("table.runs thead a", has_text="accuracy").click()
    page.wait_for_url(re.compile(r"order=metrics.accuracy"))
    sorted_by = page.locator("table.runs thead th[aria-sort]", has_text="accuracy")
    expect(sorted_by).to_have_count(1)
    direction = sorted_by.get_attribute("aria-sort")
    tab.clean()
    first = run_names(page)
    page.locator("table.runs thead a", has_text="accuracy").click()
    expect(sorted_by).not_to_have_attribute("aria-sort", direction or "")
    tab.clean()
    tab.shot("sorted")
    second = run_names(page)
    assert sorted([first, second]) == [
        [f"sweep-{i:02d}" for i in range(SWEEP_RUNS)],
        [f"sweep-{i:02d}" for i in range(SWEEP_RUNS - 1, -1, -1)],
    ]

    page.locator("details.picker summary").click()
    for box in page.locator("details.picker input[type=checkbox]").all():
        box.set_checked(box.get_attribute("value") in ("params.alpha", "tags.team"))
    tab.shot("column-picker")
    page.locator("details.picker").get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"cols=params.alpha"))
    expect(page.locator("table.runs thead th", has_text="team")).to_be_visible()
    tab.clean()
    tab.shot("columns-picked")
    headings = [h.strip() for h in page.locator("table.runs thead th").all_inner_texts()]
    assert "alpha" in headings
    assert "team" in headings
    assert not any("rmse" in h or "accuracy" in h for h in headings)


def test_a_run_its_chart_and_its_artifacts(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    tab = sign_in(browser_context, site, shots, "mia")
    page = tab.visit(f"/experiments/{site.sweep_id}")
    page.locator(NAMES, has_text="sweep-01").click()
    page.wait_for_url(re.compile(r"/runs/" + site.runs["sweep-01"] + "$"))
    tab.clean()
    tab.shot("run-overview")
    assert "sweep-01" in page.locator("h1").inner_text()
    overview = page.locator("main").inner_text()
    for shown in ("alpha", "0.5", "layers", "rmse", "accuracy", "run number 1"):
        assert shown in overview

    page.get_by_role("link", name=re.compile("^Charts")).click()
    page.wait_for_url(re.compile(r"tab=charts"))
    chart = ".kiln-chart[data-key=rmse]"
    page.locator(f"{chart} canvas").first.wait_for()
    expect(page.locator(f"{chart} canvas").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    tab.clean()
    tab.shot("run-charts")
    assert drawn_pixels(page, chart) > 500

    page.get_by_role("link", name="Artifacts").click()
    page.wait_for_url(re.compile(r"/artifacts"))
    tab.clean()
    tab.shot("artifacts")
    for name in ("notes.txt", "sample.csv", "summary.json"):
        expect(page.locator(".artifact-tree").get_by_text(name)).to_be_visible()
    page.locator(".artifact-tree").get_by_text("sample.csv").click()
    page.wait_for_url(re.compile(r"path=sample.csv"))
    tab.clean()
    tab.shot("artifact-csv")
    cells = page.locator(".artifact-table tbody td").all_inner_texts()
    assert cells == ["1", "1", "2", "2", "3", "4"]
    page.locator(".artifact-tree").get_by_text("notes.txt").click()
    page.wait_for_url(re.compile(r"path=notes.txt"))
    tab.clean()
    tab.shot("artifact-text")
    expect(page.locator(".artifact-view")).to_contain_text("trained on the ui fixture")


def test_compare_three_runs(site: Site, browser_context: BrowserContext, shots: Shots) -> None:
    tab = sign_in(browser_context, site, shots, "mia")
    page = tab.visit(f"/experiments/{site.sweep_id}")
    picked = ["sweep-02", "sweep-04", "sweep-07"]
    for name in picked:
        page.locator(f"{ROWS}[data-run='{site.runs[name]}'] input[type=checkbox]").check()
    tab.shot("three-selected")
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(re.compile(r"/compare\?"))
    page.locator(
        "#compare-charts .kiln-chart canvas, .compare-charts .kiln-chart canvas"
    ).first.wait_for()
    page.wait_for_load_state("networkidle")
    tab.clean()
    tab.shot("compare")
    expect(page.locator("#compare-runs tbody tr")).to_have_count(3)
    for name in picked:
        expect(page.locator("#compare-runs")).to_contain_text(name)
    assert drawn_pixels(page, ".compare-charts .kiln-chart[data-key=rmse]") > 500
    keys = page.locator("#compare-table tbody th.key").all_inner_texts()
    assert {"alpha", "layers", "rmse", "accuracy"} <= set(keys)
    assert page.locator("#parallel-plot svg path, #parallel-plot svg polyline").count() >= 3
    assert page.locator("#scatter-plot svg circle").count() >= 3
    page.locator("#diff-toggle").check()
    tab.shot("compare-only-differences")
    visible = page.locator("#compare-table tbody tr:visible th.key").all_inner_texts()
    assert "alpha" in visible  # 1.0, 0.5, 0.5: differs
    assert "team" not in visible  # every run has team = ui


def test_an_mlflow_link_lands_on_the_run_through_the_login(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    run_id = site.runs["sweep-05"]
    link = f"/#/experiments/{site.sweep_id}/runs/{run_id}"  # as the mlflow client prints it
    tab = sign_in(browser_context, site, shots, "mia", path=link)
    page = tab.page
    page.wait_for_url(re.compile(f"/runs/{run_id}$"))
    tab.clean()
    tab.shot("mlflow-run-link")
    assert "sweep-05" in page.locator("h1").inner_text()
    page.goto(f"{site.url}/#/experiments/{site.sweep_id}")  # signed in now
    page.wait_for_url(re.compile(f"/experiments/{site.sweep_id}$"))
    tab.clean()
    tab.shot("mlflow-experiment-link")
    expect(page.locator(NAMES)).to_have_count(SWEEP_RUNS)


def test_a_viewer_sees_no_write_controls(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    tab = sign_in(browser_context, site, shots, "vic")
    run_id = site.runs["sweep-00"]
    pages = {
        "experiments": "/experiments",
        "runs": f"/experiments/{site.sweep_id}",
        "run": f"/runs/{run_id}",
        "charts": f"/runs/{run_id}?tab=charts",
        "artifacts": f"/runs/{run_id}/artifacts",
        "compare": f"/compare?run={run_id}&run={site.runs['sweep-01']}",
    }
    for name, path in pages.items():
        page = tab.visit(path)
        tab.shot(f"viewer-{name}")
        assert page.url.endswith(path), f"{path} -> {page.url}"
        assert write_controls(page) == [], f"a viewer is offered a write on {path}"
    assert tab.visit("/experiments").get_by_text("New experiment").count() == 0


def test_another_tenants_run_is_not_found(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    tab = sign_in(browser_context, site, shots, "mia")
    canary_run = site.canaries[2]
    for path in (f"/runs/{canary_run}", f"/runs/{canary_run}/artifacts"):
        answer = tab.page.goto(site.url + path)
        assert answer is not None
        assert answer.status == 404, path
        tab.clean(asked=canary_run)
    tab.shot("canary-run-404")
    page = tab.page
    page.goto(f"{site.url}/experiments?q={site.canaries[0]}")
    tab.clean(asked=site.canaries[0])  # the search box keeps what was asked
    tab.shot("canary-search")
    assert page.locator("table.data tbody tr a").count() == 0


def test_with_auth_off_there_is_no_login(
    tmp_path: Path, browser: Browser, browser_context: BrowserContext, shots: Shots
) -> None:
    with server_process(f"sqlite:///{tmp_path / 'kiln.db'}", tmp_path / "open") as server:
        with pytest.MonkeyPatch.context() as patch:
            for name in CREDENTIALS:
                patch.delenv(name, raising=False)
            client = MlflowClient(tracking_uri=server.url)
            experiment_id = client.create_experiment("open-experiment")
            run = client.create_run(experiment_id, run_name="open-run")
            client.set_terminated(run.info.run_id)
        page = browser_context.new_page()
        page.goto(server.url + "/")
        page.wait_for_url(server.url + "/experiments")
        shots(page, "open-experiments")
        expect(page.get_by_role("link", name="open-experiment")).to_be_visible()
        assert page.locator("input[type=password]").count() == 0
        page.goto(f"{server.url}/#/experiments/{experiment_id}")
        page.wait_for_url(f"{server.url}/experiments/{experiment_id}")
        shots(page, "open-mlflow-link")
        expect(page.locator(NAMES)).to_have_text(["open-run"])
        page.goto(server.url + "/login")
        page.wait_for_url(server.url + "/experiments")
        dark = browser.new_context(color_scheme="dark")
        try:
            night = dark.new_page()
            night.goto(f"{server.url}/experiments/{experiment_id}")
            shots(night, "dark-mode")
            background = night.evaluate("() => getComputedStyle(document.body).backgroundColor")
        finally:
            dark.close()
        red, green, blue = (int(c) for c in re.findall(r"\d+", background)[:3])
        assert red + green + blue < 3 * 64, background  # the system's dark scheme is followed
