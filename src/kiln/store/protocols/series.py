"""The optional ``MetricSeries`` capability of a tracking store (the UI's charts).

``read_series`` buckets a metric for a chart (``kiln.store.query.buckets``). A store
that implements ``metric_series`` answers it itself (the SQL store does, reading
three columns with its own cursor and, for a step range, bucketing inside the
database); any other store (memory, file, REST) is read through the protocol's
``get_metric_history`` and bucketed here, with the same edges and the same answer.

``read_sample`` is MLflow's ``get-history-bulk-interval`` sample of one run, likewise
answered by a store that implements ``metric_sample`` (the SQL store reads only the
kept points) or taken here from ``get_metric_history``.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

from kiln.entities import Metric
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.query.buckets import Series, SeriesQuery, bucket_metrics, sample_indices


@runtime_checkable
class MetricSeries(Protocol):
    """Optional capability of a tracking store: bucket a metric's history itself."""

    def metric_series(self, run_id: str, key: str, query: SeriesQuery) -> Series:
        """``key``'s points of run ``run_id`` bucketed as ``bucket_points`` does.

        Raises:
            NotFound: no such run in this workspace.
        """
        ...


def read_series(store: TrackingStore, run_id: str, key: str, query: SeriesQuery) -> Series:
    """``key`` of ``run_id`` bucketed for a chart, by the store when it can.

    Raises:
        NotFound: no such run in this workspace.
    """
    if isinstance(store, MetricSeries):
        return store.metric_series(run_id, key, query)
    return bucket_metrics(store.get_metric_history(run_id, key), query)


@runtime_checkable
class MetricSample(Protocol):
    """Optional capability of a tracking store: MLflow's bulk-interval sample itself."""

    def metric_sample(
        self, run_id: str, key: str, max_results: int, steps: tuple[int, int] | None = None
    ) -> list[Metric]:
        """``read_sample``'s answer, reading only the kept points.

        Raises:
            NotFound: no such run in this workspace.
        """
        ...


def read_sample(
    store: TrackingStore,
    run_id: str,
    key: str,
    max_results: int,
    steps: tuple[int, int] | None = None,
) -> list[Metric]:
    """At most ``max_results`` points of ``key`` of ``run_id`` (of the steps
    ``steps[0]..steps[1]`` when given), kept as MLflow's ``get-history-bulk-interval``
    keeps them (``sample_indices`` over the points in (step, timestamp, value,
    is_nan) order, a NaN ordered as the 0 it is stored as), by the store when it can.

    Raises:
        NotFound: no such run in this workspace.
    """
    if isinstance(store, MetricSample):
        return store.metric_sample(run_id, key, max_results, steps)
    history = store.get_metric_history(run_id, key)
    if steps is not None:
        history = [m for m in history if steps[0] <= m.step <= steps[1]]
    history.sort(key=_stored_order)
    return [history[i] for i in sample_indices(len(history), max_results)]


def _stored_order(metric: Metric) -> tuple[int, int, float, bool]:
    nan = math.isnan(metric.value)
    return metric.step, metric.timestamp, 0.0 if nan else metric.value, nan


__all__ = ["MetricSample", "MetricSeries", "read_sample", "read_series"]
