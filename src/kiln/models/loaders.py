"""``loader_module`` -> Kiln loader: how a model folder becomes a predictor.

The ``python_function`` flavor of ``MLmodel`` names a ``loader_module``. MLflow
imports that module; Kiln looks it up in ``PYFUNC_LOADERS`` and imports its own
module instead, so models written by MLflow load without importing ``mlflow``.
Kiln writes the ``mlflow.*`` names too, so MLflow loads Kiln's models.

Each loader module defines ``load_predictor(folder, metadata) -> Predictor``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from kiln.errors import InvalidInput
from kiln.models.mlmodel import ModelMetadata

PYFUNC_LOADERS: dict[str, str] = {
    "mlflow.sklearn": "kiln.models.sklearn",
    "mlflow.xgboost": "kiln.models.xgboost",
    "mlflow.lightgbm": "kiln.models.lightgbm",
    "mlflow.onnx": "kiln.models.onnx",
    "mlflow.keras": "kiln.models.keras",
    "mlflow.pytorch": "kiln.models.pytorch",
    "mlflow.h2o": "kiln.models.h2o",
    "mlflow.pyfunc.model": "kiln.models.custom",
    "kiln.models.sklearn": "kiln.models.sklearn",
    "kiln.models.xgboost": "kiln.models.xgboost",
    "kiln.models.lightgbm": "kiln.models.lightgbm",
    "kiln.models.onnx": "kiln.models.onnx",
    "kiln.models.keras": "kiln.models.keras",
    "kiln.models.pytorch": "kiln.models.pytorch",
    "kiln.models.h2o": "kiln.models.h2o",
    "kiln.models.custom": "kiln.models.custom",
}


class Predictor(Protocol):
    """A loaded model's generic inference entry point."""

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any: ...

    @property
    def raw_model(self) -> Any: ...


class _Loader(Protocol):
    def __call__(self, folder: Path, metadata: ModelMetadata) -> Predictor: ...


def load_predictor(folder: Path, metadata: ModelMetadata) -> Predictor:
    """Load the python_function flavor of the model in ``folder``.

    Raises:
        InvalidInput: the model has no python_function flavor, or its
            ``loader_module`` is not one Kiln knows (``PYFUNC_LOADERS``).
    """
    conf = metadata.pyfunc_conf
    if conf is None:
        raise InvalidInput(
            f"the model at {folder} has no python_function flavor "
            f"(flavors: {', '.join(sorted(metadata.flavors))})"
        )
    loader_module = str(conf.get("loader_module", ""))
    module_name = PYFUNC_LOADERS.get(loader_module)
    if module_name is None:
        known = ", ".join(sorted(k for k in PYFUNC_LOADERS if k.startswith("mlflow.")))
        raise InvalidInput(
            f"Kiln cannot load models with loader_module {loader_module!r}; it loads {known}"
        )
    loader: _Loader = importlib.import_module(module_name).load_predictor
    return loader(folder, metadata)


def require(module: str, extra: str) -> Any:
    """Import a framework, or explain which extra installs it.

    Raises:
        ModuleNotFoundError: with ``pip install kiln-mlops[<extra>]`` in the message.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"{module} is not installed; install it with: pip install 'kiln-mlops[{extra}]'"
        ) from exc


__all__ = ["PYFUNC_LOADERS", "Predictor", "load_predictor", "require"]
