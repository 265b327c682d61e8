"""The idempotent-metric part of the ``TrackingStore`` contract.

A point (key, timestamp, step, value) is stored once, as MLflow's SQL store keeps
it (its primary key), so a client that retries ``log_metric`` or ``log_batch``
after a lost response does not duplicate points. ``kiln.testing.contract``'s
``TrackingStoreContract`` inherits these tests, so every backend runs them.
"""

from __future__ import annotations

import math

from kiln.entities import DEFAULT_EXPERIMENT_ID, Metric
from kiln.store.protocols.tracking import TrackingStore

_T0 = 1_700_000_000_000


def _points(store: TrackingStore, run_id: str, key: str) -> list[tuple[int, int, float]]:
    """(step, ms after _T0, value) of every stored point; NaN shows as -1.0."""
    return [
        (m.step, m.timestamp - _T0, -1.0 if math.isnan(m.value) else m.value)
        for m in store.get_metric_history(run_id, key)
    ]


class MetricPointContract:
    """Mixed into ``TrackingStoreContract``; uses its ``store`` fixture."""

    def test_a_retried_log_metric_stores_the_point_once(self, store: TrackingStore) -> None:
        run_id = store.create_run(DEFAULT_EXPERIMENT_ID).info.run_id
        point = Metric("loss", 0.5, _T0, 1)
        store.log_metric(run_id, point)
        store.log_metric(run_id, Metric("loss", 0.5, _T0, 1))  # the client's retry
        store.log_batch(run_id, metrics=[point])  # the same point through log_batch
        store.log_metric(run_id, Metric("loss", math.nan, _T0 + 1, 2))
        store.log_metric(run_id, Metric("loss", math.nan, _T0 + 1, 2))  # NaN is one value
        assert _points(store, run_id, "loss") == [(1, 0, 0.5), (2, 1, -1.0)]

    def test_a_retried_log_batch_stores_each_point_once(self, store: TrackingStore) -> None:
        run_id = store.create_run(DEFAULT_EXPERIMENT_ID).info.run_id
        batch = [
            Metric("loss", 0.9, _T0, 0),
            Metric("loss", 0.4, _T0 + 5, 1),
            Metric("acc", 0.75, _T0 + 5, 1),
        ]
        store.log_batch(run_id, metrics=[*batch, *batch])  # repeats within one batch
        store.log_batch(run_id, metrics=batch)  # the whole batch retried
        assert _points(store, run_id, "loss") == [(0, 0, 0.9), (1, 5, 0.4)]
        assert _points(store, run_id, "acc") == [(1, 5, 0.75)]
        data = store.get_run(run_id).data
        assert data.metrics == {"loss": 0.4, "acc": 0.75}

    def test_a_retry_after_later_points_still_adds_nothing(self, store: TrackingStore) -> None:
        # The lost response's retry may arrive after many newer points of the key.
        run_id = store.create_run(DEFAULT_EXPERIMENT_ID).info.run_id
        first = Metric("loss", 1.0, _T0, 0)
        store.log_metric(run_id, first)
        later = [Metric("loss", 1.0 / i, _T0 + i, i) for i in range(1, 1000)]
        store.log_batch(run_id, metrics=later)
        store.log_metric(run_id, first)
        store.log_batch(run_id, metrics=later[:10])
        history = store.get_metric_history(run_id, "loss")
        assert [(m.step, m.value) for m in history] == [(m.step, m.value) for m in [first, *later]]

    def test_points_differing_in_one_field_are_all_kept(self, store: TrackingStore) -> None:
        run_id = store.create_run(DEFAULT_EXPERIMENT_ID).info.run_id
        other_id = store.create_run(DEFAULT_EXPERIMENT_ID).info.run_id
        store.log_metric(run_id, Metric("m", 0.5, _T0, 1))
        store.log_batch(
            run_id,
            metrics=[
                Metric("m", 0.6, _T0, 1),  # another value
                Metric("m", 0.5, _T0 + 1, 1),  # another timestamp
                Metric("m", 0.5, _T0, 2),  # another step
                Metric("n", 0.5, _T0, 1),  # another key
            ],
        )
        store.log_metric(other_id, Metric("m", 0.5, _T0, 1))  # another run
        assert _points(store, run_id, "m") == [(1, 0, 0.5), (1, 0, 0.6), (1, 1, 0.5), (2, 0, 0.5)]
        assert _points(store, run_id, "n") == [(1, 0, 0.5)]
        assert _points(store, other_id, "m") == [(1, 0, 0.5)]
