"""Steps every flavor's ``save_model`` / ``log_model`` share.

``prepare_folder`` refuses to overwrite; ``finish_folder`` writes the input
example, the environment files, measures the folder and writes ``MLmodel``;
``log_folder`` saves into a temporary folder, uploads it under the active run's
artifacts and registers it when asked.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiln.errors import AlreadyExists
from kiln.models.environment import write_environment
from kiln.models.example import save_example
from kiln.models.mlmodel import MLMODEL_FILE, ModelInfo, ModelMetadata, folder_size
from kiln.models.signature import ModelSignature, infer_signature
from kiln.store.rules.tracking import MAX_TAG_VAL_LENGTH

_log = logging.getLogger(__name__)
LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"


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


def log_folder(
    name: str,
    save: Callable[[Path, ModelMetadata], ModelMetadata],
    registered_model_name: str | None = None,
) -> ModelInfo:
    """Save a model with ``save(folder, base_metadata)`` and log it to the active run.

    Starts a run when none is active, as MLflow does. The folder is uploaded to
    ``<run artifacts>/<name>``; with ``registered_model_name`` the model is then
    registered as a new version from ``runs:/<run_id>/<name>``.
    """
    from kiln.tracking import fluent
    from kiln.tracking.fluent_artifacts import log_artifacts

    run = fluent.active_run() or fluent.start_run()
    run_id = run.info.run_id
    with tempfile.TemporaryDirectory(prefix="kiln-log-model-") as tmp:
        folder = Path(tmp) / "model"
        metadata = save(folder, ModelMetadata(artifact_path=name, run_id=run_id))
        log_artifacts(str(folder), name)
    _record_history(run_id, metadata)
    model_uri = f"runs:/{run_id}/{name}"
    version = None
    if registered_model_name is not None:
        version = _register(model_uri, registered_model_name, run_id).version
    return ModelInfo(
        artifact_path=name,
        model_uri=model_uri,
        run_id=run_id,
        metadata=metadata,
        registered_model_version=version,
    )


def _record_history(run_id: str, metadata: ModelMetadata) -> None:
    """Append the model to the run's ``mlflow.log-model.history`` tag, as MLflow does.

    MLflow's UI reads it to list a run's models. When the JSON would pass the
    tag length limit the entry is left out (the model itself is logged).
    """
    from kiln.tracking import fluent

    entry = {
        "run_id": run_id,
        "artifact_path": metadata.artifact_path,
        "utc_time_created": metadata.utc_time_created,
        "model_uuid": metadata.model_uuid,
        "flavors": {
            flavor: {k: v for k, v in conf.items() if k != "config"}
            for flavor, conf in metadata.flavors.items()
        },
    }
    previous = fluent.get_run(run_id).data.tags.get(LOG_MODEL_HISTORY_TAG)
    history = json.loads(previous) if previous else []
    value = json.dumps([*history, entry])
    if len(value) > MAX_TAG_VAL_LENGTH:
        _log.info("run %s: %s is full; not recording %s", run_id, LOG_MODEL_HISTORY_TAG, entry)
        return
    fluent.set_tag(LOG_MODEL_HISTORY_TAG, value)


def _register(model_uri: str, name: str, run_id: str) -> Any:
    from kiln.registry.service import RegistryService
    from kiln.store.open import open_registry_store
    from kiln.tracking.client import KilnClient
    from kiln.tracking.fluent import get_tracking_uri

    uri = get_tracking_uri()
    client = KilnClient.from_uri(uri)
    tracking = client.store
    # The registry of the workspace the run was logged in (the settings' KILN_WORKSPACE).
    registry = open_registry_store(uri, workspace=tracking.workspace)
    service = RegistryService(registry, tracking=tracking, artifact_options=client.artifact_options)
    return service.register_model(model_uri, name, run_id=run_id)


__all__ = ["MLMODEL_FILE", "finish_folder", "log_folder", "prepare_folder"]
