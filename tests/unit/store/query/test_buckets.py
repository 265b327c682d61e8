"""Chart bucketing (kiln.store.query.buckets and the SQL store's fast path): a spike in
100,000 points survives, NaN/inf never poison a band, and every backend agrees."""

from __future__ import annotations

import bisect
import math
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.entities import Metric
from kiln.errors import NotFound
from kiln.store.memory.tracking import MemoryTrackingStore
from kiln.store.protocols.series import MetricSeries, read_series
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.query.buckets import (
    RAW_LIMIT,
    Series,
    SeriesQuery,
    bucket_edges,
    bucket_metrics,
    bucket_points,
)
from kiln.store.sql.tracking import SqlTrackingStore, open_sql_store

T0 = 1_700_000_000_000


def arrays(values: list[float], steps: list[int] | None = None, dt: int = 10) -> tuple:
    count = len(values)
    step = np.array(steps if steps is not None else range(count), dtype=np.int64)
    times = T0 + np.arange(count, dtype=np.int64) * dt
    return step, times, np.array(values, dtype=np.float64)


def finite_values(series: Series) -> list[float]:
    return [v for v in series.last if v is not None]


# --------------------------------------------------------------------------- edges


def test_edges_are_exact_and_cover_the_range() -> None:
    assert bucket_edges(0, 9, 5) == [0, 2, 4, 6, 8, 10]
    assert bucket_edges(-5, 4, 2) == [-5, 0, 5]
    big = bucket_edges(-(2**63), 2**63 - 1, 3)
    assert big[0] == -(2**63)
    assert big[-1] == 2**63
    assert big == sorted(big)


def test_narrow_range_leaves_buckets_empty_not_duplicated() -> None:
    assert bucket_edges(0, 2, 4) == [0, 0, 1, 2, 3]


# --------------------------------------------------------------------------- raw and buckets


def test_a_small_range_comes_back_raw() -> None:
    series = bucket_points(*arrays([1.0, float("nan"), 3.0]), SeriesQuery())
    assert series == Series(
        [0, 1, 2], [1.0, None, 3.0], [1.0, None, 3.0], [1.0, None, 3.0], True, 3
    )


def test_spike_in_100k_points_stays_visible_as_a_bucket_max() -> None:
    rng = np.random.default_rng(7)
    values = rng.random(100_000)
    values[54_321] = 100.0
    series = bucket_points(*arrays(values.tolist()), SeriesQuery(n=1000))
    assert not series.raw
    assert series.points == 100_000
    assert len(series.xs) == 1000
    assert max(v for v in series.max if v is not None) == 100.0
    spiked = bisect.bisect_left(series.xs, 54_321)
    assert series.max[spiked] == 100.0
    assert series.min[spiked] < 1.0
    # a plain every-100th-step sample (what a sampler sends) misses it
    assert max(values[::100]) < 1.0


def test_zooming_in_ends_on_the_raw_points() -> None:
    values = [float(i % 7) for i in range(10_000)]
    series = bucket_points(*arrays(values), SeriesQuery(lo=1000.5, hi=2999.9))
    assert series.raw
    assert series.xs == list(range(1001, 3000))
    assert series.points == 1999


def test_nan_and_inf_are_kept_as_none_and_ignored_by_the_band() -> None:
    values = [float(i) for i in range(3000)]
    values[10], values[11], values[12] = float("nan"), float("inf"), float("-inf")
    values[2999] = float("nan")
    series = bucket_points(*arrays(values), SeriesQuery(n=300))
    assert series.min[1] == 13.0
    assert series.max[1] == 19.0
    assert series.last[-1] is None
    assert series.max[-1] == 2998.0


def test_a_bucket_of_only_nan_has_no_band() -> None:
    values = [1.0] * 3000
    values[0:10] = [float("nan")] * 10
    series = bucket_points(*arrays(values), SeriesQuery(n=300))
    assert series.xs[0] == 9
    assert series.last[0] is None
    assert series.min[0] is None
    assert series.max[0] is None


def test_time_and_relative_x() -> None:
    # steps go up while the clock goes back at step 2: time order is not step order
    steps, _, values = arrays([1.0, 2.0, 3.0])
    times = np.array([T0 + 50, T0 + 60, T0 + 10], dtype=np.int64)
    by_time = bucket_points(steps, times, values, SeriesQuery(x="time"))
    assert by_time.xs == [T0 + 10, T0 + 50, T0 + 60]
    assert by_time.last == [3.0, 1.0, 2.0]
    relative = bucket_points(steps, times, values, SeriesQuery(x="relative", lo=30))
    assert relative.xs == [40, 50]
    assert relative.last == [1.0, 2.0]


