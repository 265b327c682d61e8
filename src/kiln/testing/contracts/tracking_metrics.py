"""The metric part of the ``TrackingStore`` contract: points, their history, the
latest value, keys, ``log_batch``, and idempotent writes.

A point (key, timestamp, step, value) is stored once, as MLflow's SQL store keeps
it (its primary key), so a client that retries ``log_metric`` or ``log_batch``
after a lost response does not duplicate points (``MetricPointContract``).
"""

from __future__ import annotations

import math

import pytest

from kiln.entities import DEFAULT_EXPERIMENT_ID, Metric, Param, Run, RunTag
from kiln.errors import Conflict, InvalidInput
from kiln.store.protocols.tracking import TrackingStore
from kiln.testing.contracts.support import T0, new_run


def _points(store: TrackingStore, run_id: str, key: str) -> list[tuple[int, int, float]]:
    """(step, ms after T0, value) of every stored point; NaN shows as -1.0."""
    return [
        (m.step, m.timestamp - T0, -1.0 if math.isnan(m.value) else m.value)
        for m in store.get_metric_history(run_id, key)
    ]


class TrackingMetricContract:
    """Mixed into ``TrackingStoreContract``; uses its ``store`` fixture."""

    # metrics -----------------------------------------------------------------
    def test_metric_history_is_ordered_by_step_then_timestamp(self, store: TrackingStore) -> None:
        run = new_run(store)
        for value, timestamp, step in [(3.0, 30, 2), (1.0, 10, 0), (2.5, 25, 1), (2.0, 20, 1)]:
            store.log_metric(run.run_id, Metric("loss", value, T0 + timestamp, step))
        history = store.get_metric_history(run.run_id, "loss")
        assert [(m.step, m.timestamp - T0, m.value) for m in history] == [
            (0, 10, 1.0),
            (1, 20, 2.0),
            (1, 25, 2.5),
            (2, 30, 3.0),
        ]
        assert all(m.key == "loss" for m in history)
        assert store.get_metric_history(run.run_id, "other") == []

    def test_metric_history_keeps_special_values_once(self, store: TrackingStore) -> None:
        run = new_run(store)
        for step, value in enumerate([math.nan, math.inf, -math.inf, 1.5]):
            store.log_metric(run.run_id, Metric("m", value, T0, step))
            store.log_metric(run.run_id, Metric("m", value, T0, step))  # an exact repeat
        history = store.get_metric_history(run.run_id, "m")
        assert len(history) == 4
        assert math.isnan(history[0].value)
        assert [m.value for m in history[1:]] == [math.inf, -math.inf, 1.5]

    def test_integer_metric_values_read_back_as_numbers(self, store: TrackingStore) -> None:
        run = new_run(store)
        store.log_metric(run.run_id, Metric("count", 7, T0, 0))
        data = store.get_run(run.run_id).data
        assert data.metrics["count"] == 7.0
        assert isinstance(data.metrics["count"], float)
        assert isinstance(data.metric_objects["count"].value, float)

    def test_latest_metric_prefers_step_then_timestamp_then_value(
        self, store: TrackingStore
    ) -> None:
        run = new_run(store)
        rid = run.run_id
        store.log_metric(rid, Metric("by_step", 9.0, T0 + 100, 1))
        store.log_metric(rid, Metric("by_step", 5.0, T0 + 50, 2))  # newer step, older time
        store.log_metric(rid, Metric("by_time", 1.0, T0 + 20, 3))
        store.log_metric(rid, Metric("by_time", 2.0, T0 + 10, 3))
        store.log_metric(rid, Metric("by_value", 1.0, T0, 0))
        store.log_metric(rid, Metric("by_value", 4.0, T0, 0))
        store.log_metric(rid, Metric("by_value", 2.0, T0, 0))
        store.log_metric(rid, Metric("nan_loses", 3.0, T0, 0))
        store.log_metric(rid, Metric("nan_loses", math.nan, T0, 0))
        store.log_metric(rid, Metric("nan_alone", math.nan, T0, 0))
        metrics = store.get_run(rid).data.metric_objects
        assert metrics["by_step"] == Metric("by_step", 5.0, T0 + 50, 2)
        assert metrics["by_time"] == Metric("by_time", 1.0, T0 + 20, 3)
        assert metrics["by_value"].value == 4.0
        assert metrics["nan_loses"].value == 3.0
        assert math.isnan(metrics["nan_alone"].value)

    @pytest.mark.parametrize(
        "key", ["", "../up", "a/../b", "/abs", "a//b", "x/", "bad\\key", "k" * 251]
    )
    def test_bad_keys_are_invalid(self, store: TrackingStore, key: str) -> None:
        run = new_run(store)
        with pytest.raises(InvalidInput, match="key"):
            store.log_metric(run.run_id, Metric(key, 1.0, T0, 0))
        with pytest.raises(InvalidInput, match="key"):
            store.log_param(run.run_id, Param(key, "v"))
        with pytest.raises(InvalidInput, match="key"):
            store.set_tag(run.run_id, RunTag(key, "v"))
        after = store.get_run(run.run_id).data
        assert (after.metrics, after.params) == ({}, {})
        assert set(after.tags) == {"mlflow.runName"}

    def test_keys_with_allowed_punctuation_round_trip(self, store: TrackingStore) -> None:
        run = new_run(store)
        key = "train/loss-v2.final:best value_1"
        store.log_metric(run.run_id, Metric(key, 1.0, T0, 0))
        store.log_param(run.run_id, Param(key, "v"))
        data = store.get_run(run.run_id).data
        assert key in data.metrics
        assert data.params[key] == "v"
        assert len(store.get_metric_history(run.run_id, key)) == 1

    # log_batch ---------------------------------------------------------------
    def test_log_batch_stores_everything(self, store: TrackingStore) -> None:
        run = new_run(store)
        store.log_batch(
            run.run_id,
            metrics=[Metric("loss", 0.5, T0, 0), Metric("loss", 0.4, T0 + 1, 1)],
            params=[Param("lr", "0.1"), Param("lr", "0.1"), Param("depth", "3")],
            tags=[RunTag("stage", "dev")],
        )
        data = store.get_run(run.run_id).data
        assert data.params == {"lr": "0.1", "depth": "3"}
        assert data.tags["stage"] == "dev"
        assert data.metric_objects["loss"] == Metric("loss", 0.4, T0 + 1, 1)
        assert len(store.get_metric_history(run.run_id, "loss")) == 2
        store.log_batch(run.run_id)  # empty batch: no-op

    def test_log_batch_with_one_bad_item_stores_nothing(self, store: TrackingStore) -> None:
        run = new_run(store)
        with pytest.raises(InvalidInput, match="key"):
            store.log_batch(
                run.run_id,
                metrics=[Metric("good", 1.0, T0, 0), Metric("../bad", 1.0, T0, 0)],
                params=[Param("p", "v")],
                tags=[RunTag("t", "v")],
            )
        self._assert_untouched(store, run)

    def test_log_batch_param_conflict_stores_nothing(self, store: TrackingStore) -> None:
        run = new_run(store)
        store.log_param(run.run_id, Param("lr", "0.1"))
        with pytest.raises(Conflict, match="lr"):
            store.log_batch(
                run.run_id,
                metrics=[Metric("m", 1.0, T0, 0)],
                params=[Param("new", "v"), Param("lr", "0.2")],
                tags=[RunTag("t", "v")],
            )
        data = store.get_run(run.run_id).data
        assert data.params == {"lr": "0.1"}
        assert data.metrics == {}
        assert "t" not in data.tags
        assert store.get_metric_history(run.run_id, "m") == []

    def test_log_batch_contradicting_itself_stores_nothing(self, store: TrackingStore) -> None:
        run = new_run(store)
        with pytest.raises(InvalidInput, match="twice"):
            store.log_batch(run.run_id, params=[Param("p", "1"), Param("p", "2")])
        self._assert_untouched(store, run)

    @pytest.mark.parametrize(
        ("metrics", "params", "tags", "message"),
        [
            (1001, 0, 0, "at most 1000 metrics. Got 1001 metrics"),
            (0, 101, 0, "at most 100 params. Got 101 params"),
            (0, 0, 101, "at most 100 tags. Got 101 tags"),
            (950, 0, 51, r"at most 1000 metrics, params, and tags\. Got 1001"),
        ],
    )
    def test_log_batch_limits(
        self, store: TrackingStore, metrics: int, params: int, tags: int, message: str
    ) -> None:
        run = new_run(store)
        with pytest.raises(InvalidInput, match=message):
            store.log_batch(
                run.run_id,
                metrics=[Metric("m", float(i), T0, i) for i in range(metrics)],
                params=[Param(f"p{i}", "v") for i in range(params)],
                tags=[RunTag(f"t{i}", "v") for i in range(tags)],
            )
        self._assert_untouched(store, run)

    def test_log_batch_at_the_limits_is_accepted(self, store: TrackingStore) -> None:
        # Params and tags count separately (as in MLflow): 100 of each fit one batch.
        run = new_run(store)
        store.log_batch(
            run.run_id,
            metrics=[Metric("m", float(i), T0, i) for i in range(800)],
            params=[Param(f"p{i}", "v") for i in range(100)],
            tags=[RunTag(f"t{i}", "v") for i in range(100)],
        )
        data = store.get_run(run.run_id).data
        assert len(data.params) == 100
        assert {f"t{i}" for i in range(100)} <= data.tags.keys()
        assert data.metrics["m"] == 799.0
        assert len(store.get_metric_history(run.run_id, "m")) == 800

    @staticmethod
    def _assert_untouched(store: TrackingStore, run: Run) -> None:
        after = store.get_run(run.run_id)
        assert after.data.params == {}
        assert after.data.metrics == {}
        assert after.data.tags == run.data.tags


