"""The compare page: runs side by side (overlaid charts, a params/metrics table with
"show only differences", parallel coordinates and a scatter).

``GET /compare?run=a&run=b`` (READ, like the API's ``runs/get``); runs may come from
any experiment of the tenant. All state is in the URL (``diff=1``, ``chart=``), so a
comparison is shared by link. What differs is computed by ``kiln.tracking.compare``;
the plots are drawn in the browser by ``static/js/compare.js`` from one JSON block.
"""

from __future__ import annotations

import colorsys
import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup
from starlette.responses import Response

from kiln.entities import Run
from kiln.errors import InvalidInput, KilnError, NotFound
from kiln.server.policy import READ
from kiln.server.ui.core import Page, UiRoute, ui_route
from kiln.server.ui.data_routes import MAX_RUNS as SERIES_MAX_RUNS
from kiln.tracking.compare import Axis, Row, chart_keys, compare_rows, plot_axes

MAX_RUNS = 100
MAX_CHARTS = 20
CHART_RUNS = SERIES_MAX_RUNS  # a chart draws the first 50 runs (the series endpoint's cap)
_SEPARATORS = re.compile(r"[\s,]+")
MAX_NAMED = 10  # unknown ids named in the 404 message
# The runs' colours, the same as charts.js's palette (so a chart that ignores
# data-colors still matches the first ten), then golden-angle hues as #rrggbb (charts.js
# appends an alpha to them).
PALETTE = (
    "#3b82f6",
    "#f97316",
    "#10b981",
    "#e11d48",
    "#8b5cf6",
    "#eab308",
    "#06b6d4",
    "#db2777",
    "#84cc16",
    "#64748b",
)


def run_color(index: int) -> str:
    """The colour of the ``index``-th run, the same in every plot of the page."""
    if index < len(PALETTE):
        return PALETTE[index]
    red, green, blue = colorsys.hls_to_rgb((index * 0.381966) % 1.0, 0.5, 0.62)
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"


def requested_ids(page: Page) -> list[str]:
    """The ``run`` fields in order, without repeats (``run=a,b`` and ``run=a b`` too)."""
    seen: dict[str, None] = {}
    for field in page.fields_list("run"):
        for one in _SEPARATORS.split(field):
            if one:
                seen.setdefault(one, None)
    return list(seen)


def load_runs(page: Page, ids: Sequence[str]) -> list[Run]:
    """Each run of ``ids`` from the tenant's store; NotFound naming those missing."""
    runs: list[Run] = []
    missing: list[str] = []
    for run_id in ids:
        try:
            runs.append(page.stores.tracking.get_run(run_id))
        except (NotFound, InvalidInput):
            missing.append(run_id)
    if missing:
        named = ", ".join(_short(m) for m in missing[:MAX_NAMED])
        more = f" and {len(missing) - MAX_NAMED} more" if len(missing) > MAX_NAMED else ""
        noun = "run" if len(missing) == 1 else "runs"
        raise NotFound(f"no such {noun} in this workspace: {named}{more}")
    return runs


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def experiment_names(page: Page, runs: Sequence[Run]) -> dict[str, str]:
    names: dict[str, str] = {}
    for run in runs:
        eid = run.info.experiment_id
        if eid not in names:
            try:
                names[eid] = page.stores.tracking.get_experiment(eid).name
            except KilnError:
                names[eid] = eid
    return names


def script_json(value: Any) -> Markup:
    """``value`` as JSON safe inside ``<script type="application/json">``: ``<``, ``>``
    and ``&`` escaped, so a param value holding ``</script>`` cannot end the block."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def cell(value: str | float | None) -> str:
    """A table cell: a metric to 6 significant digits (the full value is its title)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return value


def started(ms: int | None) -> str:
    """A run's start time, in UTC to the minute."""
    if not ms:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def plot_data(runs: Sequence[Run], colors: Sequence[str], axes: Sequence[Axis]) -> dict[str, Any]:
    """What compare.js draws: the runs (id, name, colour) and the axes."""
    return {
        "runs": [
            {"id": run.info.run_id, "name": run.info.run_name or run.info.run_id, "color": color}
            for run, color in zip(runs, colors, strict=True)
        ],
        "axes": [
            {
                "section": axis.section,
                "key": axis.key,
                "numeric": axis.numeric,
                "categories": list(axis.categories),
                "coords": list(axis.coords),
                "same": axis.same,
            }
            for axis in axes
        ],
    }


def chosen_charts(page: Page, available: Sequence[str], metric_keys: set[str]) -> list[str]:
    """The ``chart`` fields that name a metric, else the first shared keys; at most 20."""
    asked = [key for key in page.fields_list("chart") if key in metric_keys]
    picked = list(dict.fromkeys(asked)) if asked else list(available)
    return picked[:MAX_CHARTS]


def axis_id(axis: Axis) -> str:
    """How a select names an axis (``param:alpha``, ``metric:rmse``)."""
    return f"{axis.section}:{axis.key}"


def scatter_choice(axes: Sequence[Axis], asked_x: str, asked_y: str) -> tuple[str, str]:
    """The scatter's axes: those asked (``sx``, ``sy``) when they exist, else the first
    differing param against the first metric."""
    names = {axis_id(a) for a in axes}
    metrics = [axis_id(a) for a in axes if a.section == "metric"]
    params = [a for a in axes if a.section == "param"]
    params.sort(key=lambda a: a.same)
    x = asked_x if asked_x in names else (axis_id(params[0]) if params else "")
    if not x and metrics:
        x = metrics[0]
    y = asked_y if asked_y in metrics else next((m for m in metrics if m != x), x)
    return x, y


def compare(page: Page) -> Response:
    """``GET /compare``: the runs named by ``run`` side by side (see the module docstring)."""
    ids = requested_ids(page)
    if not ids:
        return page.render("compare_empty.html")
    if len(ids) > MAX_RUNS:
        raise InvalidInput(f"compare at most {MAX_RUNS} runs at a time ({len(ids)} were asked)")
    runs = load_runs(page, ids)
    colors = [run_color(i) for i in range(len(runs))]
    rows: list[Row] = compare_rows(runs)
    metric_keys = {row.key for row in rows if row.section == "metric"}
    shared = chart_keys(runs)
    charts = chosen_charts(page, shared, metric_keys)
    only_diff = page.field("diff") in ("1", "true", "on")
    axes = plot_axes(rows)
    return page.render(
        "compare.html",
        runs=runs,
        ids=[run.info.run_id for run in runs],
        colors=colors,
        experiments=experiment_names(page, runs),
        rows=rows,
        differing=sum(1 for row in rows if not row.same),
        only_diff=only_diff,
        charts=charts,
        chart_runs=CHART_RUNS,
        chart_options=sorted(metric_keys, key=lambda k: (k not in shared, k)),
        max_charts=MAX_CHARTS,
        axes=axes,
        axis_id=axis_id,
        scatter=scatter_choice(axes, page.field("sx"), page.field("sy")),
        data=script_json(plot_data(runs, colors, axes)),
        cell=cell,
        started=started,
    )


ROUTES: list[UiRoute] = [ui_route("/compare", compare, policy=READ, name="ui-compare")]

__all__ = [
    "CHART_RUNS",
    "MAX_CHARTS",
    "MAX_RUNS",
    "PALETTE",
    "ROUTES",
    "plot_data",
    "run_color",
    "scatter_choice",
    "script_json",
]