def test_an_empty_or_inverted_range_is_empty() -> None:
    assert bucket_points(*arrays([]), SeriesQuery()).points == 0
    assert bucket_points(*arrays([1.0, 2.0]), SeriesQuery(lo=5, hi=3)).xs == []
    assert bucket_points(*arrays([1.0, 2.0]), SeriesQuery(lo=0.2, hi=0.8)).xs == []


# --------------------------------------------------------------------------- properties

_SPECIAL = [float("nan"), float("inf"), float("-inf")]


@st.composite
def series_inputs(draw: st.DrawFn) -> tuple[tuple, SeriesQuery, int]:
    count = draw(st.integers(0, 400))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    step_gap = draw(st.integers(0, 50))  # 0: every point on one step
    steps = np.cumsum(rng.integers(0, step_gap + 1, count)) - draw(st.integers(0, 100))
    times = T0 + rng.integers(-1000, 1000, count)  # the clock may go back
    values = rng.normal(0, draw(st.sampled_from([1e-9, 1.0, 1e300])), count)
    for i in rng.integers(0, max(count, 1), draw(st.integers(0, 5)) if count else 0):
        values[i] = draw(st.sampled_from(_SPECIAL))
    x = draw(st.sampled_from(["step", "time", "relative"]))
    bounds = st.none() | st.integers(-200, 2000).map(float) | st.floats(-200, 2000)
    lo, hi = draw(bounds), draw(bounds)
    n = draw(st.integers(1, 60))
    raw_limit = draw(st.integers(0, 80))
    return (
        (steps.astype(np.int64), times.astype(np.int64), values),
        SeriesQuery(x, lo, hi, n),
        raw_limit,
    )


def _xs(steps: np.ndarray, times: np.ndarray, mode: str) -> np.ndarray:
    if mode == "step":
        return steps
    return times if mode == "time" else times - (times.min() if len(times) else 0)


@given(series_inputs())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_point_lies_in_its_bucket_band(case: tuple[tuple, SeriesQuery, int]) -> None:
    (steps, times, values), query, raw_limit = case
    series = bucket_points(steps, times, values, query, raw_limit=raw_limit)
    x = _xs(steps, times, query.x)
    lo = math.ceil(query.lo) if query.lo is not None else (int(x.min()) if len(x) else 0)
    hi = math.floor(query.hi) if query.hi is not None else (int(x.max()) if len(x) else 0)
    inside = [(int(a), float(v)) for a, v in zip(x, values, strict=True) if lo <= a <= hi]
    assert series.points == len(inside)
    assert series.xs == sorted(series.xs)
    assert len(series.xs) == len(series.last) == len(series.min) == len(series.max)
    if series.raw:
        assert len(series.xs) == len(inside) <= max(raw_limit, len(inside))
        assert series.last == series.min == series.max
        return
    assert len(series.xs) <= query.n
    assert len(set(series.xs)) == len(series.xs)
    finite = [v for _, v in inside if math.isfinite(v)]
    highs = [v for v in series.max if v is not None]
    lows = [v for v in series.min if v is not None]
    assert max(highs, default=None) == max(finite, default=None)
    assert min(lows, default=None) == min(finite, default=None)
    edges = bucket_edges(lo, hi, query.n)
    for a, v in inside:
        at = bisect.bisect_left(series.xs, a)
        assert bisect.bisect_right(edges, series.xs[at]) == bisect.bisect_right(edges, a)
        if math.isfinite(v):
            low, high = series.min[at], series.max[at]
            assert low is not None
            assert high is not None
            assert low <= v <= high
    for i, (last_x, value) in enumerate(zip(series.xs, series.last, strict=True)):
        candidates = [v for a, v in inside if a == last_x]
        assert value in [v if math.isfinite(v) else None for v in candidates], i


# --------------------------------------------------------------------------- the stores


@pytest.fixture(scope="module")
def sql_store(tmp_path_factory: pytest.TempPathFactory) -> SqlTrackingStore:
    root: Path = tmp_path_factory.mktemp("series")
    return open_sql_store(f"sqlite:///{root / 'kiln.db'}", workspace="default")


def _points(count: int, seed: int) -> list[Metric]:
    rng = random.Random(seed)
    points = []
    for i in range(count):
        value = rng.gauss(0, 1)
        if i % 397 == 5:
            value = rng.choice(_SPECIAL)
        step = i // 3 if seed % 2 else i - 500  # repeated steps, or negative ones
        points.append(Metric("loss", value, T0 + rng.randint(0, 10**6), step))
    points[1234] = Metric("loss", 1e6, points[1234].timestamp, points[1234].step)
    return points


def _log(store: TrackingStore, points: list[Metric]) -> str:
    experiment = store.create_experiment(f"e{random.random()}")
    run_id = store.create_run(experiment).info.run_id
    for start in range(0, len(points), 1000):
        store.log_batch(run_id, metrics=points[start : start + 1000])
    return run_id


