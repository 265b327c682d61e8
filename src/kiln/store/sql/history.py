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

from kiln.entities import Experiment, LifecycleStage, Metric, Param, Run, RunInfo, RunStatus, RunTag
from kiln.errors import AlreadyExists
from kiln.store.clock import wall_clock_ms
from kiln.store.rules.tracking import (
    validate_dataset_inputs,
    validate_experiment_name,
    validate_experiment_tag,
    validate_metric,
    validate_param,
    validate_run_id,
    validate_run_name,
    validate_tag,
)
from kiln.store.sql.engine import write_transaction
from kiln.store.sql.inputs import link_inputs
from kiln.store.sql.rows import (
    MAX_EXPERIMENT_KEY,
    experiment_key,
    join_uri,
    latest_points,
    metric_row,
)
from kiln.store.sql.schema import experiment_tags, experiments, runs

if TYPE_CHECKING:
    from kiln.store.sql.tracking import SqlTrackingStore

_DELETED = LifecycleStage.DELETED.value


def import_experiment(store: SqlTrackingStore, experiment: Experiment) -> str:
    """Create a copy of ``experiment`` (name, tags, lifecycle stage, times).

    Keeps ``experiment.experiment_id`` when no experiment of any workspace has
    it, else takes the next id; the artifact location is this store's default.

    Raises:
        AlreadyExists: an experiment of that name exists in this workspace.
        InvalidInput: the name or a tag fails validation.
    """
    validate_experiment_name(experiment.name)
    tags = [RunTag(k, v) for k, v in experiment.tags.items()]
    for tag in tags:
        validate_experiment_tag(tag)
    values: dict[str, Any] = {
        "workspace": store._workspace,
        "name": experiment.name,
        "artifact_location": "",
        "lifecycle_stage": LifecycleStage(experiment.lifecycle_stage).value,
        "creation_time": experiment.creation_time,
        "last_update_time": experiment.last_update_time,
    }
    wanted = experiment.experiment_id
    with write_transaction(store._engine) as conn:
        store._check_name_free(conn, experiment.name)
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
        InvalidInput: a key or value fails validation.
    """
    info = run.info
    validate_run_id(info.run_id)
    validate_run_name(info.run_name)
    params = [Param(k, v) for k, v in run.data.params.items()]
    tags = [RunTag(k, v) for k, v in run.data.tags.items()]
    for param in params:
        validate_param(param)
    for tag in tags:
        validate_tag(tag)
    for metric in metrics:
        validate_metric(metric)
    inputs = validate_dataset_inputs(run.inputs.dataset_inputs)
    key = experiment_key(experiment_id)
    workspace = store._workspace
    with write_transaction(store._engine) as conn:
        experiment = store._experiment_row(conn, key, experiment_id)
        exists = conn.execute(select(runs.c.run_uuid).where(runs.c.run_uuid == info.run_id)).first()
        if exists is not None:
            raise AlreadyExists(f"run {info.run_id!r} already exists")
        deleted = experiment.lifecycle_stage == _DELETED
        stage = LifecycleStage.DELETED if deleted else LifecycleStage(info.lifecycle_stage)
        new_info = RunInfo(
            run_id=info.run_id,
            experiment_id=str(key),
            run_name=info.run_name,
            user_id=info.user_id,
            status=RunStatus(info.status),
            start_time=info.start_time,
            end_time=info.end_time,
            artifact_uri=join_uri(experiment.artifact_location, info.run_id, "artifacts"),
            lifecycle_stage=stage,
            workspace=workspace,
        )
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
        link_inputs(conn, workspace, key, info.run_id, inputs)
        for start in range(0, len(metrics), 1000):
            part = metrics[start : start + 1000]
            store._sql.insert_metric.insert_values(
                conn, [metric_row(workspace, info.run_id, m) for m in part]
            )
            store._sql.upsert_latest.execute(
                conn, [metric_row(workspace, info.run_id, m) for m in latest_points(part)]
            )
    return new_info


__all__ = ["import_experiment", "import_run"]
