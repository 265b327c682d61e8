"""The web UI in a real browser: headless Chromium (``kiln.testing.browser``) against a
real ``kiln server --auth`` process, with runs logged by the official mlflow client.

One server for the module (SQLite, proxied artifacts, the admin from
``KILN_ADMIN_PASSWORD``), set up through Kiln's admin API: tenants ``team-ui`` and
``team-other``; ``mia`` (member of team-ui), ``vic`` (viewer of team-ui) and
``oscar`` (member of team-other), each with a ``kiln_pat_`` token. Oscar logs a
canary experiment and run in team-other; every page mia or vic opens is checked
for the canary's names and ids (``Browse.visit``). Mia logs a sweep of runs in
team-ui with the mlflow client (a metric history for the charts, params, artifacts).

Each test signs in through the login page in a fresh browser context and takes
screenshots of each step (``shots``; ``KILN_SCREENSHOTS=<folder>`` keeps them).
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import expect

from kiln.testing.browser import Shots
from kiln.testing.server import ServerProcess, server_process
from kiln.testing.tenancy import KILN_API, WORKSPACE_HEADER, basic_auth

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Response

pytestmark = [pytest.mark.integration, pytest.mark.slow]

from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402

ADMIN_PASSWORD = "ui-Admin-Passw0rd-1"
PASSWORD = "ui-user-Passw0rd-1"
TENANT, OTHER = "team-ui", "team-other"
USERS = (
    ("mia", TENANT, "member"),
    ("vic", TENANT, "viewer"),
    ("pam", TENANT, "project-admin"),
    ("oscar", OTHER, "member"),
)
SWEEP = "ui-sweep"
SWEEP_RUNS = 12
STEPS = 300
ROWS = "table.runs tbody tr[data-run]"
NAMES = f"{ROWS} td.name > a"
MLMODEL = """artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.0
signature:
  inputs: '[{"type": "double", "name": "petal_width", "required": true}]'
  outputs: '[{"type": "long", "required": true}]'
"""
EVIL_HTML = """<!doctype html><html><body><p id="hello">hello from an artifact</p>
<script>document.body.dataset.ran = "yes";
try { parent.document.title = "pwned"; } catch (e) {}</script>
</body></html>"""
CREDENTIALS = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_WORKSPACE",
)


@dataclass
class Site:
    """The server and what the module put in it."""

    server: ServerProcess
    tokens: dict[str, str]
    canaries: list[str]  # the other tenant's names, ids, a param: never on a team-ui page
    sweep_id: str = ""
    runs: dict[str, str] = field(default_factory=dict)  # run name -> run id, of the sweep

    @property
    def url(self) -> str:
        return self.server.url


@contextlib.contextmanager
def mlflow_as(url: str, token: str) -> Iterator[MlflowClient]:
    """The official client against ``url`` with ``token`` (``MLFLOW_TRACKING_TOKEN``)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in CREDENTIALS:
            patch.delenv(name, raising=False)
        patch.setenv("MLFLOW_TRACKING_TOKEN", token)
        patch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        yield MlflowClient(tracking_uri=url)


def _people(url: str) -> dict[str, str]:
    """The tenants, users and memberships (admin API); each user's token."""
    admin = basic_auth("admin", ADMIN_PASSWORD)
    tokens = {}
    with httpx.Client(base_url=url, timeout=30) as http:
        for tenant in (TENANT, OTHER):
            made = http.post(f"{KILN_API}/admin/tenants", json={"name": tenant}, headers=admin)
            assert made.status_code == 201, made.text
        for user, tenant, role in USERS:
            body = {"name": user, "password": PASSWORD}
            made = http.post(f"{KILN_API}/admin/users", json=body, headers=admin)
            assert made.status_code == 201, made.text
            member = f"{KILN_API}/admin/tenants/{tenant}/members/{user}"
            granted = http.put(member, json={"role": role}, headers=admin)
            assert granted.status_code == 200, granted.text
            own = {**basic_auth(user, PASSWORD), WORKSPACE_HEADER: tenant}
            answer = http.post(f"{KILN_API}/tokens", json={"name": "ui-test"}, headers=own)
            assert answer.status_code == 201, answer.text
            tokens[user] = answer.json()["token"]
    return tokens


