"""The optional ``MetricSeries`` capability of a tracking store (the UI's charts).

``read_series`` buckets a metric for a chart (``kiln.store.query.buckets``). A store
that implements ``metric_series`` answers it itself (the SQL store does, reading
three columns with its own cursor and, for a step range, bucketing inside the
database); any other store (memory, file, REST) is read through the protocol's
``get_metric_history`` and bucketed here, with the same edges and the same answer.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from kiln.store.protocols.tracking import TrackingStore
from kiln.store.query.buckets import Series, SeriesQuery, bucket_metrics


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


__all__ = ["MetricSeries", "read_series"]
