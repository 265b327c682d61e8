"""The web UI in a real browser, continued (see test_ui_browser.py and ``ui_site``):
the registry (move an alias, its History, MLflow's version link), the workspace
switcher and sign-out, editing a run, deleting and restoring runs, a long metric's
bucketed chart and its zoom, an HTML artifact that must not run, the keyboard.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import expect

from kiln.testing.browser import Shots
from kiln.testing.tenancy import KILN_API, WORKSPACE_HEADER, basic_auth

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Dialog, Response

pytestmark = [pytest.mark.integration, pytest.mark.slow]

from mlflow.entities import Metric  # noqa: E402
from ui_site import (  # noqa: E402
    ADMIN_PASSWORD,
    NAMES,
    PASSWORD,
    ROWS,
    SWEEP_RUNS,
    TENANT,
    Site,
    mlflow_as,
    running_site,
    sign_in,
)

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


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(tmp_path_factory) as made:
        yield made


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


def test_rename_delete_and_restore_an_experiment(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    experiment_id, _ = _two_runs(site)
    tab = sign_in(browser_context, site, shots, "pam", path=f"/experiments/{experiment_id}")
    page = tab.clean()
    page.on("dialog", lambda dialog: dialog.accept())  # the delete asks first
    new_name = f"renamed-{uuid.uuid4().hex[:6]}"
    page.get_by_text("Rename", exact=True).first.click()
    rename = page.locator(f"form[action='/experiments/{experiment_id}/rename']")
    rename.locator("input[name=name]").fill(new_name)
    rename.get_by_role("button", name="Rename").click()
    expect(page.locator("h1")).to_have_text(new_name)
    tab.shot("renamed")

    page.get_by_role("button", name="Delete experiment").click()
    page.wait_for_url(re.compile(r"/experiments(\?.*)?$"))
    tab.clean()
    expect(page.get_by_role("link", name=new_name)).to_have_count(0)
    page = tab.visit("/experiments?view=deleted")
    tab.shot("deleted-experiments")
    page.get_by_role("link", name=new_name).click()
    page.wait_for_url(re.compile(f"/experiments/{experiment_id}"))
    page.get_by_role("button", name="Restore experiment").click()
    expect(page.locator("h1")).to_have_text(new_name)
    page = tab.visit("/experiments")
    tab.shot("restored")
    expect(page.get_by_role("link", name=new_name)).to_be_visible()
    with mlflow_as(site.url, site.tokens["mia"]) as client:
        restored = client.get_experiment(experiment_id)
    assert restored.name == new_name
    assert restored.lifecycle_stage == "active"


def test_child_runs_fold_under_their_parent(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    with mlflow_as(site.url, site.tokens["mia"]) as client:
        experiment_id = client.create_experiment(f"ui-nested-{uuid.uuid4().hex[:6]}")
        parent = client.create_run(experiment_id, run_name="sweep-parent").info.run_id
        for i in range(3):
            client.create_run(
                experiment_id, run_name=f"trial-{i}", tags={"mlflow.parentRunId": parent}
            )
    tab = sign_in(browser_context, site, shots, "mia", path=f"/experiments/{experiment_id}")
    page = tab.clean()
    expect(page.locator(NAMES)).to_have_text(["sweep-parent"])  # the trials are folded
    tab.shot("folded")
    page.locator(f"{ROWS}[data-run='{parent}'] a.kids").click()
    children = page.locator(f"{ROWS}[data-parent='{parent}'] td.name > a")
    expect(children).to_have_count(3)
    tab.clean()
    tab.shot("unfolded")
    assert sorted(children.all_inner_texts()) == ["trial-0", "trial-1", "trial-2"]


def test_a_no_to_data_confirm_stops_htmx_requests_too(
    site: Site, browser_context: BrowserContext, shots: Shots
) -> None:
    """kiln.js's data-confirm on an hx-post form (a submit) and an hx-post button (a
    click): a No sends nothing (htmx's own listener would have), a Yes asks once and
    sends."""
    experiment_id, run_ids = _two_runs(site)
    tab = sign_in(browser_context, site, shots, "pam", path=f"/experiments/{experiment_id}")
    page = tab.clean()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    asked: list[str] = []
    answer = ["no"]

    def on_dialog(dialog: Dialog) -> None:
        asked.append(dialog.message)
        if answer[0] == "yes":
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    page.evaluate(
        """() => {
        const form = document.querySelector("form[data-confirm][action$='/delete']");
        form.setAttribute("hx-post", form.getAttribute("action"));
        form.setAttribute("hx-swap", "none");
        const button = document.querySelector(".selection-bar button.danger");
        button.setAttribute("data-confirm", button.getAttribute("hx-confirm"));
        button.removeAttribute("hx-confirm");
        htmx.process(form);
        htmx.process(button);
    }"""
    )
    page.get_by_role("button", name="Delete experiment").click()
    page.locator(f"{ROWS}[data-run='{run_ids['delete-me']}'] input[type=checkbox]").check()
    page.locator(".selection-bar").get_by_role("button", name="Delete").click()
    page.wait_for_timeout(500)
    assert [m.split(" ")[0] for m in asked] == ["Delete", "Delete"]
    assert posts == []
    answer[0] = "yes"
    page.locator(".selection-bar").get_by_role("button", name="Delete").click()
    expect(page.locator(NAMES)).to_have_text(["keep-me"])
    assert len(asked) == 3
    assert len(posts) == 1
    assert posts[0].endswith("/runs/delete")
    with mlflow_as(site.url, site.tokens["mia"]) as client:
        assert client.get_experiment(experiment_id).lifecycle_stage == "active"
        assert client.get_run(run_ids["delete-me"]).info.lifecycle_stage == "deleted"
