"""What differs between runs (kiln.tracking.compare): the compare page's rows and axes."""

from __future__ import annotations

import math

from kiln.entities import Metric, Run, RunData, RunInfo, RunStatus
from kiln.tracking.compare import (
    chart_keys,
    compare_rows,
    differing,
    plot_axes,
    values_same,
)


def _run(
    i: int,
    params: dict[str, str] | None = None,
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
) -> Run:
    info = RunInfo(f"{i:032x}", "0", f"run-{i}", "me", RunStatus.FINISHED, 1, 2, "file:///a")
    points = [Metric(k, v, 1, 0) for k, v in (metrics or {}).items()]
    return Run(info, RunData(points, params or {}, tags or {}))


def test_missing_counts_as_different_and_nan_equals_nan() -> None:
    assert values_same(["a", "a", "a"])
    assert not values_same(["a", "a", None])
    assert values_same([None, None])
    assert values_same([math.nan, math.nan])
    assert not values_same([math.nan, 1.0])
    assert values_same([])


def test_rows_cover_every_key_by_section_and_mark_the_differences() -> None:
    runs = [
        _run(1, {"alpha": "0.1", "opt": "adam"}, {"rmse": 0.5, "acc": 0.9}, {"team": "x"}),
        _run(2, {"alpha": "0.2", "opt": "adam"}, {"rmse": 0.4, "acc": 0.9}, {"team": "x"}),
        _run(
            3, {"alpha": "0.2", "opt": "adam", "depth": "3"}, {"rmse": 0.3}, {"mlflow.user": "me"}
        ),
    ]
    rows = compare_rows(runs)
    assert [(r.section, r.key) for r in rows] == [
        ("param", "alpha"),
        ("param", "depth"),
        ("param", "opt"),
        ("metric", "acc"),
        ("metric", "rmse"),
        ("tag", "team"),
    ]
    by_key = {r.key: r for r in rows}
    assert by_key["opt"].same
    assert by_key["opt"].values == ("adam", "adam", "adam")
    assert not by_key["alpha"].same
    assert by_key["depth"].values == (None, None, "3")
    assert not by_key["depth"].same
    assert by_key["acc"].values == (0.9, 0.9, None)
    assert [r.key for r in differing(rows)] == ["alpha", "depth", "acc", "rmse", "team"]
    with_system = compare_rows(runs, system_tags=True)
    assert ("tag", "mlflow.user") in {(r.section, r.key) for r in with_system}


def test_chart_keys_are_the_shared_metrics_most_shared_first() -> None:
    runs = [
        _run(1, metrics={"rmse": 1.0, "loss": 1.0, "only1": 1.0}),
        _run(2, metrics={"rmse": 1.0, "loss": 1.0}),
        _run(3, metrics={"rmse": 1.0, "acc": 1.0, "zeta": 2.0}),
        _run(4, metrics={"acc": 1.0}),
    ]
    assert chart_keys(runs) == ["rmse", "acc", "loss"]
    assert chart_keys(runs[:1]) == ["loss", "only1", "rmse"]
    assert chart_keys([]) == []


def test_axes_numeric_params_categorical_params_and_unplottable_metrics() -> None:
    runs = [
        _run(1, {"lr": "0.1", "opt": "sgd", "mixed": "1"}, {"rmse": 0.5}),
        _run(2, {"lr": "1e-2", "opt": "adam", "mixed": "x"}, {"rmse": math.inf}),
        _run(3, {"opt": "adam", "mixed": "nan"}, {"rmse": math.nan}),
    ]
    axes = {a.key: a for a in plot_axes(compare_rows(runs))}
    assert axes["lr"].numeric
    assert axes["lr"].coords == (0.1, 0.01, None)
    assert not axes["opt"].numeric
    assert axes["opt"].categories == ("adam", "sgd")
    assert axes["opt"].coords == (1.0, 0.0, 0.0)
    assert not axes["mixed"].numeric  # "nan" is not a finite number: categories
    assert axes["mixed"].categories == ("1", "nan", "x")
    assert axes["rmse"].numeric
    assert axes["rmse"].coords == (0.5, None, None)
    assert all(a.section != "tag" for a in axes.values())
