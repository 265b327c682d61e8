"""Chart data that never lies and never chokes: a metric's points, bucketed in x.

A chart of 100,000 points needs about one point per pixel, but a plain sample (MLflow's
``get-history-bulk-interval`` keeps every k-th step) drops the one step that spiked.
So a range holding more than ``RAW_LIMIT`` points is cut into ``n`` equal-width
buckets in x, and each bucket keeps its last point (x and value, what the line goes
through) and the min and max of its values (the band around it): a spike always
survives as some bucket's max. A range holding at most ``RAW_LIMIT`` points is
returned as it is (``raw``), so zooming in ends on the logged points themselves.

x is an integer: the step, the timestamp in ms (``time``), or ms since the run's
first point (``relative``). Every backend buckets with the same edges
(``bucket_edges``): the SQL store's fast path and ``bucket_points`` here agree.
NaN and ±inf values are kept (``None`` in the lists) but never count towards a
bucket's min or max.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

from kiln.entities import Metric

if TYPE_CHECKING:  # numpy is imported when a series is bucketed: the SQL store and the
    # tracking client import this module, and a project's environment may lack numpy
    import numpy as np
    import numpy.typing as npt

    Ints = npt.NDArray[np.int64]
    Floats = npt.NDArray[np.float64]

XMode = Literal["step", "time", "relative"]
X_MODES: tuple[str, ...] = get_args(XMode)
RAW_LIMIT = 2000  # a range with at most this many points is sent point by point
DEFAULT_BUCKETS = 1000
MAX_BUCKETS = 4000
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    """Which part of a series to chart: x mode, the x range (None: the series' own
    first or last x) and the number of buckets."""

    x: XMode = "step"
    lo: float | None = None
    hi: float | None = None
    n: int = DEFAULT_BUCKETS


@dataclass(frozen=True, slots=True)
class Series:
    """One run's chart data: per bucket (or per point when ``raw``) its x, last value,
    min and max; ``points``: how many points the range holds."""

    xs: list[int]
    last: list[float | None]
    min: list[float | None]
    max: list[float | None]
    raw: bool
    points: int


EMPTY = Series([], [], [], [], True, 0)


def bucket_edges(lo: int, hi: int, n: int) -> list[int]:
    """``n + 1`` edges of ``n`` equal-width buckets over the integers ``lo..hi``:
    bucket ``i`` holds ``edges[i] <= x < edges[i + 1]`` (exact integer arithmetic;
    some buckets are empty when the range is narrower than ``n``)."""
    span = hi - lo + 1
    return [lo + (i * span) // n for i in range(n + 1)]


def int_range(query: SeriesQuery, first: int, last: int) -> tuple[int, int]:
    """The integer x range ``[lo, hi]`` that ``query`` asks for, given the series'
    first and last x (the defaults); ``lo > hi`` when it holds no integer."""
    lo = first if query.lo is None else _clamp(math.ceil(query.lo))
    hi = last if query.hi is None else _clamp(math.floor(query.hi))
    return lo, hi


def _clamp(value: int) -> int:
    return min(max(value, _INT64_MIN), _INT64_MAX)


def bucket_points(
    steps: Ints,
    timestamps: Ints,
    values: Floats,
    query: SeriesQuery,
    *,
    raw_limit: int = RAW_LIMIT,
) -> Series:
    """Bucket one series given as arrays (``values``: NaN for a NaN point).

    The arrays may come in any order; points are charted in x order (ties kept in
    the order given, so a store's (step, timestamp) order decides the last point).
    A range of at most ``raw_limit`` points comes back raw.
    """
    import numpy as np

    if len(steps) == 0:
        return EMPTY
    x = steps if query.x == "step" else timestamps
    if query.x == "relative":
        x = timestamps - timestamps.min()
    if len(x) > 1 and bool(np.any(x[1:] < x[:-1])):
        order = np.argsort(x, kind="stable")
        x, values = x[order], values[order]
    lo, hi = int_range(query, int(x[0]), int(x[-1]))
    if lo > hi:
        return EMPTY
    start = int(np.searchsorted(x, lo, side="left"))
    stop = int(np.searchsorted(x, hi, side="right"))
    x, values = x[start:stop], values[start:stop]
    count = len(x)
    if count <= raw_limit:
        clean = _json_floats(values)
        return Series(x.tolist(), clean, list(clean), list(clean), True, count)
    edges = np.array(bucket_edges(lo, hi, query.n)[:-1], dtype=np.int64)
    starts = np.unique(np.searchsorted(x, edges, side="left"))
    starts = starts[starts < count]  # an empty bucket starts where the next one does
    ends = np.append(starts[1:], count) - 1
    finite = np.isfinite(values)
    mins = np.minimum.reduceat(np.where(finite, values, np.inf), starts)
    maxs = np.maximum.reduceat(np.where(finite, values, -np.inf), starts)
    return Series(
        x[ends].tolist(),
        _json_floats(values[ends]),
        _json_floats(mins),
        _json_floats(maxs),
        False,
        count,
    )


def sample_indices(count: int, max_results: int) -> list[int]:
    """Which of ``count`` points (in (step, timestamp, value, is_nan) order) MLflow's
    ``get-history-bulk-interval`` keeps for one run, in order.

    MLflow 3.17 cuts the points into ``NTILE(max_results)`` tiles (the first
    ``count % max_results`` one point longer), keeps each tile's first point, and
    then the last point: appended, or in place of the last kept one when there are
    already ``max_results``. A run of at most ``max_results`` points comes back whole.
    """
    if count <= 0:
        return []
    size, longer = divmod(count, max_results)
    picked = [tile * size + min(tile, longer) for tile in range(min(max_results, count))]
    if picked[-1] != count - 1:
        if len(picked) >= max_results:
            picked[-1] = count - 1
        else:
            picked.append(count - 1)
    return picked


def bucket_metrics(history: Sequence[Metric], query: SeriesQuery) -> Series:
    """``bucket_points`` over a store's ``get_metric_history`` (any backend)."""
    import numpy as np

    count = len(history)
    steps = np.fromiter((m.step for m in history), dtype=np.int64, count=count)
    times = np.fromiter((m.timestamp for m in history), dtype=np.int64, count=count)
    values = np.fromiter((m.value for m in history), dtype=np.float64, count=count)
    return bucket_points(steps, times, values, query)


def _json_floats(values: Iterable[float] | Floats) -> list[float | None]:
    """Finite values as they are, NaN and ±inf as None (JSON has neither)."""
    import numpy as np

    return [v if math.isfinite(v) else None for v in np.asarray(values, np.float64).tolist()]


__all__ = [
    "DEFAULT_BUCKETS",
    "EMPTY",
    "MAX_BUCKETS",
    "RAW_LIMIT",
    "X_MODES",
    "Series",
    "SeriesQuery",
    "XMode",
    "bucket_edges",
    "bucket_metrics",
    "bucket_points",
    "int_range",
    "sample_indices",
]
