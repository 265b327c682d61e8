"""MLflow's ``get-history-bulk-interval`` sample (``read_sample``): the SQL store's
fast path and the generic path keep exactly the points the real MLflow store keeps."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest

from kiln.entities import Metric
from kiln.errors import NotFound
from kiln.store.memory.tracking import MemoryTrackingStore
from kiln.store.protocols.series import MetricSample, read_sample
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.query.buckets import sample_indices
from kiln.store.sql.tracking import SqlTrackingStore, open_sql_store

T0 = 1_700_000_000_000


def test_sample_indices_keep_tile_starts_and_the_last_point() -> None:
    assert sample_indices(0, 5) == []
    assert sample_indices(3, 5) == [0, 1, 2]
    assert sample_indices(5, 5) == [0, 1, 2, 3, 4]
    assert sample_indices(10, 1) == [9]
    assert sample_indices(10, 2) == [0, 9]
    # 11 points in 3 tiles of 4, 4, 3: the last tile's start is replaced by the last point
    assert sample_indices(11, 3) == [0, 4, 10]
    assert sample_indices(100, 10) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 99]


def _points(seed: int) -> list[Metric]:
    """1,200 points: repeated steps with several timestamps, one (step, timestamp)
    with two values, NaN, negative steps."""
    rng = random.Random(seed)
    points = []
    for i in range(1200):
        step = i // 3 - 40
        value = rng.gauss(0, 1) if i % 101 != 7 else math.nan
        points.append(Metric("loss", value, T0 + rng.randint(0, 50), step))
    points.append(Metric("loss", -5.0, points[10].timestamp, points[10].step))
    points.append(Metric("loss", 0.0, points[20].timestamp, points[20].step))  # beside a NaN?
    rng.shuffle(points)
    return points


def _log(store: TrackingStore, points: list[Metric]) -> str:
    experiment = store.create_experiment(f"e{random.random()}")
    run_id = store.create_run(experiment).info.run_id
    for start in range(0, len(points), 500):
        store.log_batch(run_id, metrics=points[start : start + 500])
    return run_id


def _key(metric: Any) -> tuple[int, int, float | str]:
    value = "nan" if math.isnan(metric.value) else metric.value
    return metric.step, metric.timestamp, value


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from mlflow.entities import Metric as MlflowMetric
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    root: Path = tmp_path_factory.mktemp("bulk")
    points = _points(3)
    mlflow_store = SqlAlchemyStore(f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts"))
    experiment = mlflow_store.create_experiment("bulk")
    mlflow_run = mlflow_store.create_run(experiment, "u", T0, [], "r").info.run_id
    theirs = [MlflowMetric(m.key, m.value, m.timestamp, m.step) for m in points]
    for at in range(0, len(theirs), 500):
        mlflow_store.log_batch(mlflow_run, theirs[at : at + 500], [], [])
    sql = open_sql_store(f"sqlite:///{root / 'kiln.db'}", workspace="default")
    memory = MemoryTrackingStore(workspace="default")
    return {
        "mlflow": (mlflow_store, mlflow_run),
        "sql": (sql, _log(sql, points)),
        "memory": (memory, _log(memory, points)),
    }


@pytest.mark.parametrize("max_results", [1, 2, 7, 320, 1201, 1202, 1203, 2500])
@pytest.mark.parametrize("steps", [None, (10, 200), (-40, -40), (5000, 6000)])
def test_sample_is_what_the_real_mlflow_store_keeps(
    stores: dict[str, Any], max_results: int, steps: tuple[int, int] | None
) -> None:
    mlflow_store, mlflow_run = stores["mlflow"]
    start, end = steps if steps is not None else (None, None)
    expected = [
        _key(m)
        for m in mlflow_store.get_metric_history_bulk_interval(
            [mlflow_run], "loss", max_results, start, end
        )
    ]
    assert len(expected) <= max_results
    for name in ("sql", "memory"):
        store, run_id = stores[name]
        got = read_sample(store, run_id, "loss", max_results, steps)
        assert [_key(m) for m in got] == expected, name
        assert all(m.key == "loss" for m in got)
    assert isinstance(stores["sql"][0], MetricSample)
    assert not isinstance(stores["memory"][0], MetricSample)


def test_sample_of_unknown_run_or_key(stores: dict[str, Any]) -> None:
    sql: SqlTrackingStore = stores["sql"][0]
    assert read_sample(sql, stores["sql"][1], "other", 10) == []
    with pytest.raises(NotFound, match="no run"):
        read_sample(sql, "f" * 32, "loss", 10)
    elsewhere = open_sql_store(str(sql._engine.url), workspace="elsewhere")
    with pytest.raises(NotFound, match="no run"):
        read_sample(elsewhere, stores["sql"][1], "loss", 10)
