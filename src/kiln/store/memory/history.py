"""``HistoryImport`` for the in-memory store: re-create experiments and runs as they were.

``MemoryTrackingStore.import_experiment`` / ``import_run`` call these. Unlike live
logging they keep what they are given (ids, times, status, lifecycle stage), and a
run may go into a deleted experiment, where it is stored deleted.
"""

from __future__ import annotations

from collections.abc import Sequence

from kiln.entities import Experiment, Metric, Run, RunInfo
from kiln.errors import AlreadyExists
from kiln.store.memory.state import MemoryTrackingState, RunRecord
from kiln.store.rules.history import check_imported_experiment, check_imported_run


def import_experiment(
    state: MemoryTrackingState, workspace: str, artifact_root: str, experiment: Experiment
) -> str:
    """Create a copy of ``experiment``: name, tags, lifecycle stage and both times.

    Keeps ``experiment.experiment_id`` when it is a decimal id free in the whole
    state (every workspace), else takes the next id of the sequence. The artifact
    location is ``<artifact_root>/<id>``; the copy is in ``workspace``.

    Raises:
        AlreadyExists: an experiment of that name exists there (active or deleted).
        InvalidInput: the name, a tag, the stage or a time fails validation.
    """
    checked = check_imported_experiment(experiment)
    with state.lock:
        state.check_name_free(workspace, checked.name)
        experiment_id = state.claim_experiment_id(str(checked.experiment_id))
        record = state.add_experiment(
            workspace, checked.name, None, checked.tags, artifact_root, experiment_id
        )
        record.lifecycle_stage = checked.lifecycle_stage
        if checked.creation_time is not None:
            record.creation_time = checked.creation_time
        if checked.last_update_time is not None:
            record.last_update_time = checked.last_update_time
        return experiment_id


def import_run(
    state: MemoryTrackingState,
    workspace: str,
    run: Run,
    experiment_id: str,
    metrics: Sequence[Metric] = (),
) -> RunInfo:
    """Create a copy of ``run`` keeping its id, name, user, status, times and stage.

    ``run.data`` gives params and tags exactly (``mlflow.runName`` included; the
    run name comes from ``run.info``), ``run.inputs`` the dataset inputs;
    ``metrics`` is the full history, every point kept in the given order
    (a repeated point once); ``run.data.metrics`` is ignored. The artifact URI is
    ``<experiment artifact location>/<run_id>/artifacts``. Everything is
    validated before anything is written: on error nothing of the run exists.

    Raises:
        AlreadyExists: a run with this id exists in the state (any workspace).
        NotFound: no experiment ``experiment_id`` in ``workspace``.
        InvalidInput: the id, name, status, stage, a time, key or value is invalid.
    """
    checked = check_imported_run(run, experiment_id, metrics)
    run_id = checked.info.run_id
    with state.lock:
        experiment = state.experiment(workspace, experiment_id)
        if run_id in state.runs:
            raise AlreadyExists(f"run {run_id!r} already exists")
        info = checked.placed(
            experiment.experiment_id,
            experiment.artifact_location,
            experiment.lifecycle_stage,
            workspace,
        )
        record = RunRecord(info=info, params=checked.params, tags=checked.tags)
        for metric in checked.metrics:
            record.add_metric(metric)
        state.link_inputs(record, checked.inputs)
        state.runs[run_id] = record
        return info


__all__ = ["import_experiment", "import_run"]
