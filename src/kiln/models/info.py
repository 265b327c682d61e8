"""``kiln.models.get_model_info`` and ``validate_schema``: MLflow's ``mlflow.models`` names.

It reads the ``MLmodel`` of any model URI ``kiln.models.resolve`` understands (a path,
``runs:/``, ``models:/<name>/<version>``, ``models:/<model id>``, ``s3://`` ...) and
answers a ``ModelInfo`` (flavors, signature, run and model ids, input example info)
without loading the model. Unlike MLflow, which fetches only the ``MLmodel`` file, a
remote model is downloaded whole into a temporary folder, then removed.
"""

from __future__ import annotations

import tempfile
from typing import Any

from kiln.models.mlmodel import ModelInfo, ModelMetadata
from kiln.models.resolve import download_model
from kiln.models.signature import ModelSignature, Schema


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


def validate_schema(data: Any, expected_schema: Schema) -> None:
    """Check ``data`` against an input schema as ``predict`` does (MLflow's
    ``mlflow.models.validate_schema``).

    Raises:
        InvalidInput: a required column is missing, a column cannot be converted
            without changing values, or a tensor's shape does not fit.
    """
    ModelSignature(inputs=expected_schema).enforce(data)


__all__ = ["get_model_info", "validate_schema"]
