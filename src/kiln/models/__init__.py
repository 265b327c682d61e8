"""kiln.models: the MLmodel format, signatures and flavors, compatible with MLflow.

A model is a folder with an ``MLmodel`` file (``kiln.models.mlmodel``), the
framework's files, ``requirements.txt`` / ``python_env.yaml`` / ``conda.yaml``
(``kiln.models.environment``) and optionally an input example
(``kiln.models.example``). Folders written by MLflow load in Kiln without
importing ``mlflow``, and folders written by Kiln load in MLflow.

=====================  ============================  ==================================
module                 loader_module it writes       files
=====================  ============================  ==================================
kiln.models.pyfunc     mlflow.pyfunc.model           python_model.pkl (cloudpickle)
kiln.models.sklearn    mlflow.sklearn                model.pkl or model.skops
kiln.models.xgboost    mlflow.xgboost                model.ubj (or json)
kiln.models.lightgbm   mlflow.lightgbm               model.lgb or model.pkl
kiln.models.onnx       mlflow.onnx                   model.onnx (onnxruntime)
=====================  ============================  ==================================

``kiln.models.pyfunc.load_model(uri)`` loads any of them as a ``PyFuncModel``
(``kiln.models.loaders.PYFUNC_LOADERS`` maps MLflow's loader names to Kiln's);
``kiln.models.resolve`` turns ``runs:/``, ``models:/``, ``s3://``, ``file://``
and plain paths into a local folder.

Adding a flavor: a module with ``save_model``, ``log_model``, ``load_model`` and
``load_predictor(folder, metadata)``; import the framework inside functions
through ``kiln.models.loaders.require(module, extra)``; add its
``mlflow.<flavor>`` name to ``PYFUNC_LOADERS`` and its extra to pyproject.toml.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiln.models.evaluation import (
        EvaluationArtifact,
        EvaluationResult,
        MetricThreshold,
        evaluate,
    )
    from kiln.models.info import get_model_info, set_signature, validate_schema
    from kiln.models.signature import ModelSignature, infer_signature

# ``mlflow.models`` names at the same path, loaded on first use (they import numpy
# and pandas; ``import kiln.models`` does not).
_LAZY: dict[str, str] = {
    "ModelSignature": "kiln.models.signature",
    "infer_signature": "kiln.models.signature",
    "get_model_info": "kiln.models.info",
    "validate_schema": "kiln.models.info",
    "set_signature": "kiln.models.info",
    **{
        name: "kiln.models.evaluation"
        for name in ("EvaluationArtifact", "EvaluationResult", "MetricThreshold", "evaluate")
    },
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kiln.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "EvaluationArtifact",
    "EvaluationResult",
    "MetricThreshold",
    "ModelSignature",
    "evaluate",
    "get_model_info",
    "infer_signature",
    "set_signature",
    "validate_schema",
]
