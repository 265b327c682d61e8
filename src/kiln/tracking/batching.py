"""Merging logging calls into ``log_batch`` calls within MLflow's limits.

At most 1,000 metrics, 100 params, 100 tags and 1,000 entities a batch
(``kiln.store.rules.tracking``). The asynchronous queue merges many calls for one
run; a synchronous ``log_metrics``/``log_params``/``set_tags`` splits one large call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from kiln.entities import Metric, Param, RunTag
from kiln.store.rules.tracking import (
    MAX_ENTITIES_PER_BATCH,
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
)


@dataclass(slots=True)
class Batch:
    """One ``log_batch`` call's worth, and the calls (seqs) it carries."""

    metrics: list[Metric] = field(default_factory=list)
    params: list[Param] = field(default_factory=list)
    tags: list[RunTag] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)

    def size(self) -> int:
        return len(self.metrics) + len(self.params) + len(self.tags)


class _Batcher:
    """Fills batches in call order; ``done`` holds the full ones."""

    def __init__(self) -> None:
        self.batch = Batch()
        self.done: list[Batch] = []
        self._param_keys: set[str] = set()
        self._tag_keys: set[str] = set()

    def cut(self) -> None:
        if self.batch.size():
            self.done.append(self.batch)
            self.batch = Batch()
            self._param_keys, self._tag_keys = set(), set()

    def add(
        self, seq: int, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
    ) -> None:
        batch = self.batch
        if (
            not params
            and not tags
            and len(batch.metrics) + len(metrics) <= MAX_METRICS_PER_BATCH
            and batch.size() + len(metrics) <= MAX_ENTITIES_PER_BATCH
        ):
            batch.metrics.extend(metrics)  # the common case: the whole call fits
            batch.seqs.append(seq)
            return
        for metric in metrics:
            if len(self.batch.metrics) >= MAX_METRICS_PER_BATCH or self._full():
                self.cut()
            self.batch.metrics.append(metric)
            self._mark(seq)
        for param in params:
            if self._full(self.batch.params) or param.key in self._param_keys:
                self.cut()
            self.batch.params.append(param)
            self._param_keys.add(param.key)
            self._mark(seq)
        for tag in tags:
            if self._full(self.batch.tags) or tag.key in self._tag_keys:
                self.cut()
            self.batch.tags.append(tag)
            self._tag_keys.add(tag.key)
            self._mark(seq)

    def _full(self, kind: Sequence[object] = ()) -> bool:
        return len(kind) >= MAX_PARAMS_TAGS_PER_BATCH or self.batch.size() >= MAX_ENTITIES_PER_BATCH

    def _mark(self, seq: int) -> None:
        if not self.batch.seqs or self.batch.seqs[-1] != seq:
            self.batch.seqs.append(seq)


def batches(
    ops: Iterable[tuple[int, Sequence[Metric], Sequence[Param], Sequence[RunTag]]],
) -> Iterator[Batch]:
    """Merge calls, in order, into batches within MLflow's limits.

    A param or tag key seen again starts a new batch, so a later value is written
    after the earlier one (last wins, as when logged one call at a time).
    """
    batcher = _Batcher()
    for seq, metrics, params, tags in ops:
        batcher.add(seq, metrics, params, tags)
        yield from batcher.done
        batcher.done.clear()
    batcher.cut()
    yield from batcher.done


__all__ = ["Batch", "batches"]