QUERIES = [
    SeriesQuery(),
    SeriesQuery(n=7),
    SeriesQuery(n=4000),
    SeriesQuery(lo=-100, hi=900.5, n=50),
    SeriesQuery(lo=100, hi=200),
    SeriesQuery(lo=5000, hi=6000),
    SeriesQuery(x="time", n=100),
    SeriesQuery(x="relative", lo=1000, hi=500_000, n=33),
]


@pytest.mark.parametrize("seed", [1, 2])
def test_sql_fast_path_matches_the_generic_bucketing(
    sql_store: SqlTrackingStore, seed: int
) -> None:
    points = _points(RAW_LIMIT + 1500, seed)
    run_id = _log(sql_store, points)
    memory = MemoryTrackingStore(workspace="default")
    memory_run = _log(memory, points)
    assert isinstance(sql_store, MetricSeries)
    assert not isinstance(memory, MetricSeries)
    history = sql_store.get_metric_history(run_id, "loss")
    for query in QUERIES:
        fast = read_series(sql_store, run_id, "loss", query)
        assert fast == bucket_metrics(history, query), query
        generic = read_series(memory, memory_run, "loss", query)
        assert (generic.xs, generic.min, generic.max, generic.points) == (
            fast.xs,
            fast.min,
            fast.max,
            fast.points,
        ), query
    whole = read_series(sql_store, run_id, "loss", SeriesQuery(n=10))
    assert not whole.raw
    assert max(v for v in whole.max if v is not None) == 1e6


def test_sql_band_skips_nan_stored_as_zero_and_infinities(sql_store: SqlTrackingStore) -> None:
    # values in [1, 2]: a NaN (stored as 0) or an inf would set a plain MIN or MAX
    points = [Metric("loss", 1.0 + (i % 10) / 10, T0 + i, i) for i in range(RAW_LIMIT + 1000)]
    for i in (5, 2001, 2002, 2999):
        points[i] = Metric("loss", float("nan"), T0 + i, i)
    for i in range(100, 110):  # a bucket of NaN only
        points[i] = Metric("loss", float("nan"), T0 + i, i)
    points[1500] = Metric("loss", float("inf"), T0, 1500)
    points[1700] = Metric("loss", float("-inf"), T0, 1700)
    points[2500] = Metric("loss", 0.0, T0, 2500)  # a real zero stays
    run_id = _log(sql_store, points)
    query = SeriesQuery(n=300)
    fast = read_series(sql_store, run_id, "loss", query)
    assert fast == bucket_metrics(sql_store.get_metric_history(run_id, "loss"), query)
    assert min(v for v in fast.min if v is not None) == 0.0
    assert max(v for v in fast.max if v is not None) == 1.9
    assert fast.min[10] is None
    assert fast.max[10] is None
    assert sum(v == 0.0 for v in fast.min) == 1


def test_sql_unknown_run_key_and_other_workspace(sql_store: SqlTrackingStore) -> None:
    run_id = _log(sql_store, [Metric("loss", 1.0, T0, 0)])
    assert read_series(sql_store, run_id, "other", SeriesQuery()).points == 0
    with pytest.raises(NotFound, match="no run"):
        read_series(sql_store, "f" * 32, "loss", SeriesQuery())
    url = str(sql_store._engine.url)
    elsewhere = open_sql_store(url, workspace="elsewhere")
    with pytest.raises(NotFound, match="no run"):
        read_series(elsewhere, run_id, "loss", SeriesQuery())


@pytest.mark.parametrize("extra", [0, 1])
def test_sql_raw_limit_boundary_and_count(sql_store: SqlTrackingStore, extra: int) -> None:
    # the range holds RAW_LIMIT points (raw) or one more (bucketed, counted by the buckets)
    points = [Metric("loss", float(i % 13), T0 + i, i) for i in range(RAW_LIMIT + 500)]
    run_id = _log(sql_store, points)
    query = SeriesQuery(lo=100, hi=100 + RAW_LIMIT - 1 + extra, n=37)
    fast = read_series(sql_store, run_id, "loss", query)
    assert fast.raw is (extra == 0)
    assert fast.points == RAW_LIMIT + extra
    assert fast == bucket_metrics(sql_store.get_metric_history(run_id, "loss"), query)


def test_sql_fast_path_on_an_in_memory_database() -> None:
    store = open_sql_store("sqlite://", workspace="default")
    points = _points(RAW_LIMIT + 700, 3)
    run_id = _log(store, points)
    history = store.get_metric_history(run_id, "loss")
    for query in QUERIES:
        assert read_series(store, run_id, "loss", query) == bucket_metrics(history, query)
