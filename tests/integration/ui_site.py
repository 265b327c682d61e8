"""The world the browser tests of the web UI share (test_ui_browser*.py).

``running_site`` starts a real ``kiln server --auth`` (SQLite, proxied artifacts, the
admin from ``KILN_ADMIN_PASSWORD``) and sets it up through Kiln's admin API: tenants
``team-ui`` and ``team-other``; ``mia`` (member of team-ui), ``vic`` (viewer),
``pam`` (project-admin) and ``oscar`` (member of team-other), each with a
``kiln_pat_`` token. Oscar logs a canary experiment and run in team-other; every page
a test opens through ``Browse`` is checked for the canary's names, ids and param.
Mia logs a sweep of runs in team-ui with the official mlflow client (a metric
history for the charts, params, tags, artifacts). ``sign_in`` signs a user in
through the login page.
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
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from kiln.testing.browser import Shots
from kiln.testing.server import ServerProcess, server_process
from kiln.testing.tenancy import KILN_API, WORKSPACE_HEADER, basic_auth

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

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


@contextlib.contextmanager
def running_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A ``kiln server --auth`` with the tenants, users, canary and sweep (module doc)."""
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


def run_names(page: Page) -> list[str]:
    """The run names of the runs table, top to bottom."""
    return page.locator(NAMES).all_inner_texts()


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
