"""``HistoryImport`` for the mlruns store: re-create experiments and runs as they were.

``FileTrackingStore.import_experiment`` / ``import_run`` call these. Unlike live
logging they keep what they are given (ids, times, status, lifecycle stage), and a
run may go into a deleted experiment, where it is stored deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from kiln.entities import (
    DEFAULT_WORKSPACE,
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunInfo,
    RunTag,
)
from kiln.errors import AlreadyExists, NotFound
from kiln.store.file import folders, layout
from kiln.store.file.tree import MlrunsTree
from kiln.store.rules.history import check_imported_experiment, check_imported_run


def import_experiment(tree: MlrunsTree, experiment: Experiment) -> str:
    """Create a copy of ``experiment`` (name, tags, lifecycle stage, times).

    Keeps ``experiment.experiment_id`` when that id is free here, else takes the
    next free one; the artifact location is the tree's default for the id.

    Raises:
        AlreadyExists: an experiment of that name exists.
        InvalidInput: the name, a tag, the stage or a time fails validation.
    """
    checked = check_imported_experiment(experiment)
    tags = [RunTag(k, v) for k, v in checked.tags.items()]
    folders.check_keys_nest([t.key for t in tags], "experiment tag key")
    with tree.lock:
        tree.check_name_free(checked.name)
        experiment_id = tree.claim_experiment_id(checked.experiment_id)
        created = tree.write_new_experiment(
            experiment_id,
            checked.name,
            None,
            tags,
            creation_time=checked.creation_time,
            last_update_time=checked.last_update_time,
        )
        if checked.lifecycle_stage is LifecycleStage.DELETED:
            folder = tree.root / experiment_id
            deleted = replace(created, lifecycle_stage=LifecycleStage.DELETED)
            tree.rewrite_experiment(folder, deleted)
            folder.rename(tree.trash / experiment_id)
        return experiment_id


def import_run(
    tree: MlrunsTree, run: Run, experiment_id: str, metrics: Sequence[Metric] = ()
) -> RunInfo:
    """Create a copy of ``run`` keeping its id, name, user, status, times and stage.

    ``run.data`` gives params and tags, ``run.inputs`` the dataset inputs;
    ``metrics`` is the full history (every point). The artifact URI is the tree's
    (``<experiment artifact location>/<run_id>/artifacts``).

    Raises:
        AlreadyExists: a run with this id exists here.
        NotFound: no experiment ``experiment_id``.
        InvalidInput: the id, name, user, status, stage, a time, key or value is invalid.
    """
    checked = check_imported_run(run, experiment_id, metrics)
    params = [Param(k, v) for k, v in checked.params.items()]
    tags = [RunTag(k, v) for k, v in checked.tags.items()]
    folders.check_keys_nest([m.key for m in checked.metrics], "metric key")
    folders.check_keys_nest([p.key for p in params], "param key")
    folders.check_keys_nest([t.key for t in tags], "tag key")
    run_id = checked.info.run_id
    with tree.lock:
        experiment = tree.experiment(experiment_id)
        try:
            tree.find_run_dir(run_id)
        except NotFound:
            pass
        else:
            raise AlreadyExists(f"run {run_id!r} already exists")
        info = checked.placed(
            experiment_id,
            experiment.artifact_location,
            experiment.lifecycle_stage,
            DEFAULT_WORKSPACE,
        )
        deleted_time: int | layout.Absent | None = (
            tree.clock() if info.lifecycle_stage is LifecycleStage.DELETED else layout.ABSENT
        )
        tree.write_new_run(
            experiment_id, info, checked.metrics, params, tags, deleted_time, checked.inputs
        )
        return info


__all__ = ["import_experiment", "import_run"]
