"""Steps every flavor's ``save_model`` / ``log_model`` share.

``prepare_folder`` refuses to overwrite; ``finish_folder`` writes the input
example, the environment files, measures the folder and writes ``MLmodel``;
``log_folder`` saves into a temporary folder and logs it as an MLflow 3 logged
model of the active run (uploaded to the model's artifact location), registering
it when asked.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypedDict, Unpack

from kiln.entities.logged_model import LoggedModelOutput, LoggedModelStatus
from kiln.errors import AlreadyExists
from kiln.models.environment import write_environment
from kiln.models.example import save_example
from kiln.models.mlmodel import MLMODEL_FILE, ModelInfo, ModelMetadata, folder_size
from kiln.models.signature import ModelSignature, infer_signature
from kiln.store.open import open_artifact_store
from kiln.tracking.logged_model_ops import MODEL_IS_EXTERNAL_TAG

_log = logging.getLogger(__name__)


def prepare_folder(path: str | Path) -> Path:
    """Create the model folder; it must not exist or be empty.

    Raises:
        AlreadyExists: ``path`` exists and is not an empty folder.
    """
    folder = Path(path)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise AlreadyExists(f"Path '{folder}' already exists and is not empty")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def finish_folder(
    folder: Path,
    metadata: ModelMetadata,
    *,
    signature: ModelSignature | None,
    input_example: Any,
    packages: Sequence[str],
    pip_requirements: Sequence[str] | None,
    predict: Callable[[Any], Any] | None = None,
) -> ModelMetadata:
    """Write example, environment and ``MLmodel``; return the metadata written.

    When an input example is given without a signature and ``predict`` is given,
    the signature is inferred from the example and its prediction, as MLflow does;
    ``signature=False`` (what MLflow's autolog passes when no signature is wanted)
    writes none and infers none.
    """
    if input_example is not None:
        info = save_example(folder, input_example)
        metadata = replace(metadata, saved_input_example_info=info)
        if signature is None and predict is not None:
            signature = _example_signature(input_example, predict)
    if isinstance(signature, ModelSignature):
        metadata = replace(metadata, signature=signature)
    write_environment(folder, packages, pip_requirements)
    metadata.save(folder)
    metadata = replace(metadata, model_size_bytes=folder_size(folder))
    metadata.save(folder)
    return metadata


def _example_signature(example: Any, predict: Callable[[Any], Any]) -> ModelSignature | None:
    """Infer a signature from the example and the model's prediction on it.

    A model that cannot predict on its own example is still saved, without a
    signature: MLflow warns and does the same.
    """
    try:
        return infer_signature(example, predict(example))
    except Exception as exc:
        _log.warning("could not infer a model signature from the input example: %s", exc)
        return None


class LogModelOptions(TypedDict, total=False):
    """MLflow 3's ``log_model`` keywords that every flavor passes on to ``log_folder``."""

    artifact_path: str | None  # deprecated: MLflow's old name for ``name``
    params: Mapping[str, Any] | None
    tags: Mapping[str, Any] | None
    model_type: str | None
    step: int
    model_id: str | None


def log_folder(
    name: str,
    save: Callable[[Path, ModelMetadata], ModelMetadata],
    registered_model_name: str | None = None,
    **options: Unpack[LogModelOptions],
) -> ModelInfo:
    """Save a model with ``save(folder, base_metadata)`` and log it as MLflow 3 does.

    Starts a run when none is active. A logged model is created (or ``model_id``
    reused) in the run's experiment with the run as its source and the run's
    params; the folder goes to the model's artifact location, the model becomes a
    run output (with the run's metrics at ``step``) and READY (FAILED when saving
    fails); with ``registered_model_name`` a version is registered from
    ``models:/<model_id>``. MLflow 2's ``mlflow.log-model.history`` run tag is not
    written (MLflow 3 writes none).
    """
    from kiln.tracking import fluent
    from kiln.tracking import logged_model_ops as ops

    artifact_path = options.get("artifact_path")
    if artifact_path is not None:
        _log.warning("`artifact_path` is deprecated. Please use `name` instead.")
        name = artifact_path
    client, run_id = fluent._target(None)
    store = ops.fluent_store()
    model_id = options.get("model_id")
    if model_id is not None:
        model = store.get_logged_model(model_id)
    else:
        run_params = client.get_run(run_id).data.params
        model = ops.create_model(
            store,
            client,
            name=name,
            source_run_id=run_id,
            tags=options.get("tags"),
            params={**(options.get("params") or {}), **run_params},
            model_type=options.get("model_type"),
        )
    output = LoggedModelOutput(model.model_id, options.get("step", 0))
    store.log_outputs(run_id, [output])
    ops.record_output(run_id, output)
    try:
        ops.copy_run_metrics(store, client, run_id, model.model_id, output.step)
        base = ModelMetadata(
            artifact_path=model.artifact_location,
            run_id=run_id,
            model_uuid=model.model_id,
            model_id=model.model_id,
        )
        with tempfile.TemporaryDirectory(prefix="kiln-log-model-") as tmp:
            metadata = save(Path(tmp) / "model", base)
            artifacts = open_artifact_store(
                model.artifact_location,
                tracking_uri=fluent.get_tracking_uri(),
                options=client.artifact_options,
            )
            artifacts.log_artifacts(str(Path(tmp) / "model"))
        if model.tags.get(MODEL_IS_EXTERNAL_TAG, "false").lower() == "true":
            store.delete_logged_model_tag(model.model_id, MODEL_IS_EXTERNAL_TAG)
    except BaseException:
        store.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        raise
    model = store.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    version = None
    if registered_model_name is not None:
        from kiln.models.registration import register_model

        tags = options.get("tags")
        version = register_model(model.model_uri, registered_model_name, tags=tags).version
    return ModelInfo(
        artifact_path=model.artifact_location,
        model_uri=model.model_uri,
        run_id=run_id,
        metadata=metadata,
        registered_model_version=version,
        model_id=model.model_id,
        name=model.name,
        params=dict(model.params),
        tags=dict(model.tags),
        creation_timestamp=model.creation_timestamp,
    )


__all__ = [
    "MLMODEL_FILE",
    "LogModelOptions",
    "finish_folder",
    "log_folder",
    "prepare_folder",
]