def _canary(url: str, token: str) -> list[str]:
    """Oscar's experiment and run in the other tenant: its names and ids."""
    marker = uuid.uuid4().hex[:10]
    with mlflow_as(url, token) as client:
        experiment = client.create_experiment(f"canary-exp-{marker}")
        run = client.create_run(experiment, run_name=f"canary-run-{marker}")
        client.log_batch(run.info.run_id, params=[Param("canary", f"canary-param-{marker}")])
        client.set_terminated(run.info.run_id)
    return [
        f"canary-exp-{marker}",
        f"canary-run-{marker}",
        run.info.run_id,
        f"canary-param-{marker}",
        marker,
    ]


def _sweep(site: Site, tmp: Path) -> None:
    """Mia's sweep: ``SWEEP_RUNS`` runs with params, a metric history and artifacts."""
    notes = tmp / "notes.txt"
    notes.write_text("trained on the ui fixture\n")
    table = tmp / "sample.csv"
    table.write_text("x,y\n1,2\n3,4\n")
    summary = tmp / "summary.json"
    summary.write_text(json.dumps({"best": "sweep-03"}))
    with mlflow_as(site.url, site.tokens["mia"]) as client:
        site.sweep_id = client.create_experiment(SWEEP)
        for i in range(SWEEP_RUNS):
            name = f"sweep-{i:02d}"
            run = client.create_run(site.sweep_id, run_name=name, tags={"team": "ui"})
            run_id = run.info.run_id
            alpha = ("0.1", "0.5", "1.0")[i % 3]
            rmse = [1.0 / (1 + s * (i + 1) / 100) for s in range(STEPS)]
            rmse[STEPS // 2] = 5.0  # a one-step spike the chart must keep
            ts = run.info.start_time
            metrics = [Metric("rmse", v, ts + s, s) for s, v in enumerate(rmse)]
            metrics.append(Metric("accuracy", 0.5 + i / 100, ts, 0))
            params = [Param("alpha", alpha), Param("layers", str(2 + i % 4))]
            tags = [RunTag("mlflow.note.content", f"run number {i}")]
            client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
            if i < 3:
                for path in (notes, table, summary):
                    client.log_artifact(run_id, str(path))
            client.set_terminated(run_id)
            site.runs[name] = run_id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("kiln-ui")
    env = {"KILN_ADMIN_PASSWORD": ADMIN_PASSWORD}
    with server_process(f"sqlite:///{root / 'kiln.db'}", root, args=("--auth",), env=env) as server:
        tokens = _people(server.url)
        made = Site(server, tokens, _canary(server.url, tokens["oscar"]))
        _sweep(made, tmp_path_factory.mktemp("sweep-files"))
        yield made


class Browse:
    """One signed-in browser tab: every page it opens is checked for the canaries."""

    def __init__(self, page: Page, site: Site, shots: Shots) -> None:
        self.page, self.site, self.shots = page, site, shots

    def visit(self, path: str) -> Page:
        self.page.goto(self.site.url + path)
        return self.clean()

    def clean(self, asked: str = "") -> Page:
        """The page as it is now holds nothing of the other tenant (but ``asked``, the
        id the URL itself named)."""
        self.page.wait_for_load_state("load")
        html = self.page.content().replace(asked, "") if asked else self.page.content()
        for canary in self.site.canaries:
            assert canary not in html, f"{self.page.url} shows {canary!r} of {OTHER}"
        return self.page

    def shot(self, name: str) -> Path:
        return self.shots(self.page, name)


def sign_in(
    context: BrowserContext, site: Site, shots: Shots, user: str, path: str = "/"
) -> Browse:
    """Open ``path`` signed out, land on the login page, sign in as ``user``."""
    page = context.new_page()
    page.goto(site.url + path)
    page.wait_for_url(re.compile(r"/login\?"))
    shots(page, f"login-{user}")
    page.fill("input[name=name]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    return Browse(page, site, shots)


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


def run_names(page: Page) -> list[str]:
    """The run names of the runs table, top to bottom."""
    return page.locator(NAMES).all_inner_texts()


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


def drawn_pixels(page: Page, selector: str) -> int:
    """Pixels that are not fully transparent on the first canvas under ``selector``."""
    count: int = page.evaluate(
        """(selector) => {
            const canvas = document.querySelector(selector + ' canvas');
            if (!canvas || !canvas.width || !canvas.height) return 0;
            const context = canvas.getContext('2d');
            const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let drawn = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) drawn += 1;
            return drawn;
        }""",
        selector,
    )
    return count


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


def write_controls(page: Page) -> list[str]:
    """The forms and htmx controls of ``page`` that would change something, besides
    signing out and switching workspace."""
    found: list[str] = page.evaluate(
        """() => {
            const quiet = ['/logout', '/workspace'];
            const forms = Array.from(document.querySelectorAll('form'))
                .filter((f) => f.method.toLowerCase() === 'post')
                .map((f) => new URL(f.action).pathname)
                .filter((path) => !quiet.includes(path));
            const htmx = Array.from(
                document.querySelectorAll('[hx-post],[hx-put],[hx-patch],[hx-delete]')
            ).map((e) => e.outerHTML.slice(0, 120));
            return forms.concat(htmx);
        }"""
    )
    return found


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


def test_move_an_alias_and_see_it_in_history(
    site: Site, browser_context: BrowserContext, shots: Shots, tmp_path: Path
) -> None:
    model = f"ui-model-{uuid.uuid4().hex[:6]}"
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text(MLMODEL)
    with mlflow_as(site.url, site.tokens["mia"]) as client:
        client.create_registered_model(model, description="registered by the browser test")
        for name in ("sweep-03", "sweep-04"):
            run_id = site.runs[name]
            client.log_artifacts(run_id, str(folder), "model")
            client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
        client.set_registered_model_alias(model, "candidate", "1")
    tab = sign_in(browser_context, site, shots, "mia", path="/models")
    page = tab.clean()
    tab.shot("models")
    page.get_by_role("link", name=model).click()
    page.wait_for_url(re.compile(f"/models/{model}$"))
    tab.clean()
    tab.shot("model")
    aliases = page.locator(".alias-list")
    expect(aliases).to_contain_text("@candidate")
    expect(aliases).to_contain_text("Version 1")
    form = page.locator("form.alias-form")
    form.locator("input[name=alias]").fill("candidate")
    form.locator("input[name=version]").fill("2")
    form.get_by_role("button", name="Set alias").click()
    expect(page.locator(".alias-list")).to_contain_text("Version 2")
    tab.clean()
    tab.shot("alias-moved")
    with mlflow_as(site.url, site.tokens["mia"]) as client:
        assert client.get_model_version_by_alias(model, "candidate").version == "2"

    page.get_by_role("link", name="History").click()
    page.wait_for_url(re.compile(f"/models/{model}/history"))
    tab.clean()
    tab.shot("history")
    rows = page.locator("table.history-table tbody tr").all_inner_texts()
    moved = [r for r in rows if "candidate" in r and "mia" in r]
    assert moved, rows
    assert any("2" in r.split("→")[-1] for r in moved), moved

    page.goto(f"{site.url}/#/models/{model}/versions/2")  # MLflow's link to a version
    page.wait_for_url(re.compile(f"/models/{model}/versions/2$"))
    tab.clean()
    tab.shot("mlflow-version-link")
    main = page.locator("main")
    expect(main).to_contain_text(site.runs["sweep-04"][:12])
    expect(main).to_contain_text("petal_width")  # the signature's input
    expect(main).to_contain_text(f"kiln models serve -m models:/{model}/2")
    assert page.locator(".alert-error").count() == 0


def test_switch_workspace_then_sign_out(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    admin = basic_auth("admin", ADMIN_PASSWORD)
    experiments = {TENANT: f"sam-ui-{uuid.uuid4().hex[:6]}", "team-two": "sam-two-experiment"}
    with httpx.Client(base_url=site.url, timeout=30) as http:
        made = http.post(f"{KILN_API}/admin/tenants", json={"name": "team-two"}, headers=admin)
        assert made.status_code == 201, made.text
        body = {"name": "sam", "password": PASSWORD}
        assert http.post(f"{KILN_API}/admin/users", json=body, headers=admin).status_code == 201
        for tenant, name in experiments.items():
            member = f"{KILN_API}/admin/tenants/{tenant}/members/sam"
            assert http.put(member, json={"role": "member"}, headers=admin).status_code == 200
            own = {**basic_auth("sam", PASSWORD), WORKSPACE_HEADER: tenant}
            answer = http.post(
                "/api/2.0/mlflow/experiments/create", json={"name": name}, headers=own
            )
            assert answer.status_code == 200, answer.text
    tab = sign_in(browser_context, site, shots, "sam")
    page = tab.clean()
    switcher = page.locator("form.workspace-switch select")
    first = switcher.input_value()
    other = "team-two" if first == TENANT else TENANT
    expect(page.get_by_role("link", name=experiments[first])).to_be_visible()
    expect(page.get_by_role("link", name=experiments[other])).to_have_count(0)
    tab.shot(f"workspace-{first}")
    switcher.select_option(other)
    expect(page.locator("form.workspace-switch select")).to_have_value(other)
    tab.clean()
    tab.shot(f"workspace-{other}")
    expect(page.get_by_role("link", name=experiments[other])).to_be_visible()
    expect(page.get_by_role("link", name=experiments[first])).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login"))
    tab.shot("signed-out")
    page.goto(site.url + "/experiments")
    page.wait_for_url(re.compile(r"/login\?next="))
    assert not any(c["name"] == "kiln_session" for c in browser_context.cookies())


def _two_runs(site: Site) -> tuple[str, dict[str, str]]:
    """A new experiment of mia's with the runs keep-me and delete-me."""
    with mlflow_as(site.url, site.tokens["mia"]) as client:
        experiment_id = client.create_experiment(f"ui-edits-{uuid.uuid4().hex[:6]}")
        run_ids = {}
        for name in ("keep-me", "delete-me"):
            run_ids[name] = client.create_run(experiment_id, run_name=name).info.run_id
    return experiment_id, run_ids


def test_edit_a_run_description(site: Site, browser_context: BrowserContext, shots: Shots) -> None:
    _, run_ids = _two_runs(site)
    tab = sign_in(browser_context, site, shots, "mia", path=f"/runs/{run_ids['keep-me']}")
    page = tab.clean()
    page.locator("details.edit-description summary").click()
    page.locator("#run-description textarea").fill("tried <b>alpha</b> = 0.3")
    page.locator("#run-description").get_by_role("button", name="Save").click()
    expect(page.locator("#run-description .description-text")).to_have_text(
        "tried <b>alpha</b> = 0.3"  # shown as text, never as markup
    )
    tab.shot("description-saved")
    with mlflow_as(site.url, site.tokens["mia"]) as client:
        tags = client.get_run(run_ids["keep-me"]).data.tags
        assert tags["mlflow.note.content"] == "tried <b>alpha</b> = 0.3"


def test_a_project_admin_deletes_and_restores_a_run(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    experiment_id, run_ids = _two_runs(site)
    tab = sign_in(browser_context, site, shots, "pam", path=f"/experiments/{experiment_id}")
    page = tab.clean()
    page.on("dialog", lambda dialog: dialog.accept())  # the delete asks first
    page.locator(f"{ROWS}[data-run='{run_ids['delete-me']}'] input[type=checkbox]").check()
    page.locator(".selection-bar").get_by_role("button", name="Delete").click()
    expect(page.locator(NAMES)).to_have_text(["keep-me"])
    tab.shot("run-deleted")
    page = tab.visit(f"/experiments/{experiment_id}?view=deleted")
    expect(page.locator(NAMES)).to_have_text(["delete-me"])
    page.locator(f"{ROWS} input[type=checkbox]").check()
    page.locator(".selection-bar").get_by_role("button", name="Restore").click()
    expect(page.locator(NAMES)).to_have_count(0)
    page = tab.visit(f"/experiments/{experiment_id}")
    tab.shot("run-restored")
    expect(page.locator(NAMES)).to_have_text(["delete-me", "keep-me"])


def test_a_long_metric_is_bucketed_keeps_its_spike_and_zooms_to_raw_points(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    steps, spike = 20_000, 12_345
    with mlflow_as(site.url, site.tokens["mia"]) as client:
        experiment_id = client.create_experiment(f"ui-long-{uuid.uuid4().hex[:6]}")
        run_id = client.create_run(experiment_id, run_name="long-run").info.run_id
        for start in range(0, steps, 1000):
            batch = [
                Metric("loss", 10.0 if s == spike else 1.0 / (1 + s), 0, s)
                for s in range(start, start + 1000)
            ]
            client.log_batch(run_id, metrics=batch)
    tab = sign_in(browser_context, site, shots, "mia")
    page = tab.page

    def series(response: Response) -> bool:
        return "/ui/data/series" in response.url and "key=loss" in response.url

    with page.expect_response(series) as answer:
        page.goto(f"{site.url}/runs/{run_id}?tab=charts&key=loss")
    first = answer.value.json()["series"][0]
    chart = page.locator(".kiln-chart[data-key=loss]")
    chart.locator("canvas").first.wait_for()
    page.wait_for_load_state("networkidle")
    tab.clean()
    tab.shot("long-metric")
    assert not first["raw"]
    assert first["points"] == steps
    assert len(first["xs"]) <= 2000  # never every point
    assert max(v for v in first["max"] if v is not None) == 10.0  # the one-step spike is kept

    box = chart.locator(".u-over").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    with page.expect_response(lambda r: series(r) and "lo=" in r.url) as answer:
        page.mouse.move(box["x"] + box["width"] * 0.60, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.62, y, steps=5)
        page.mouse.up()
    zoomed = answer.value.json()["series"][0]
    page.wait_for_load_state("networkidle")
    tab.shot("zoomed")
    assert zoomed["raw"]  # a narrow range is drawn from the raw points
    assert 0 < zoomed["points"] < 2000
    assert zoomed["min"] == zoomed["max"] == zoomed["last"]


def test_an_uploaded_html_page_never_runs_its_script(
    site: Site, browser_context: BrowserContext, shots: Shots, tmp_path: Path
) -> None:
    page_file = tmp_path / "report.html"
    page_file.write_text(EVIL_HTML)
    run_id = site.runs["sweep-02"]
    with mlflow_as(site.url, site.tokens["mia"]) as client:
        client.log_artifact(run_id, str(page_file), "reports")
    path = f"/runs/{run_id}/artifacts?path=reports/report.html"
    tab = sign_in(browser_context, site, shots, "mia", path=path)
    page = tab.clean()
    frame = page.frame_locator("iframe.artifact-frame")
    expect(frame.locator("#hello")).to_have_text("hello from an artifact")
    tab.shot("html-artifact-sandboxed")
    assert frame.locator("body[data-ran]").count() == 0
    assert page.title() != "pwned"
    raw = page.goto(f"{site.url}/runs/{run_id}/artifact?path=reports/report.html")
    assert raw is not None
    assert raw.headers["x-content-type-options"] == "nosniff"
    assert raw.headers["content-security-policy"].startswith("sandbox")
    assert page.evaluate("() => document.body && document.body.dataset.ran") is None


def test_the_runs_table_takes_the_keyboard(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    tab = sign_in(browser_context, site, shots, "mia", path=f"/experiments/{site.sweep_id}")
    page = tab.clean()
    page.keyboard.press("/")
    expect(page.locator("input.search")).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("x")  # selects the focused row
    second = f"sweep-{SWEEP_RUNS - 2:02d}"  # newest first
    expect(
        page.locator(f"{ROWS}[data-run='{site.runs[second]}'] input[type=checkbox]")
    ).to_be_checked()
    tab.shot("keyboard-selected")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(f"/runs/{site.runs[second]}$"))
    tab.clean()