class MetricPointContract:
    """Mixed into ``TrackingStoreContract``; uses its ``store`` fixture."""

    def test_a_retried_log_metric_stores_the_point_once(self, store: TrackingStore) -> None:
        run_id = store.create_run(DEFAULT_EXPERIMENT_ID).info.run_id
        point = Metric("loss", 0.5, T0, 1)
        store.log_metric(run_id, point)
        store.log_metric(run_id, Metric("loss", 0.5, T0, 1))  # the client's retry
        store.log_batch(run_id, metrics=[point])  # the same point through log_batch
        store.log_metric(run_id, Metric("loss", math.nan, T0 + 1, 2))
        store.log_metric(run_id, Metric("loss", math.nan, T0 + 1, 2))  # NaN is one value
        assert _points(store, run_id, "loss") == [(1, 0, 0.5), (2, 1, -1.0)]

    def test_a_retried_log_batch_stores_each_point_once(self, store: TrackingStore) -> None:
        run_id = store.create_run(DEFAULT_EXPERIMENT_ID).info.run_id
        batch = [
            Metric("loss", 0.9, T0, 0),
            Metric("loss", 0.4, T0 + 5, 1),
            Metric("acc", 0.75, T0 + 5, 1),
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
        first = Metric("loss", 1.0, T0, 0)
        store.log_metric(run_id, first)
        later = [Metric("loss", 1.0 / i, T0 + i, i) for i in range(1, 1000)]
        store.log_batch(run_id, metrics=later)
        store.log_metric(run_id, first)
        store.log_batch(run_id, metrics=later[:10])
        history = store.get_metric_history(run_id, "loss")
        assert [(m.step, m.value) for m in history] == [(m.step, m.value) for m in [first, *later]]

    def test_points_differing_in_one_field_are_all_kept(self, store: TrackingStore) -> None:
        run_id = store.create_run(DEFAULT_EXPERIMENT_ID).info.run_id
        other_id = store.create_run(DEFAULT_EXPERIMENT_ID).info.run_id
        store.log_metric(run_id, Metric("m", 0.5, T0, 1))
        store.log_batch(
            run_id,
            metrics=[
                Metric("m", 0.6, T0, 1),  # another value
                Metric("m", 0.5, T0 + 1, 1),  # another timestamp
                Metric("m", 0.5, T0, 2),  # another step
                Metric("n", 0.5, T0, 1),  # another key
            ],
        )
        store.log_metric(other_id, Metric("m", 0.5, T0, 1))  # another run
        assert _points(store, run_id, "m") == [(1, 0, 0.5), (1, 0, 0.6), (1, 1, 0.5), (2, 0, 0.5)]
        assert _points(store, run_id, "n") == [(1, 0, 0.5)]
        assert _points(store, other_id, "m") == [(1, 0, 0.5)]
