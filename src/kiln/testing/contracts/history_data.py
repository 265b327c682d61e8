"""A history with the awkward cases, and a backend-independent picture of a store.

``fill_history`` logs it into any ``TrackingStore``; ``snapshot`` reads back what a
history import must keep, so two stores can be compared with ``==``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from kiln.entities import (
    DATASET_CONTEXT_TAG,
    DEFAULT_EXPERIMENT_NAME,
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    Metric,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from kiln.store.protocols.tracking import TrackingStore
from kiln.testing.contracts.support import T0

PARENT_TAG = "mlflow.parentRunId"


@dataclass(frozen=True, slots=True)
class FilledHistory:
    """What ``fill_history`` logged: names and ids the tests look up."""

    experiment_names: tuple[str, ...]
    run_ids: tuple[str, ...]
    parent_run_id: str
    child_run_id: str
    deleted_run_id: str
    deleted_experiment_name: str


def fill_history(store: TrackingStore) -> FilledHistory:
    """Log a history with the awkward cases a copy must keep.

    Two live experiments with tags, a deleted experiment holding a finished run, a
    parent run with a nested child and grandchild, a deleted run, metric points that
    are NaN and +/-inf, a point logged twice at the same step and time, params and
    tags with nested keys and multi-line values, runs in every status, dataset
    inputs (one dataset shared by runs, one in the deleted experiment).
    """
    vision = store.create_experiment("vision", tags=[RunTag("team", "cv"), RunTag("a/b", "x")])
    text = store.create_experiment("text")
    parent = store.create_run(vision, user_id="ann", start_time=T0, run_name="parent")
    store.log_batch(
        parent.info.run_id,
        metrics=[
            Metric("loss", 1.0, T0 + 1, 0),
            Metric("loss", 0.5, T0 + 2, 1),
            Metric("loss", 0.5, T0 + 2, 1),  # duplicated point
            Metric("loss", float("nan"), T0 + 3, 2),
            Metric("loss", float("inf"), T0 + 4, 3),
            Metric("loss", float("-inf"), T0 + 5, 3),
            Metric("acc/top1", 0.25, T0 + 6, -1),
        ],
        params=[Param("lr", "0.01"), Param("model/depth", "12"), Param("empty", "")],
        tags=[RunTag("note", "line one\nline two"), RunTag("x:y", "z")],
    )
    wine = Dataset("wine", "a1b2c3d4", "local", '{"uri": "/d/wine.csv"}', '{"x": 1}', "{}")
    store.log_inputs(
        parent.info.run_id,
        [
            DatasetInput(wine, (InputTag(DATASET_CONTEXT_TAG, "training"), InputTag("k", "v"))),
            DatasetInput(Dataset("raw", "ff", "s3", '{"uri": "s3://b/raw"}')),
        ],
    )
    store.update_run_info(parent.info.run_id, status=RunStatus.FINISHED, end_time=T0 + 100)
    child = store.create_run(
        vision,
        user_id="bob",
        start_time=T0 + 10,
        run_name="child",
        tags=[RunTag(PARENT_TAG, parent.info.run_id)],
    )
    store.log_batch(child.info.run_id, metrics=[Metric("loss", 2.0, T0 + 11, 0)])
    store.update_run_info(child.info.run_id, status=RunStatus.FAILED, end_time=T0 + 20)
    grandchild = store.create_run(
        vision,
        start_time=T0 + 12,
        run_name="grandchild",
        tags=[RunTag(PARENT_TAG, child.info.run_id)],
    )
    store.update_run_info(grandchild.info.run_id, status=RunStatus.KILLED)
    deleted = store.create_run(vision, user_id="ann", start_time=T0 + 30, run_name="gone")
    store.log_batch(deleted.info.run_id, params=[Param("p", "1")])
    store.log_inputs(deleted.info.run_id, [DatasetInput(wine)])
    store.delete_run(deleted.info.run_id)
    running = store.create_run(text, user_id="cy", start_time=T0 + 40, run_name="running")
    store.log_batch(running.info.run_id, metrics=[Metric("bleu", 0.3, T0 + 41, 5)])
    old = store.create_experiment("old", tags=[RunTag("why", "retired")])
    archived = store.create_run(old, user_id="dee", start_time=T0 - 100, run_name="archived")
    store.log_batch(archived.info.run_id, metrics=[Metric("m", -1.5, T0 - 99, 0)])
    store.log_inputs(archived.info.run_id, [DatasetInput(wine, (InputTag("k", "old"),))])
    store.update_run_info(archived.info.run_id, status=RunStatus.FINISHED, end_time=T0 - 50)
    store.delete_experiment(old)
    run_ids = (
        parent.info.run_id,
        child.info.run_id,
        grandchild.info.run_id,
        deleted.info.run_id,
        running.info.run_id,
        archived.info.run_id,
    )
    return FilledHistory(
        experiment_names=("vision", "text", "old"),
        run_ids=run_ids,
        parent_run_id=parent.info.run_id,
        child_run_id=child.info.run_id,
        deleted_run_id=deleted.info.run_id,
        deleted_experiment_name="old",
    )


def _pages_of_runs(store: TrackingStore, experiment_id: str) -> Iterator[Run]:
    token: str | None = None
    while True:
        page = store.search_runs(
            [experiment_id], run_view_type=ViewType.ALL, max_results=1000, page_token=token
        )
        yield from page.items
        token = page.next_page_token
        if not token:
            return


def all_experiments(store: TrackingStore) -> list[Experiment]:
    """Every experiment of the store, deleted ones included."""
    out: list[Experiment] = []
    token: str | None = None
    while True:
        page = store.search_experiments(view_type=ViewType.ALL, page_token=token)
        out.extend(page.items)
        token = page.next_page_token
        if not token:
            return out


def point(metric: Metric) -> tuple[str, str, int, int]:
    """A comparable form of a point; ``repr`` tells nan, inf and -inf apart."""
    return (metric.key, repr(float(metric.value)), metric.timestamp, metric.step)


def history_of(store: TrackingStore, run: Run) -> list[tuple[str, str, int, int]]:
    """Every stored point of every metric of ``run``, in a backend-independent order."""
    points = [
        point(metric)
        for key in run.data.metrics
        for metric in store.get_metric_history(run.info.run_id, key)
    ]
    return sorted(points)


def run_fields(store: TrackingStore, run: Run) -> dict[str, object]:
    """Everything a history import keeps of a run (not its experiment id or artifact URI)."""
    info = run.info
    return {
        "run_id": info.run_id,
        "run_name": info.run_name,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "lifecycle_stage": info.lifecycle_stage,
        "params": run.data.params,
        "tags": run.data.tags,
        "latest": sorted(point(m) for m in run.data.metric_objects.values()),
        "history": history_of(store, run),
        "inputs": run.inputs,
    }


def snapshot(store: TrackingStore) -> dict[str, object]:
    """Experiments (by name, Default left out) and their runs' ``run_fields``."""
    out: dict[str, object] = {}
    for experiment in all_experiments(store):
        if experiment.name == DEFAULT_EXPERIMENT_NAME:
            continue
        runs = {
            run.info.run_id: run_fields(store, run)
            for run in _pages_of_runs(store, experiment.experiment_id)
        }
        out[experiment.name] = (
            experiment.lifecycle_stage,
            experiment.tags,
            experiment.creation_time,
            experiment.last_update_time,
            runs,
        )
    return out


__all__ = [
    "PARENT_TAG",
    "FilledHistory",
    "all_experiments",
    "fill_history",
    "history_of",
    "point",
    "run_fields",
    "snapshot",
]
