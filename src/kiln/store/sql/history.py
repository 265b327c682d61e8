"""``HistoryImport`` for the SQL store: re-create experiments and runs as they were.

``kiln.store.transfer.history.copy_history`` calls these through ``SqlTrackingStore``'s
``import_experiment`` / ``import_run``. Unlike live logging they write what they are
given: run ids, times, status and lifecycle stage are kept, and a run may go into a
deleted experiment (it is stored deleted).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from kiln.entities import Experiment, LifecycleStage, Metric, Param, Run, RunInfo, RunTag
from kiln.errors import AlreadyExists
from kiln.store.clock import wall_clock_ms
from kiln.store.rules.history import check_imported_experiment, check_imported_run
from kiln.store.sql.engine import write_transaction
from kiln.store.sql.inputs import link_inputs
from kiln.store.sql.rows import (
    MAX_EXPERIMENT_KEY,
    experiment_key,
    latest_points,
    metric_row,
)
from kiln.store.sql.schema import experiment_tags, experiments, runs

if TYPE_CHECKING:
    from kiln.store.sql.tracking import SqlTrackingStore


def import_experiment(store: SqlTrackingStore, experiment: Experiment) -> str:
    """Create a copy of ``experiment`` (name, tags, lifecycle stage, times).

    Keeps ``experiment.experiment_id`` when no experiment of any workspace has
    it, else takes the next id; the artifact location is this store's default.

    Raises:
        AlreadyExists: an experiment of that name exists in this workspace.
        InvalidInput: the name, a tag, the stage or a time fails validation.
    """
    checked = check_imported_experiment(experiment)
    tags = [RunTag(k, v) for k, v in checked.tags.items()]
    values: dict[str, Any] = {
        "workspace": store._workspace,
        "name": checked.name,
        "artifact_location": "",
        "lifecycle_stage": checked.lifecycle_stage.value,
        "creation_time": checked.creation_time,
        "last_update_time": checked.last_update_time,
    }
    wanted = checked.experiment_id
    with write_transaction(store._engine) as conn:
        store._check_name_free(conn, checked.name)
        if wanted.isdigit() and int(wanted) <= MAX_EXPERIMENT_KEY:
            taken = conn.execute(
                select(experiments.c.experiment_id).where(
                    experiments.c.experiment_id == int(wanted)
                )
            ).first()
            if taken is None:
                values["experiment_id"] = int(wanted)
        key = store._insert_experiment(conn, values, None)
        if tags:
            conn.execute(
                insert(experiment_tags),
                [
                    {
                        "workspace": store._workspace,
                        "experiment_id": key,
                        "key": t.key,
                        "value": t.value,
                    }
                    for t in tags
                ],
            )
    return str(key)


def import_run(
    store: SqlTrackingStore, run: Run, experiment_id: str, metrics: Sequence[Metric] = ()
) -> RunInfo:
    """Create a copy of ``run`` keeping its id, name, user, status, times and stage.

    ``run.data`` gives params and tags, ``run.inputs`` the dataset inputs;
    ``metrics`` is the full history. The run
    may go into a deleted experiment (it is then stored deleted). All or nothing.

    Raises:
        AlreadyExists: a run with this id exists.
        NotFound: no experiment ``experiment_id`` in this workspace.
        InvalidInput: the id, name, user, status, stage, a time, key or value is invalid.
    """
    checked = check_imported_run(run, experiment_id, metrics)
    info = checked.info
    params = [Param(k, v) for k, v in checked.params.items()]
    tags = [RunTag(k, v) for k, v in checked.tags.items()]
    points = checked.metrics
    key = experiment_key(experiment_id)
    workspace = store._workspace
    with write_transaction(store._engine) as conn:
        experiment = store._experiment_row(conn, key, experiment_id)
        exists = conn.execute(select(runs.c.run_uuid).where(runs.c.run_uuid == info.run_id)).first()
        if exists is not None:
            raise AlreadyExists(f"run {info.run_id!r} already exists")
        new_info = checked.placed(
            str(key),
            experiment.artifact_location,
            LifecycleStage(experiment.lifecycle_stage),
            workspace,
        )
        stage = new_info.lifecycle_stage
        conn.execute(
            insert(runs),
            {
                "run_uuid": info.run_id,
                "workspace": workspace,
                "experiment_id": key,
                "name": info.run_name,
                "user_id": info.user_id,
                "status": new_info.status.value,
                "start_time": info.start_time,
                "end_time": info.end_time,
                "lifecycle_stage": stage.value,
                "deleted_time": wall_clock_ms() if stage is LifecycleStage.DELETED else None,
                "artifact_uri": new_info.artifact_uri,
            },
        )
        if params:
            store._write_params(conn, info.run_id, params)
        if tags:
            conn.execute(
                store._sql.upsert_tag,
                [
                    {
                        "workspace": workspace,
                        "run_uuid": info.run_id,
                        "key": t.key,
                        "value": t.value,
                    }
                    for t in tags
                ],
            )
        link_inputs(conn, workspace, key, info.run_id, checked.inputs)
        for start in range(0, len(points), 1000):
            part = points[start : start + 1000]
            store._sql.insert_metric.insert_values(
                conn, [metric_row(workspace, info.run_id, m) for m in part]
            )
            store._sql.upsert_latest.execute(
                conn, [metric_row(workspace, info.run_id, m) for m in latest_points(part)]
            )
    return new_info


__all__ = ["import_experiment", "import_run"]
