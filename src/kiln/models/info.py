"""``kiln.models.get_model_info``, ``set_signature`` and ``validate_schema``: MLflow's
``mlflow.models`` names.

It reads the ``MLmodel`` of any model URI ``kiln.models.resolve`` understands (a path,
``runs:/``, ``models:/<name>/<version>``, ``models:/<model id>``, ``s3://`` ...) and
answers a ``ModelInfo`` (flavors, signature, run and model ids, input example info)
without loading the model. Unlike MLflow, which fetches only the ``MLmodel`` file, a
remote model is downloaded whole into a temporary folder, then removed.
"""

from __future__ import annotations

import tempfile
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from kiln.config import Settings
from kiln.errors import InvalidInput
from kiln.models.mlmodel import MLMODEL_FILE, ModelInfo, ModelMetadata
from kiln.models.resolve import download_model
from kiln.models.signature import ModelSignature, Schema
from kiln.registry.uris import parse_model_uri, parse_runs_uri
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.open import open_artifact_store
from kiln.tracking.client import KilnClient
from kiln.tracking.fluent import get_tracking_uri
from kiln.tracking.logged_model_ops import model_store


def get_model_info(model_uri: str) -> ModelInfo:
    """Raises: NotFound (no such model or no MLmodel there), InvalidUri."""
    with tempfile.TemporaryDirectory(prefix="kiln-model-info-") as tmp:
        metadata = ModelMetadata.load(download_model(str(model_uri), tmp))
    return ModelInfo(
        artifact_path=metadata.artifact_path or "",
        model_uri=str(model_uri),
        run_id=metadata.run_id,
        metadata=metadata,
        model_id=metadata.model_id,
    )


def _model_location(model_uri: str, tracking_uri: str, settings: Settings) -> str:
    """Where the model's files are: the path, the run's artifacts at ``runs:/<id>/<path>``,
    or the logged model's location for ``models:/<model id>``.

    Raises:
        InvalidInput: a registered-model URI (``models:/<name>/<version>``), as in MLflow.
    """
    scheme = urlparse(model_uri).scheme.lower()
    if scheme == "runs":
        run_id, path = parse_runs_uri(model_uri)
        with closing(KilnClient.from_uri(tracking_uri, settings)) as client:
            root = client.get_run(run_id).info.artifact_uri
        return f"{root.rstrip('/')}/{path}" if path else root
    if scheme == "models":
        target = parse_model_uri(model_uri)
        if target.model_id is None:
            raise InvalidInput(
                f"cannot set the signature of {model_uri!r}: registered-model URIs "
                "(models:/<name>/<version>) are not supported, as in MLflow"
            )
        store = model_store(tracking_uri, settings.workspace)
        return store.get_logged_model(target.model_id).artifact_location
    return model_uri


def set_signature(model_uri: str, signature: ModelSignature) -> None:
    """Replace the signature in the ``MLmodel`` of a saved or logged model (MLflow's
    ``mlflow.models.set_signature``): a path, ``runs:/<run id>/<path>`` or
    ``models:/<model id>``.

    Raises:
        InvalidInput: a registered-model URI, or ``signature`` is not a ``ModelSignature``.
        NotFound: no ``MLmodel`` there.
    """
    if not isinstance(signature, ModelSignature):
        raise InvalidInput("set_signature needs a ModelSignature (kiln.models.infer_signature)")
    settings = Settings.from_env()
    tracking_uri = get_tracking_uri()
    location = _model_location(str(model_uri), tracking_uri, settings)
    parsed = urlparse(location)
    if parsed.scheme in ("", "file") or len(parsed.scheme) == 1:
        folder = Path(unquote(parsed.path) if parsed.scheme == "file" else location)
        replace(ModelMetadata.load(folder), signature=signature).save(folder)
        return
    options = ArtifactOptions(s3_endpoint_url=settings.s3_endpoint_url)
    store = open_artifact_store(location, tracking_uri=tracking_uri, options=options)
    with tempfile.TemporaryDirectory(prefix="kiln-signature-") as tmp:
        local = Path(store.download_artifacts(MLMODEL_FILE, tmp))
        replace(ModelMetadata.load(local), signature=signature).save(local.parent)
        store.log_artifact(str(local.parent / MLMODEL_FILE))


def validate_schema(data: Any, expected_schema: Schema) -> None:
    """Check ``data`` against an input schema as ``predict`` does (MLflow's
    ``mlflow.models.validate_schema``).

    Raises:
        InvalidInput: a required column is missing, a column cannot be converted
            without changing values, or a tensor's shape does not fit.
    """
    ModelSignature(inputs=expected_schema).enforce(data)


__all__ = ["get_model_info", "set_signature", "validate_schema"]
