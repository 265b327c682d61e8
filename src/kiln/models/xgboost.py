"""The XGBoost flavor, in MLflow's layout (``model.ubj`` + ``xgboost`` flavor).

Boosters and the scikit-learn wrappers (``XGBClassifier``, ...) are saved with
XGBoost's own ``save_model`` (UBJSON by default, or ``json``/``deprecated``
formats); ``model_class`` records which class to rebuild. ``loader_module:
mlflow.xgboost`` makes the folder loadable by MLflow; Kiln maps it to this module.
Requires ``pip install 'kiln-mlops[xgboost]'``.
"""

from __future__ import annotations

import inspect
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Unpack

from kiln.models.autolog.xgboost import autolog
from kiln.models.classes import class_from_name, qualified_name
from kiln.models.custom import add_code_to_path, copy_code_paths
from kiln.models.environment import ENV_CONF, conda_env, default_requirements
from kiln.models.loaders import require
from kiln.models.mlmodel import PYFUNC_FLAVOR, ModelInfo, ModelMetadata
from kiln.models.resolve import download_model
from kiln.models.saving import LogModelOptions, finish_folder, log_folder, prepare_folder
from kiln.models.signature import ModelSignature

FLAVOR_NAME = "xgboost"
LOADER_MODULE = "mlflow.xgboost"
EXTRA = "xgboost"


def _xgb() -> Any:
    return require("xgboost", EXTRA)


def _distribution() -> str:
    from importlib import metadata

    for name in ("xgboost", "xgboost-cpu"):
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        return name
    return "xgboost"


def save_model(
    xgb_model: Any,
    path: str | Path,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    code_paths: Sequence[str | Path] | None = None,
    model_format: str = "ubj",
    metadata: ModelMetadata | None = None,
) -> ModelMetadata:
    """Save a Booster or XGBoost scikit-learn model into a new folder ``path``.

    Raises:
        AlreadyExists: ``path`` exists and is not empty.
    """
    xgb = _xgb()
    folder = prepare_folder(path)
    filename = f"model.{model_format}"
    xgb_model.save_model(str(folder / filename))
    code = copy_code_paths(folder, code_paths)
    base = (metadata or ModelMetadata()).add_flavor(
        PYFUNC_FLAVOR,
        code=code,
        data=filename,
        env=dict(ENV_CONF),
        loader_module=LOADER_MODULE,
        python_version=platform.python_version(),
    )
    base = base.add_flavor(
        FLAVOR_NAME,
        code=code,
        data=filename,
        model_class=qualified_name(xgb_model),
        model_format=model_format,
        xgb_version=xgb.__version__,
    )
    predictor = XGBoostPredictor(xgb_model)
    return finish_folder(
        folder,
        base,
        signature=signature,
        input_example=input_example,
        packages=[_distribution(), "numpy", "pandas", "scikit-learn", "scipy"],
        pip_requirements=pip_requirements,
        predict=predictor.predict,
    )


def log_model(
    xgb_model: Any,
    name: str = "model",
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    code_paths: Sequence[str | Path] | None = None,
    model_format: str = "ubj",
    registered_model_name: str | None = None,
    **options: Unpack[LogModelOptions],
) -> ModelInfo:
    """Save the model as the active run's logged model ``name`` (``saving.log_folder``)."""

    def save(folder: Path, base: ModelMetadata) -> ModelMetadata:
        return save_model(
            xgb_model,
            folder,
            signature,
            input_example,
            pip_requirements,
            code_paths,
            model_format,
            metadata=base,
        )

    return log_folder(name, save, registered_model_name, **options)


def _load_from_folder(folder: Path, metadata: ModelMetadata) -> Any:
    _xgb()
    conf = metadata.flavors.get(FLAVOR_NAME) or {}
    add_code_to_path(folder, conf)
    data = conf.get("data") or (metadata.pyfunc_conf or {}).get("data")
    model = class_from_name(str(conf.get("model_class", "xgboost.core.Booster")), "xgboost")()
    model.load_model(str(folder / str(data)))
    return model


def load_model(model_uri: str | Path, dst_path: str | Path | None = None) -> Any:
    """The Booster or XGBoost scikit-learn model saved at ``model_uri``."""
    folder = download_model(str(model_uri), dst_path)
    return _load_from_folder(folder, ModelMetadata.load(folder))


class XGBoostPredictor:
    """MLflow's ``_XGBModelWrapper``: Boosters get a DMatrix, wrappers their ``predict``."""

    def __init__(self, model: Any) -> None:
        self._model = model

    @property
    def raw_model(self) -> Any:
        return self._model

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        xgb = _xgb()
        if isinstance(self._model, xgb.Booster):
            fn = self._model.predict
            kwargs = _accepted(fn, params)
            return fn(xgb.DMatrix(data), validate_features=True, **kwargs)
        fn = self._model.predict
        return fn(data, validate_features=True, **_accepted(fn, params))


def _accepted(fn: Any, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The params ``fn`` accepts (MLflow drops the rest with a warning)."""
    if not params:
        return {}
    allowed = inspect.signature(fn).parameters
    return {k: v for k, v in params.items() if k in allowed and k != "validate_features"}


def load_predictor(folder: Path, metadata: ModelMetadata) -> XGBoostPredictor:
    """The pyfunc loader for ``loader_module: mlflow.xgboost``."""
    return XGBoostPredictor(_load_from_folder(folder, metadata))


def get_default_pip_requirements() -> list[str]:
    """MLflow's: the requirements Kiln writes for a model of this flavor, pinned to the
    installed versions."""
    return default_requirements([_distribution(), "numpy", "pandas", "scikit-learn", "scipy"])


def get_default_conda_env() -> dict[str, Any]:
    """MLflow's: the ``conda.yaml`` Kiln writes for a model of this flavor."""
    return conda_env(get_default_pip_requirements())


__all__ = [
    "FLAVOR_NAME",
    "XGBoostPredictor",
    "autolog",
    "load_model",
    "load_predictor",
    "log_model",
    "save_model",
    "get_default_conda_env",
    "get_default_pip_requirements",
]
