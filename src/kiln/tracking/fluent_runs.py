"""MLflow's fluent run functions beyond logging: ``kiln.get_artifact_uri``,
``kiln.last_active_run``, ``kiln.delete_tag``, ``kiln.log_table``, ``kiln.log_image``, ...

Like the rest of the fluent API they act on ``run_id``, else the active run, else a
new run (as MLflow does); the process-wide state stays in ``kiln.tracking.fluent``.
pandas, numpy and Pillow load only in the calls that need them.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kiln.entities import DATASET_CONTEXT_TAG, DatasetInput, InputTag, Run
from kiln.errors import InvalidInput
from kiln.tracking import fluent, images, system_tags, tables

if TYPE_CHECKING:
    import pandas as pd

LOGGED_ARTIFACTS_TAG = tables.LOGGED_ARTIFACTS_TAG


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """The active run's artifact URI, or that of ``artifact_path`` under it."""
    client, run_id = fluent._target(None)
    root = client.get_run(run_id).info.artifact_uri
    return posixpath.join(root, artifact_path) if artifact_path else root


def last_active_run() -> Run | None:
    """The active run (read again from the store), else the last run this thread ended."""
    active = fluent.active_run()
    last: str | None = getattr(fluent._state._local, "last_run_id", None)  # set by end_run
    run_id = active.info.run_id if active is not None else last
    return fluent.get_run(run_id) if run_id else None


def delete_tag(key: str) -> None:
    """Delete a tag of the active run. Raises NotFound when the run has no such tag."""
    client, run_id = fluent._target(None)
    client.delete_tag(run_id, key)


def delete_run(run_id: str) -> None:
    """Move a run to the deleted stage (restorable, as in MLflow)."""
    fluent._client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    """Bring a deleted run back to the active stage."""
    fluent._client().restore_run(run_id)


def log_inputs(
    datasets: Sequence[Any] | None = None,
    contexts: Sequence[str | None] | None = None,
    tags_list: Sequence[Mapping[str, Any] | None] | None = None,
    models: Sequence[Any] | None = None,
) -> None:
    """Log several datasets to the active run in one call, each with its context and
    tags (the lists pair up by position), as ``mlflow.log_inputs`` does.

    Raises:
        InvalidInput: lists of different lengths, or ``models`` (MLflow takes them
            only on Databricks).
    """
    datasets, contexts, tags_list = datasets or [], contexts or [], tags_list or []
    if not len(datasets) == len(contexts) == len(tags_list):
        raise InvalidInput("log_inputs needs datasets, contexts and tags_list of the same length")
    if models:
        raise InvalidInput("log_inputs: the models argument is only supported by Databricks")
    from kiln.tracking.datasets import dataset_from

    inputs = []
    for dataset, context, tags in zip(datasets, contexts, tags_list, strict=True):
        items = [InputTag(DATASET_CONTEXT_TAG, context)] if context is not None else []
        items += [InputTag(str(k), str(v)) for k, v in (tags or {}).items()]
        inputs.append(DatasetInput(dataset_from(dataset), tuple(items)))
    client, target = fluent._target(None)
    client.log_inputs(target, inputs)


def get_parent_run(run_id: str) -> Run | None:
    """The run whose nested run ``run_id`` is (its ``mlflow.parentRunId`` tag), or None."""
    parent = fluent.get_run(run_id).data.tags.get(system_tags.PARENT_RUN_ID)
    return fluent.get_run(parent) if parent else None


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Log a table as ``.json`` (pandas' split layout) or ``.parquet``, as MLflow does;
    logging to an existing table appends the rows (``kiln.tracking.tables``).

    Raises:
        InvalidInput: another extension, or data that is not a frame or a dict.
    """
    client, target = fluent._target(run_id)
    tables.log_table(client, target, data, artifact_file)


def load_table(
    artifact_file: str,
    run_ids: Sequence[str] | None = None,
    extra_columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The table ``artifact_file`` of every run of the active experiment that logged it
    (or of ``run_ids`` only), concatenated, with ``extra_columns`` of ``search_runs``'
    frame added (``kiln.tracking.tables.load_table``).

    Raises:
        NotFound: no run has the table.
    """
    client = fluent._client()
    experiment_id = fluent._active_experiment_id(client)
    return tables.load_table(client, experiment_id, artifact_file, run_ids, extra_columns)


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = False,
) -> None:
    """Log a numpy array, PIL image or ``kiln.Image`` to the active run, as MLflow 3 does:
    as the file ``artifact_file`` (in the format its extension names), or with ``key``
    (and ``step``, ``timestamp``) as a step of an image chart (``kiln.tracking.images``).

    Kiln writes the files at once: ``synchronous`` is accepted for MLflow's signature.

    Raises:
        InvalidInput: both or neither of ``artifact_file`` and ``key``, or an image
            Kiln cannot convert.
    """
    client, target = fluent._target(None)
    images.log_image(client, target, image, artifact_file, key, step, timestamp)


__all__ = [
    "LOGGED_ARTIFACTS_TAG",
    "delete_run",
    "delete_tag",
    "get_artifact_uri",
    "get_parent_run",
    "last_active_run",
    "load_table",
    "log_image",
    "log_inputs",
    "log_table",
    "restore_run",
]
