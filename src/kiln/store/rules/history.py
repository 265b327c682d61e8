"""The checks a history import (``kiln import``) runs before it writes anything.

An import keeps what it is given (ids, names, status, stage, times), so every field
is checked the way a live write checks it, and all of it before the first write:
a refused run leaves nothing behind. Backends call these, then place the copy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from kiln.entities import (
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunInfo,
    RunTag,
)
from kiln.errors import InvalidInput
from kiln.store.rules.runs import as_lifecycle_stage, as_run_status, optional_ms, run_artifact_uri
from kiln.store.rules.tracking import (
    validate_dataset_inputs,
    validate_experiment_id,
    validate_experiment_name,
    validate_experiment_tag,
    validate_metric,
    validate_param,
    validate_run_id,
    validate_run_name,
    validate_tag,
)


def check_imported_experiment(experiment: Experiment) -> Experiment:
    """``experiment`` with its stage as a ``LifecycleStage`` and its tags copied.

    Raises:
        InvalidInput: the name, a tag, the stage or a time fails validation.
    """
    validate_experiment_name(experiment.name)
    tags = dict(experiment.tags)
    for key, value in tags.items():
        validate_experiment_tag(RunTag(key, value))
    return dataclasses.replace(
        experiment,
        tags=tags,
        lifecycle_stage=as_lifecycle_stage(experiment.lifecycle_stage),
        creation_time=optional_ms(experiment.creation_time, "creation_time"),
        last_update_time=optional_ms(experiment.last_update_time, "last_update_time"),
    )


@dataclass(frozen=True, slots=True)
class ImportedRun:
    """A run that passed ``check_imported_run``: ready to be written."""

    info: RunInfo
    params: dict[str, str]
    tags: dict[str, str]
    metrics: list[Metric]
    inputs: list[DatasetInput]

    def placed(
        self,
        experiment_id: str,
        artifact_location: str,
        experiment_stage: LifecycleStage,
        workspace: str,
    ) -> RunInfo:
        """The copy's info in its experiment: a run imported into a deleted
        experiment is stored deleted; artifacts go under the experiment's location."""
        stage = self.info.lifecycle_stage
        if experiment_stage is LifecycleStage.DELETED:
            stage = LifecycleStage.DELETED
        return dataclasses.replace(
            self.info,
            experiment_id=experiment_id,
            artifact_uri=run_artifact_uri(artifact_location, self.info.run_id),
            lifecycle_stage=stage,
            workspace=workspace,
        )


def check_imported_run(run: Run, experiment_id: str, metrics: Sequence[Metric] = ()) -> ImportedRun:
    """Check everything of a run to import; ``metrics`` is its full history.

    Raises:
        InvalidInput: the id, experiment id, name, user, status, stage, a time, a
            key or a value is invalid.
    """
    info = run.info
    validate_run_id(info.run_id)
    validate_experiment_id(experiment_id)
    if not isinstance(info.run_name, str):
        raise InvalidInput(f"run name must be a string, got {info.run_name!r}")
    validate_run_name(info.run_name)
    if not isinstance(info.user_id, str):
        raise InvalidInput(f"user id must be a string, got {info.user_id!r}")
    status = as_run_status(info.status)
    stage = as_lifecycle_stage(info.lifecycle_stage)
    start_time = optional_ms(info.start_time, "start_time")
    if start_time is None:
        raise InvalidInput("start_time must be milliseconds as an int, got None")
    end_time = optional_ms(info.end_time, "end_time")
    params = dict(run.data.params)
    tags = dict(run.data.tags)
    for key, value in params.items():
        validate_param(Param(key, value))
    for key, value in tags.items():
        validate_tag(RunTag(key, value))
    points = [validate_metric(metric) for metric in metrics]
    inputs = validate_dataset_inputs(run.inputs.dataset_inputs)
    checked = dataclasses.replace(
        info, status=status, lifecycle_stage=stage, start_time=start_time, end_time=end_time
    )
    return ImportedRun(checked, params, tags, points, inputs)


__all__ = ["ImportedRun", "check_imported_experiment", "check_imported_run"]
