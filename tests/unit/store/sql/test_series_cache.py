"""The SQL store's chart answers are kept per database and reused only while right:
a new point of the same (run, key), from this store or from another connection,
recomputes it; points of other runs or keys do not; ids given again after a deleted
run's top rows are never mistaken for old ones."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kiln.entities import Metric
from kiln.store.query.buckets import SeriesQuery, bucket_metrics
from kiln.store.sql.tracking import SqlTrackingStore, open_sql_store

T0 = 1_700_000_000_000
QUERY = SeriesQuery(n=50)


@pytest.fixture
def store(tmp_path: Path) -> SqlTrackingStore:
    return open_sql_store(f"sqlite:///{tmp_path / 'kiln.db'}", workspace="default")


def _run(store: SqlTrackingStore, points: int, key: str = "loss") -> str:
    experiment = store.create_experiment(f"e-{points}-{key}-{id(object())}")
    run_id = store.create_run(experiment).info.run_id
    metrics = [Metric(key, float(i % 17), T0 + i, i) for i in range(points)]
    for at in range(0, points, 1000):
        store.log_batch(run_id, metrics=metrics[at : at + 1000])
    return run_id


def _fresh(store: SqlTrackingStore, run_id: str, query: SeriesQuery = QUERY) -> object:
    return bucket_metrics(store.get_metric_history(run_id, "loss"), query)


def test_an_answer_is_reused_until_its_series_gets_a_point(store: SqlTrackingStore) -> None:
    run_id = _run(store, 3000)
    first = store.metric_series(run_id, "loss", QUERY)
    assert store.metric_series(run_id, "loss", QUERY) is first
    other = _run(store, 10)
    store.log_batch(run_id, metrics=[Metric("acc", 1.0, T0, 5)])  # another key
    store.log_batch(other, metrics=[Metric("loss", 1.0, T0, 99_999)])  # another run
    assert store.metric_series(run_id, "loss", QUERY) is first
    store.log_batch(run_id, metrics=[Metric("loss", 500.0, T0, 1234)])  # inside a bucket
    again = store.metric_series(run_id, "loss", QUERY)
    assert again is not first
    assert again == _fresh(store, run_id)
    assert max(v for v in again.max if v is not None) == 500.0
    assert store.metric_series(run_id, "loss", SeriesQuery(n=51)) == _fresh(
        store, run_id, SeriesQuery(n=51)
    )


def test_a_point_written_by_another_connection_is_seen(
    store: SqlTrackingStore, tmp_path: Path
) -> None:
    run_id = _run(store, 3000)
    first = store.metric_series(run_id, "loss", QUERY)
    with sqlite3.connect(tmp_path / "kiln.db") as other:
        other.execute(
            "INSERT INTO metrics (workspace, run_uuid, key, value, timestamp, step, is_nan) "
            "VALUES ('default', ?, 'loss', -7.0, ?, 10, 0)",
            (run_id, T0),
        )
    again = store.metric_series(run_id, "loss", QUERY)
    assert again == _fresh(store, run_id)
    assert min(v for v in again.min if v is not None) == -7.0
    assert again != first


def test_ids_given_again_after_a_deleted_run_are_not_mistaken(
    store: SqlTrackingStore, tmp_path: Path
) -> None:
    run_id = _run(store, 3000)
    doomed = _run(store, 500)  # the top ids
    first = store.metric_series(run_id, "loss", QUERY)
    with sqlite3.connect(tmp_path / "kiln.db") as other:  # as a purge would
        other.execute("DELETE FROM metrics WHERE run_uuid = ?", (doomed,))
    # 500 new points of the cached series: SQLite gives them the deleted rows' ids
    store.log_batch(run_id, metrics=[Metric("loss", 900.0, T0 + i, i) for i in range(500)])
    again = store.metric_series(run_id, "loss", QUERY)
    assert again != first
    assert again == _fresh(store, run_id)
    assert max(v for v in again.max if v is not None) == 900.0


def test_threads_each_get_their_own_right_answer(store: SqlTrackingStore) -> None:
    from concurrent.futures import ThreadPoolExecutor

    runs = [_run(store, 2500 + 300 * i) for i in range(4)]
    queries = [SeriesQuery(n=n, lo=lo) for n in (7, 50, 333) for lo in (-3, 100)]
    jobs = [(run_id, query) for run_id in runs for query in queries]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda job: store.metric_series(job[0], "loss", job[1]), jobs))
    for (run_id, query), answer in zip(jobs, answers, strict=True):
        assert answer == _fresh(store, run_id, query)
