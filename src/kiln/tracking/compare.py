"""What differs between runs: the rows, chart keys and plot axes of the compare page.

Pure functions over ``Run`` entities (no store, no server), so the web UI's compare
page only renders what they return. A value a run never logged is ``None`` and
counts as different from any logged value; a NaN metric equals another NaN (the
row is not a difference just because NaN != NaN).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from kiln.entities import Run

Section = Literal["param", "metric", "tag"]
Value = str | float | None
SYSTEM_TAG_PREFIX = "mlflow."


@dataclass(frozen=True, slots=True)
class Row:
    """One key across the runs: ``values`` has one entry per run (None: not logged)."""

    section: Section
    key: str
    values: tuple[Value, ...]
    same: bool


@dataclass(frozen=True, slots=True)
class Axis:
    """A key as a plot axis: one coordinate per run (None: missing or not finite).

    A ``numeric`` axis holds the values; a categorical one holds each value's index
    in ``categories`` (sorted), so the plot scales both the same way.
    """

    section: Section
    key: str
    numeric: bool
    categories: tuple[str, ...]
    coords: tuple[float | None, ...]
    same: bool


def values_same(values: Sequence[Value]) -> bool:
    """Whether every run has the same value (missing included; NaN equals NaN)."""
    if not values:
        return True
    first = _canonical(values[0])
    return all(_canonical(v) == first for v in values[1:])


def _canonical(value: Value) -> object:
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def compare_rows(runs: Sequence[Run], *, system_tags: bool = False) -> list[Row]:
    """Params, then metrics (latest values), then tags, each sorted by key.

    Tags named ``mlflow.*`` (run name, source, user...) are left out unless
    ``system_tags``: the header already shows what matters of them.
    """
    params = [run.data.params for run in runs]
    metrics = [run.data.metrics for run in runs]
    tags = [
        {
            k: v
            for k, v in run.data.tags.items()
            if system_tags or not k.startswith(SYSTEM_TAG_PREFIX)
        }
        for run in runs
    ]
    rows: list[Row] = []
    for section, maps in (("param", params), ("metric", metrics), ("tag", tags)):
        keys = sorted({key for one in maps for key in one})
        for key in keys:
            values = tuple(one.get(key) for one in maps)
            rows.append(Row(section, key, values, values_same(values)))  # type: ignore[arg-type]
    return rows


def _is_system(key: str) -> bool:
    return key.startswith(SYSTEM_TAG_PREFIX)


def differing(rows: Iterable[Row]) -> list[Row]:
    """The rows whose values are not all the same ("show only differences")."""
    return [row for row in rows if not row.same]


def chart_keys(runs: Sequence[Run]) -> list[str]:
    """Metric keys worth an overlaid chart: those logged by at least two of the runs
    (any key when there is one run), most shared first, then by name."""
    counts = Counter(key for run in runs for key in run.data.metrics)
    least = 1 if len(runs) < 2 else 2
    shared = [key for key, count in counts.items() if count >= least]
    return sorted(shared, key=lambda key: (-counts[key], key))


def plot_axes(rows: Iterable[Row]) -> list[Axis]:
    """Param and metric rows as plot axes (tags are not plotted).

    A param is numeric when every logged value parses as a finite float; else
    categorical, ordered by its sorted distinct values. Non-finite metric values
    have no coordinate.
    """
    axes: list[Axis] = []
    for row in rows:
        if row.section == "metric":
            coords = tuple(_finite(v) for v in row.values)
            axes.append(Axis(row.section, row.key, True, (), coords, row.same))
        elif row.section == "param":
            axes.append(_param_axis(row))
    return axes


def _param_axis(row: Row) -> Axis:
    present = [str(v) for v in row.values if v is not None]
    numbers = [_number(v) for v in present]
    if present and all(n is not None for n in numbers):
        coords = tuple(None if v is None else _number(str(v)) for v in row.values)
        return Axis(row.section, row.key, True, (), coords, row.same)
    categories = tuple(sorted(set(present)))
    index = {value: float(i) for i, value in enumerate(categories)}
    coords = tuple(None if v is None else index[str(v)] for v in row.values)
    return Axis(row.section, row.key, False, categories, coords, row.same)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _finite(value: Value) -> float | None:
    if isinstance(value, float | int) and math.isfinite(value):
        return float(value)
    return None


__all__ = [
    "Axis",
    "Row",
    "chart_keys",
    "compare_rows",
    "differing",
    "plot_axes",
    "values_same",
]
