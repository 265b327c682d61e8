"""The run page: Overview (params, metrics, tags, description, datasets, models,
source) and Charts, with Artifacts a link to its own page.

``GET /runs/{run_id}`` (READ, as the API's ``runs/get``): ``?tab=charts`` shows a
chart per metric key (``&key=`` focuses one, ``&x=step|time|relative``), drawn by
``static/js/charts.js`` from ``/ui/data/series``. ``POST /runs/{run_id}/description``
(WRITE, as ``runs/set-tag``) sets MLflow's ``mlflow.note.content`` tag; to htmx it
answers the description fragment, else 303 back to the page.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from kiln.entities import USER_TAG, Run, RunTag
from kiln.entities.logged_model import LoggedModel
from kiln.errors import InvalidInput
from kiln.server.policy import READ, WRITE
from kiln.server.ui.core import Page, UiRoute, ui_route
from kiln.tracking.run_source import run_source, split_tags
from kiln.tracking.system_tags import NOTE, PARENT_RUN_ID

TABS = ("overview", "charts")
X_MODES = ("step", "time", "relative")
MAX_LOGGED_MODELS = 100


def run_page(page: Page) -> Response:
    """The run's header, its tab and what the tab shows."""
    run = page.stores.tracking.get_run(page.field("run_id"))
    tab = page.field("tab", "overview")
    if tab not in TABS:
        raise InvalidInput(f"tab must be one of {', '.join(TABS)}, not {tab!r}")
    x = page.field("x", "step")
    if x not in X_MODES:
        raise InvalidInput(f"x must be one of {', '.join(X_MODES)}, not {x!r}")
    view = _chart_view(page)
    experiment = page.stores.tracking.get_experiment(run.info.experiment_id)
    keys = sorted(run.data.metric_objects)
    focus = page.field("key")
    values: dict[str, Any] = {
        **run_header(run),
        "experiment": experiment,
        "tab": tab,
        "x": x,
        "view": view,
        "focus": focus if focus in keys else "",
        "runs_json": json.dumps([run.info.run_id]),
        "description": run.data.tags.get(NOTE, ""),
    }
    if tab == "overview":
        user_tags, system_tags = split_tags(run.data.tags)
        values.update(
            metrics=[(k, run.data.metric_objects[k]) for k in keys],
            user_tags=user_tags,
            system_tags=system_tags,
            source=run_source(run),
            models=_logged_models(page, run),
            fmt=format_value,
        )
    return page.render("run.html", **values)


def run_header(run: Run) -> dict[str, Any]:
    """What ``_run_header.html`` shows besides the experiment (the run page and the
    artifacts page share it)."""
    return {
        "run": run,
        "keys": sorted(run.data.metric_objects),
        "times": _times(run),
        "parent": run.data.tags.get(PARENT_RUN_ID),
        "user": run.info.user_id or run.data.tags.get(USER_TAG, ""),
    }


def edit_description(page: Page) -> Response:
    """Set the run's description (``mlflow.note.content``)."""
    run_id = page.field("run_id")
    text = page.field("description").replace("\r\n", "\n")
    page.stores.tracking.set_tag(run_id, RunTag(NOTE, text))
    if page.htmx:
        run = page.stores.tracking.get_run(run_id)
        return page.render("_run_description.html", run=run, description=text)
    return page.redirect(f"/runs/{quote(run_id, safe='')}")


def _chart_view(page: Page) -> dict[str, str]:
    """The charts' ``log`` and ``smooth`` from the URL, checked, as the links keep them."""
    log = page.field("log")
    if log not in ("", "0", "1"):
        raise InvalidInput(f"log must be 1 or 0, not {log[:40]!r}")
    raw = page.field("smooth")
    try:
        smooth = float(raw) if raw else 0.0
    except ValueError:
        smooth = math.nan
    if not 0 <= smooth < 1:
        raise InvalidInput(f"smooth must be a number from 0 to 0.99, not {raw[:40]!r}")
    return {"log": "1" if log == "1" else "", "smooth": f"{smooth:.2f}" if smooth else ""}


def _logged_models(page: Page, run: Run) -> list[LoggedModel]:
    """Models whose source is this run (as the API's logged-models search finds them)."""
    found = page.stores.logged_models.search_logged_models(
        [run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        max_results=MAX_LOGGED_MODELS,
    )
    return list(found.items)


def _times(run: Run) -> dict[str, str]:
    info = run.info
    end = info.end_time
    return {
        "started": format_time(info.start_time),
        "ended": format_time(end) if end else "",
        "duration": format_duration((end or 0) - info.start_time) if end else "",
    }


def format_time(ms: int | None) -> str:
    """Milliseconds since the epoch as ``YYYY-MM-DD HH:MM:SS UTC``."""
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_duration(ms: int) -> str:
    """``1h 02m``, ``3m 04s``, ``5.2s``, ``120ms``."""
    if ms < 0:
        return ""
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def format_value(value: float) -> str:
    """A metric value: six significant digits; ``NaN``, ``inf`` spelled out."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


ROUTES: list[UiRoute] = [
    ui_route("/runs/{run_id}", run_page, policy=READ),
    ui_route("/runs/{run_id}/description", edit_description, policy=WRITE, methods=("POST",)),
]

__all__ = ["ROUTES", "edit_description", "format_duration", "format_time", "run_page"]
