"""The reproduce verdict: tolerance rule, NaN and infinities, missing metrics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiln.errors import InvalidInput
from kiln.projects.compare import compare_metrics, lock_differences, values_match

NAN = float("nan")
INF = float("inf")


@pytest.mark.parametrize(
    ("original", "reproduced", "tolerance", "expected"),
    [
        (0.5, 0.5, 0.0, True),
        (0.5, 0.5 + 1e-12, 1e-9, True),
        (0.5, 0.5 + 1e-6, 1e-9, False),
        (1e6, 1e6 + 1e-4, 1e-9, True),  # relative above 1: 1e-9 * 1e6 = 1e-3
        (1e6, 1e6 + 1e-2, 1e-9, False),
        (1e-12, 2e-12, 1e-9, True),  # absolute below 1
        (0.1, 0.1000001, 0.0, False),
        (NAN, NAN, 0.0, True),
        (NAN, 1.0, 1.0, False),
        (1.0, NAN, 1.0, False),
        (INF, INF, 0.0, True),
        (-INF, -INF, 0.0, True),
        (INF, -INF, 1e9, False),
        (INF, 1e308, 1.0, False),
    ],
)
def test_values_match(original: float, reproduced: float, tolerance: float, expected: bool) -> None:
    assert values_match(original, reproduced, tolerance) is expected


@given(
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=0, max_value=1e3, allow_nan=False),
)
def test_a_value_always_matches_itself(value: float, tolerance: float) -> None:
    assert values_match(value, value, tolerance)


def test_comparison_covers_both_sides() -> None:
    result = compare_metrics(
        {"rmse": 0.5, "r2": 0.9, "gone": 1.0, "nan": NAN},
        {"rmse": 0.5, "r2": 0.8, "new": 2.0, "nan": NAN},
        tolerance=1e-9,
    )
    assert [m.key for m in result.metrics] == ["gone", "nan", "new", "r2", "rmse"]
    verdicts = {m.key: m.passed for m in result.metrics}
    assert verdicts == {"gone": False, "nan": True, "new": False, "r2": False, "rmse": True}
    assert not result.passed
    assert [m.key for m in result.failed] == ["gone", "new", "r2"]
    diffs = {m.key: m.abs_diff for m in result.metrics}
    assert diffs["gone"] is None
    assert diffs["new"] is None
    assert diffs["nan"] == 0.0
    assert diffs["r2"] == pytest.approx(0.1)
    assert diffs["rmse"] == 0.0


def test_equal_infinities_have_no_difference() -> None:
    (only,) = compare_metrics({"loss": INF}, {"loss": INF}).metrics
    assert only.passed
    assert only.abs_diff == 0.0


def test_all_passing_and_empty_comparisons_pass() -> None:
    assert compare_metrics({"a": 1.0}, {"a": 1.0}).passed
    empty = compare_metrics({}, {})
    assert empty.passed
    assert empty.metrics == ()


@pytest.mark.parametrize("tolerance", [-1e-9, NAN, INF])
def test_bad_tolerance_is_refused(tolerance: float) -> None:
    with pytest.raises(InvalidInput, match="tolerance must be a finite number >= 0"):
        compare_metrics({}, {}, tolerance)


def test_lock_differences_name_each_change() -> None:
    recorded = "# python 3.11.2\nnumpy==1.26.0\npandas==2.1.0\nscipy==1.11.0\n"
    current = "# python 3.11.4\nnumpy==1.26.0\npandas==2.2.0\ntorch==2.1.0\n"
    assert lock_differences(recorded, current) == [
        "python: 3.11.2 recorded, 3.11.4 here",
        "pandas: 2.1.0 recorded, 2.2.0 here",
        "scipy: 1.11.0 recorded, not installed here",
        "torch: not recorded, 2.1.0 installed here",
    ]
    assert lock_differences(recorded, recorded) == []


def test_malformed_lock_is_refused() -> None:
    with pytest.raises(InvalidInput, match="has no '# python"):
        lock_differences("numpy==1.0\n", "# python 3.11.2\n")
