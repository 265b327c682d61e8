"""The LightGBM flavor, in MLflow's layout.

A ``Booster`` is saved with LightGBM's text format as ``model.lgb``; the
scikit-learn wrappers (``LGBMClassifier``, ...) are serialized like scikit-learn
models (``model.pkl`` with cloudpickle or pickle, or ``model.skops``).
``loader_module: mlflow.lightgbm`` makes the folder loadable by MLflow.
Requires ``pip install 'kiln-mlops[lightgbm]'``.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Unpack

from kiln.errors import InvalidInput
from kiln.models.autolog.lightgbm import autolog
from kiln.models.classes import qualified_name
from kiln.models.custom import add_code_to_path, copy_code_paths
from kiln.models.environment import ENV_CONF, conda_env, default_requirements
from kiln.models.loaders import require
from kiln.models.mlmodel import PYFUNC_FLAVOR, ModelInfo, ModelMetadata
from kiln.models.resolve import download_model
from kiln.models.saving import LogModelOptions, finish_folder, log_folder, prepare_folder
from kiln.models.signature import ModelSignature
from kiln.models.sklearn import SERIALIZATION_FORMATS, dump_estimator, read_estimator

FLAVOR_NAME = "lightgbm"
LOADER_MODULE = "mlflow.lightgbm"
EXTRA = "lightgbm"
BOOSTER_CLASS = "lightgbm.basic.Booster"
# What a skops file of a LightGBM wrapper holds; MLflow writes (and trusts) the same.
SKOPS_TRUSTED_TYPES = frozenset(
    {
        "collections.OrderedDict",
        BOOSTER_CLASS,
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
    }
)


def _lgb() -> Any:
    return require("lightgbm", EXTRA)


def save_model(
    lgb_model: Any,
    path: str | Path,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    code_paths: Sequence[str | Path] | None = None,
    serialization_format: str = "cloudpickle",
    metadata: ModelMetadata | None = None,
) -> ModelMetadata:
    """Save a Booster or LightGBM scikit-learn model into a new folder ``path``.

    Raises:
        AlreadyExists: ``path`` exists and is not empty.
        InvalidInput: an unknown serialization format.
    """
    lgb = _lgb()
    if serialization_format not in SERIALIZATION_FORMATS:
        raise InvalidInput(f"serialization_format must be one of {list(SERIALIZATION_FORMATS)}")
    folder = prepare_folder(path)
    if isinstance(lgb_model, lgb.Booster):
        filename = "model.lgb"
        lgb_model.save_model(str(folder / filename))
    else:
        filename = "model.skops" if serialization_format == "skops" else "model.pkl"
        dump_estimator(lgb_model, folder / filename, serialization_format)
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
        lgb_version=lgb.__version__,
        model_class=qualified_name(lgb_model),
        serialization_format=serialization_format,
        skops_trusted_types=(
            sorted(SKOPS_TRUSTED_TYPES)
            if serialization_format == "skops" and filename != "model.lgb"
            else None
        ),
    )
    packages = ["lightgbm", "numpy", "pandas", "scikit-learn", "scipy"]
    if serialization_format in ("cloudpickle", "skops") and filename != "model.lgb":
        packages.append(serialization_format)
    return finish_folder(
        folder,
        base,
        signature=signature,
        input_example=input_example,
        packages=packages,
        pip_requirements=pip_requirements,
        predict=lgb_model.predict,
    )


def log_model(
    lgb_model: Any,
    name: str = "model",
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    code_paths: Sequence[str | Path] | None = None,
    serialization_format: str = "cloudpickle",
    registered_model_name: str | None = None,
    **options: Unpack[LogModelOptions],
) -> ModelInfo:
    """Save the model as the active run's logged model ``name`` (``saving.log_folder``)."""

    def save(folder: Path, base: ModelMetadata) -> ModelMetadata:
        return save_model(
            lgb_model,
            folder,
            signature,
            input_example,
            pip_requirements,
            code_paths,
            serialization_format,
            metadata=base,
        )

    return log_folder(name, save, registered_model_name, **options)


def _load_from_folder(folder: Path, metadata: ModelMetadata) -> Any:
    lgb = _lgb()
    conf = metadata.flavors.get(FLAVOR_NAME) or {}
    add_code_to_path(folder, conf)
    data = folder / str(conf.get("data") or (metadata.pyfunc_conf or {}).get("data"))
    if str(conf.get("model_class", BOOSTER_CLASS)) == BOOSTER_CLASS:
        return lgb.Booster(model_file=str(data))
    return read_estimator(
        data,
        str(conf.get("serialization_format") or "cloudpickle"),
        conf.get("skops_trusted_types"),
    )


def load_model(model_uri: str | Path, dst_path: str | Path | None = None) -> Any:
    """The Booster or LightGBM scikit-learn model saved at ``model_uri``."""
    folder = download_model(str(model_uri), dst_path)
    return _load_from_folder(folder, ModelMetadata.load(folder))


class LightGBMPredictor:
    """``predict(data)``; MLflow passes no params to LightGBM either."""

    def __init__(self, model: Any) -> None:
        self._model = model

    @property
    def raw_model(self) -> Any:
        return self._model

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        return self._model.predict(data)


def load_predictor(folder: Path, metadata: ModelMetadata) -> LightGBMPredictor:
    """The pyfunc loader for ``loader_module: mlflow.lightgbm``."""
    return LightGBMPredictor(_load_from_folder(folder, metadata))


def get_default_pip_requirements(
    include_cloudpickle: bool = False, include_skops: bool = False
) -> list[str]:
    """MLflow's: the requirements Kiln writes for a model of this flavor, pinned to the
    installed versions."""
    packages = ["lightgbm", "numpy", "pandas", "scikit-learn", "scipy"]
    packages += ["cloudpickle"] * include_cloudpickle + ["skops"] * include_skops
    return default_requirements(packages)


def get_default_conda_env(
    include_cloudpickle: bool = False, include_skops: bool = False
) -> dict[str, Any]:
    """MLflow's: the ``conda.yaml`` Kiln writes for a model of this flavor."""
    return conda_env(get_default_pip_requirements(include_cloudpickle, include_skops))


__all__ = [
    "FLAVOR_NAME",
    "LightGBMPredictor",
    "SKOPS_TRUSTED_TYPES",
    "autolog",
    "load_model",
    "load_predictor",
    "log_model",
    "save_model",
    "get_default_conda_env",
    "get_default_pip_requirements",
]
