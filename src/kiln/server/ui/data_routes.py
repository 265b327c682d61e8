"""``/ui/data/series``: the JSON every chart of the UI draws (the "chart data contract").

``GET /ui/data/series?key=<metric>&run=<id>[&run=...]&x=step|time|relative&n=&lo=&hi=``
answers ``{"key", "x", "series": [{"run", "name", "xs", "last", "min", "max", "raw",
"points"}]}``, one entry per run in the order asked. A range holding at most 2,000
points comes back raw; a longer one as ``n`` equal-width buckets with the last value
and the min and max of each, so a one-step spike is never sampled away
(``kiln.store.query.buckets``; the SQL store buckets in the database).

Policy READ, as the API's ``metrics/get-history``. Runs are looked up in the
request's own stores, so another tenant's run is unknown (404). Bad parameters
answer 400 with a message naming the parameter, as JSON: a chart's script shows it.
"""

from __future__ import annotations

import math
import re

from starlette.responses import Response

from kiln.errors import InvalidInput, KilnError
from kiln.http_status import status_for
from kiln.server.policy import READ
from kiln.server.responses import json_response
from kiln.server.ui.core import Page, UiRoute, ui_route
from kiln.store.protocols.series import read_series
from kiln.store.query.buckets import DEFAULT_BUCKETS, MAX_BUCKETS, X_MODES, SeriesQuery, XMode

MAX_RUNS = 50
_NO_STORE = {"cache-control": "no-store"}
_WHOLE = re.compile(r"[+-]?[0-9]{1,9}")


def series(page: Page) -> Response:
    """One metric of up to ``MAX_RUNS`` runs, bucketed for a chart."""
    try:
        key, run_ids, query = _parse(page)
        answer = []
        for run_id in run_ids:
            run = page.stores.tracking.get_run(run_id)
            data = read_series(page.stores.tracking, run_id, key, query)
            answer.append(
                {
                    "run": run_id,
                    "name": run.info.run_name,
                    "xs": data.xs,
                    "last": data.last,
                    "min": data.min,
                    "max": data.max,
                    "raw": data.raw,
                    "points": data.points,
                }
            )
    except KilnError as exc:
        response = json_response({"error": str(exc)}, status_for(exc))
        response.headers.update(_NO_STORE)
        return response
    response = json_response({"key": key, "x": query.x, "series": answer})
    response.headers.update(_NO_STORE)
    return response


def _parse(page: Page) -> tuple[str, list[str], SeriesQuery]:
    key = page.field("key")
    if not key:
        raise InvalidInput("missing parameter 'key' (the metric to chart)")
    run_ids = list(dict.fromkeys(page.fields_list("run")))  # in order, once each
    if not run_ids:
        raise InvalidInput("missing parameter 'run' (repeat it for several runs)")
    if len(run_ids) > MAX_RUNS:
        raise InvalidInput(f"at most {MAX_RUNS} runs per chart; got {len(run_ids)}")
    x = page.field("x", "step") or "step"
    if x not in X_MODES:
        raise InvalidInput(f"parameter 'x' must be one of {', '.join(X_MODES)}; got {x!r}")
    n = _int(page.field("n"), "n", DEFAULT_BUCKETS)
    if not 1 <= n <= MAX_BUCKETS:
        raise InvalidInput(f"parameter 'n' must be between 1 and {MAX_BUCKETS}; got {n}")
    lo, hi = _number(page.field("lo"), "lo"), _number(page.field("hi"), "hi")
    if lo is not None and hi is not None and lo > hi:
        raise InvalidInput(f"parameter 'lo' ({lo:g}) is above 'hi' ({hi:g})")
    mode: XMode = "step" if x == "step" else "time" if x == "time" else "relative"
    return key, run_ids, SeriesQuery(mode, lo, hi, n)


def _int(text: str, name: str, default: int) -> int:
    if not text:
        return default
    if not _WHOLE.fullmatch(text):
        raise InvalidInput(f"parameter {name!r} must be a whole number; got {text[:40]!r}")
    return int(text)


def _number(text: str, name: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text) if len(text) <= 40 else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidInput(f"parameter {name!r} must be a finite number; got {text[:40]!r}")
    return value


ROUTES: list[UiRoute] = [ui_route("/ui/data/series", series, policy=READ, name="ui-data-series")]

__all__ = ["MAX_RUNS", "ROUTES", "series"]
