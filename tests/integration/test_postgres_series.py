"""Chart bucketing on PostgreSQL: the SQL store's ``metric_series`` reads the three
columns through SQLAlchemy Core and answers exactly as the generic bucketing does."""

from __future__ import annotations

import pytest

from kiln.entities import Metric
from kiln.errors import NotFound
from kiln.store.protocols.series import read_series
from kiln.store.query.buckets import RAW_LIMIT, SeriesQuery, bucket_metrics
from kiln.store.sql.tracking import open_sql_store

pytestmark = [pytest.mark.postgres, pytest.mark.integration]

T0 = 1_700_000_000_000


def test_postgres_series_match_the_generic_bucketing(postgres_db_uri: str) -> None:
    store = open_sql_store(postgres_db_uri, workspace="default")
    run_id = store.create_run(store.create_experiment("charts")).info.run_id
    points = [Metric("loss", 1.0 + (i % 10) / 10, T0 + 7 * i, i) for i in range(RAW_LIMIT + 500)]
    points[3] = Metric("loss", float("nan"), T0, 3)
    points[900] = Metric("loss", float("inf"), T0, 900)
    points[1234] = Metric("loss", 50.0, T0 + 1234, 1234)
    for start in range(0, len(points), 1000):
        store.log_batch(run_id, metrics=points[start : start + 1000])
    history = store.get_metric_history(run_id, "loss")
    for query in (
        SeriesQuery(n=100),
        SeriesQuery(x="time", lo=T0 + 100),
        SeriesQuery(lo=10, hi=90),
    ):
        assert read_series(store, run_id, "loss", query) == bucket_metrics(history, query), query
    whole = read_series(store, run_id, "loss", SeriesQuery(n=10))
    assert max(v for v in whole.max if v is not None) == 50.0
    with pytest.raises(NotFound, match="no run"):
        read_series(
            open_sql_store(postgres_db_uri, workspace="other"), run_id, "loss", SeriesQuery()
        )
