"""``/experiments``: the experiments list, search, create, rename, delete and restore.

The search box takes a name fragment (``name ILIKE '%q%'``) or, when it holds a
comparison, MLflow's experiment filter as is (``tags.team = 'ml'``); a filter the
store refuses is shown above the table. One page of experiments per request, with
MLflow's page tokens. The runs table of one experiment is ``runs_pages``.
Policies are the API's: create and rename are WRITE, delete and restore DELETE.
"""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.responses import Response

from kiln.entities import Experiment
from kiln.entities import Page as ExperimentPage
from kiln.errors import AlreadyExists, InvalidInput
from kiln.server.policy import DELETE, READ, WRITE, Policy
from kiln.server.ui import runs_pages
from kiln.server.ui.core import Page, UiRoute, View, ui_route
from kiln.server.ui.runs_table import (
    DEFAULT_PAGE_SIZE,
    VIEWS,
    absolute_time,
    page_size,
    relative_time,
    view_name,
)
from kiln.tracking.run_listing import quote_string

TABLE_TARGET = "experiments-table"
_FILTER_START = re.compile(
    r"^\s*(name|experiment_id|creation_time|last_update_time|tags?\.|attributes?\.)\S*\s*"
    r"(=|!=|<|>|like\b|ilike\b|in\b|not\b|is\b)",
    re.IGNORECASE,
)


def experiment_filter(q: str) -> str | None:
    """The search box's text as an experiment filter (see the module docstring)."""
    text = q.strip()
    if not text:
        return None
    if _FILTER_START.match(text):
        return text
    return f"name ILIKE {quote_string('%' + text + '%')}"


def _list(page: Page, error: str = "", status: int = 200, name: str = "") -> Response:
    q = page.field("q").strip()
    view = view_name(page.field("view"))
    size = page_size(page.field("size") or str(DEFAULT_PAGE_SIZE))
    token = page.field("page_token").strip()
    found: ExperimentPage[Experiment] = ExperimentPage([], None)
    search_error = ""
    try:
        found = page.stores.tracking.search_experiments(
            view_type=VIEWS[view],
            max_results=size,
            filter_string=experiment_filter(q),
            page_token=token or None,
        )
    except InvalidInput as exc:
        search_error = str(exc)
        status = max(status, 400)
    values: dict[str, Any] = {
        "q": q,
        "view": view,
        "view_q": "" if view == "active" else view,
        "size": size,
        "size_q": "" if size == DEFAULT_PAGE_SIZE else size,
        "page_token": token,
        "experiments": found.items,
        "next_token": found.next_page_token,
        "search_error": search_error,
        "error": error,
        "new_name": name,
        "relative_time": relative_time,
        "absolute_time": absolute_time,
        "now_ms": _now_ms(),
        "host": str(page.request.base_url).rstrip("/"),
    }
    wants_table = page.htmx and page.request.headers.get("hx-target") == TABLE_TARGET
    if wants_table and page.request.headers.get("hx-history-restore-request") != "true":
        return page.render("_experiments_table.html", **values)
    return page.render("experiments.html", status=status, **values)


def _now_ms() -> int:
    return int(time.time() * 1000)


def experiments_page(page: Page) -> Response:
    return _list(page)


def create_experiment(page: Page) -> Response:
    """A new experiment; its runs page next. A taken or bad name: the list, with why."""
    name = page.field("name").strip()
    try:
        experiment_id = page.stores.tracking.create_experiment(name)
    except (InvalidInput, AlreadyExists) as exc:
        status = 409 if isinstance(exc, AlreadyExists) else 400
        return _list(page, error=str(exc), status=status, name=name)
    return page.redirect(f"/experiments/{experiment_id}")


def _experiment_id(page: Page) -> str:
    return page.stores.tracking.get_experiment(page.field("experiment_id")).experiment_id


def rename_experiment(page: Page) -> Response:
    experiment_id = _experiment_id(page)
    page.stores.tracking.rename_experiment(experiment_id, page.field("name").strip())
    return page.redirect(f"/experiments/{experiment_id}")


def delete_experiment(page: Page) -> Response:
    page.stores.tracking.delete_experiment(_experiment_id(page))
    return page.redirect("/experiments")


def restore_experiment(page: Page) -> Response:
    experiment_id = _experiment_id(page)
    page.stores.tracking.restore_experiment(experiment_id)
    return page.redirect(f"/experiments/{experiment_id}")


def _post(path: str, view: View, policy: Policy, name: str) -> UiRoute:
    return ui_route(path, view, policy=policy, methods=("POST",), name=name)


ROUTES: list[UiRoute] = [
    ui_route("/experiments", experiments_page, policy=READ, name="ui-experiments"),
    _post("/experiments/create", create_experiment, WRITE, "ui-experiment-create"),
    _post("/experiments/{experiment_id}/rename", rename_experiment, WRITE, "ui-experiment-rename"),
    _post("/experiments/{experiment_id}/delete", delete_experiment, DELETE, "ui-experiment-delete"),
    _post(
        "/experiments/{experiment_id}/restore", restore_experiment, DELETE, "ui-experiment-restore"
    ),
    *runs_pages.ROUTES,
]

__all__ = ["ROUTES", "experiment_filter"]
