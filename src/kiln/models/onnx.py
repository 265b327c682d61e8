"""The ONNX flavor, in MLflow's layout (``model.onnx``), served by onnxruntime.

``loader_module: mlflow.onnx`` makes the folder loadable by MLflow; Kiln maps
it here. Prediction follows MLflow's ``_OnnxModelWrapper``: a DataFrame feeds
its values to a single-input model (or one column per named input) and gets a
DataFrame of outputs back; a numpy array or dict of arrays gets a dict back.
float64 inputs are cast to float32 where the graph wants ``tensor(float)``.
Requires ``pip install 'kiln-mlops[onnx]'``.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import pandas as pd

from kiln.errors import InvalidInput
from kiln.models.custom import add_code_to_path, copy_code_paths
from kiln.models.environment import ENV_CONF, conda_env, default_requirements
from kiln.models.loaders import require
from kiln.models.mlmodel import PYFUNC_FLAVOR, ModelInfo, ModelMetadata
from kiln.models.resolve import download_model
from kiln.models.saving import LogModelOptions, finish_folder, log_folder, prepare_folder
from kiln.models.signature import ModelSignature

FLAVOR_NAME = "onnx"
LOADER_MODULE = "mlflow.onnx"
EXTRA = "onnx"
MODEL_FILE = "model.onnx"
DEFAULT_PROVIDERS = ["CUDAExecutionProvider", "CPUExecutionProvider"]


def save_model(
    onnx_model: Any,
    path: str | Path,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    code_paths: Sequence[str | Path] | None = None,
    onnx_execution_providers: Sequence[str] | None = None,
    metadata: ModelMetadata | None = None,
) -> ModelMetadata:
    """Save an ``onnx.ModelProto`` into a new folder ``path``.

    Raises:
        AlreadyExists: ``path`` exists and is not empty.
    """
    onnx = require("onnx", EXTRA)
    folder = prepare_folder(path)
    onnx.checker.check_model(onnx_model)
    onnx.save_model(onnx_model, str(folder / MODEL_FILE))
    code = copy_code_paths(folder, code_paths)
    base = (metadata or ModelMetadata()).add_flavor(
        PYFUNC_FLAVOR,
        code=code,
        data=MODEL_FILE,
        env=dict(ENV_CONF),
        loader_module=LOADER_MODULE,
        python_version=platform.python_version(),
    )
    base = base.add_flavor(
        FLAVOR_NAME,
        code=code,
        data=MODEL_FILE,
        onnx_session_options=None,
        onnx_version=onnx.__version__,
        providers=list(onnx_execution_providers or DEFAULT_PROVIDERS),
    )
    return finish_folder(
        folder,
        base,
        signature=signature,
        input_example=input_example,
        packages=["onnx", "onnxruntime", "numpy", "pandas"],
        pip_requirements=pip_requirements,
    )


def log_model(
    onnx_model: Any,
    name: str = "model",
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    code_paths: Sequence[str | Path] | None = None,
    registered_model_name: str | None = None,
    **options: Unpack[LogModelOptions],
) -> ModelInfo:
    """Save the model as the active run's logged model ``name`` (``saving.log_folder``)."""

    def save(folder: Path, base: ModelMetadata) -> ModelMetadata:
        return save_model(
            onnx_model,
            folder,
            signature,
            input_example,
            pip_requirements,
            code_paths,
            metadata=base,
        )

    return log_folder(name, save, registered_model_name, **options)


def _model_file(folder: Path, metadata: ModelMetadata) -> Path:
    conf = metadata.flavors.get(FLAVOR_NAME) or {}
    add_code_to_path(folder, conf)
    return folder / str(conf.get("data") or (metadata.pyfunc_conf or {}).get("data") or MODEL_FILE)


def load_model(model_uri: str | Path, dst_path: str | Path | None = None) -> Any:
    """The ``onnx.ModelProto`` saved at ``model_uri``."""
    onnx = require("onnx", EXTRA)
    folder = download_model(str(model_uri), dst_path)
    return onnx.load(str(_model_file(folder, ModelMetadata.load(folder))))


class OnnxPredictor:
    """An onnxruntime session with MLflow's input and output conventions."""

    def __init__(self, model_file: Path, providers: Sequence[Any] | None) -> None:
        ort = require("onnxruntime", EXTRA)
        available = set(ort.get_available_providers())
        wanted = [p if isinstance(p, str) else p[0] for p in (providers or DEFAULT_PROVIDERS)]
        usable = [p for p in wanted if p in available] or ["CPUExecutionProvider"]
        self._session = ort.InferenceSession(str(model_file), providers=usable)
        self._inputs = [(i.name, i.type) for i in self._session.get_inputs()]
        self._outputs = [o.name for o in self._session.get_outputs()]

    @property
    def raw_model(self) -> Any:
        return self._session

    def _feeds(self, data: Any) -> dict[str, Any]:
        if isinstance(data, Mapping):
            return {str(k): np.asarray(v) for k, v in data.items()}
        if isinstance(data, np.ndarray):
            if len(self._inputs) != 1:
                names = [name for name, _ in self._inputs]
                raise InvalidInput(
                    f"a numpy array can only feed a single-input ONNX model; this one takes "
                    f"{names}: pass a dict or a DataFrame"
                )
            return {self._inputs[0][0]: data}
        if isinstance(data, pd.DataFrame):
            if len(self._inputs) > 1:
                return {name: data[name].to_numpy() for name, _ in self._inputs}
            return {self._inputs[0][0]: data.to_numpy()}
        raise InvalidInput(
            f"ONNX models take a DataFrame, a numpy array or a dict, not {type(data).__name__}"
        )

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        feeds = self._feeds(data)
        for name, kind in self._inputs:
            feed = feeds.get(name)
            if kind == "tensor(float)" and feed is not None and feed.dtype == np.float64:
                feeds[name] = feed.astype(np.float32)
        predicted = self._session.run(self._outputs, feeds)
        if isinstance(data, pd.DataFrame):
            return pd.DataFrame(
                {
                    name: np.asarray(value).reshape(-1)
                    for name, value in zip(self._outputs, predicted, strict=True)
                }
            )
        return dict(zip(self._outputs, predicted, strict=True))


def load_predictor(folder: Path, metadata: ModelMetadata) -> OnnxPredictor:
    """The pyfunc loader for ``loader_module: mlflow.onnx``."""
    conf = metadata.flavors.get(FLAVOR_NAME) or {}
    return OnnxPredictor(_model_file(folder, metadata), conf.get("providers"))


ONNX_EXECUTION_PROVIDERS = DEFAULT_PROVIDERS  # MLflow's name


def get_default_pip_requirements() -> list[str]:
    """MLflow's: the requirements Kiln writes for a model of this flavor, pinned to the
    installed versions."""
    return default_requirements(["onnx", "onnxruntime", "numpy", "pandas"])


def get_default_conda_env() -> dict[str, Any]:
    """MLflow's: the ``conda.yaml`` Kiln writes for a model of this flavor."""
    return conda_env(get_default_pip_requirements())


__all__ = [
    "FLAVOR_NAME",
    "OnnxPredictor",
    "load_model",
    "load_predictor",
    "log_model",
    "save_model",
    "ONNX_EXECUTION_PROVIDERS",
    "get_default_conda_env",
    "get_default_pip_requirements",
]
