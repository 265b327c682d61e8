"""The scikit-learn flavor, in MLflow's layout.

``save_model`` writes ``model.pkl`` (cloudpickle by default, or ``pickle``) or
``model.skops`` (``serialization_format="skops"``), plus the ``sklearn`` and
``python_function`` flavors with ``loader_module: mlflow.sklearn``, so both
Kiln and MLflow load the folder. ``load_model`` also reads the skops files
MLflow 3 writes by default, trusting only the types the ``MLmodel`` lists
(``skops_trusted_types``), exactly as MLflow's loader does.
"""

from __future__ import annotations

import pickle
import platform
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import pandas as pd

from kiln.errors import InvalidInput
from kiln.models.autolog.sklearn import autolog
from kiln.models.custom import add_code_to_path, copy_code_paths
from kiln.models.environment import ENV_CONF, conda_env, default_requirements
from kiln.models.loaders import require
from kiln.models.mlmodel import PYFUNC_FLAVOR, ModelInfo, ModelMetadata
from kiln.models.resolve import download_model
from kiln.models.saving import LogModelOptions, finish_folder, log_folder, prepare_folder
from kiln.models.signature import ModelSignature

FLAVOR_NAME = "sklearn"
LOADER_MODULE = "mlflow.sklearn"
SERIALIZATION_FORMATS = ("pickle", "cloudpickle", "skops")
PREDICT_FNS = ("predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba", "score")
_FILES = {"pickle": "model.pkl", "cloudpickle": "model.pkl", "skops": "model.skops"}


def _packages(serialization_format: str) -> list[str]:
    packages = ["scikit-learn", "numpy", "pandas", "scipy"]
    if serialization_format == "cloudpickle":
        packages.append("cloudpickle")
    if serialization_format == "skops":
        packages.append("skops")
    return packages


def _cloudpickle() -> Any:
    import cloudpickle

    return cloudpickle


def dump_estimator(model: Any, path: Path, serialization_format: str) -> None:
    """Write ``model`` to ``path`` as pickle, cloudpickle or skops."""
    if serialization_format == "skops":
        skops_io = require("skops.io", "skops")
        skops_io.dump(model, str(path))
        return
    with path.open("wb") as stream:
        if serialization_format == "cloudpickle":
            _cloudpickle().dump(model, stream)
        else:
            pickle.dump(model, stream, protocol=pickle.DEFAULT_PROTOCOL)


def read_estimator(path: Path, serialization_format: str, trusted: Sequence[str] | None) -> Any:
    """Read a file ``dump_estimator`` (or MLflow) wrote; skops trusts only ``trusted`` extras.

    Raises:
        InvalidInput: an unknown serialization format.
    """
    if serialization_format not in SERIALIZATION_FORMATS:
        raise InvalidInput(
            f"Unrecognized serialization format: {serialization_format}. "
            f"Use one of {list(SERIALIZATION_FORMATS)}."
        )
    if serialization_format == "skops":
        skops_io = require("skops.io", "skops")
        return skops_io.load(str(path), trusted=list(trusted) if trusted else None)
    with path.open("rb") as stream:
        if serialization_format == "cloudpickle":
            return _cloudpickle().load(stream)
        return pickle.load(stream)


def save_model(
    sk_model: Any,
    path: str | Path,
    serialization_format: str = "cloudpickle",
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    code_paths: Sequence[str | Path] | None = None,
    pyfunc_predict_fn: str = "predict",
    skops_trusted_types: Sequence[str] | None = None,
    metadata: ModelMetadata | None = None,
) -> ModelMetadata:
    """Save a fitted scikit-learn estimator into a new folder ``path``.

    Raises:
        AlreadyExists: ``path`` exists and is not empty.
        InvalidInput: an unknown serialization format or ``pyfunc_predict_fn``.
    """
    sklearn = require("sklearn", "sklearn")
    if serialization_format not in SERIALIZATION_FORMATS:
        raise InvalidInput(
            f"Unrecognized serialization format: {serialization_format}. "
            f"Use one of {list(SERIALIZATION_FORMATS)}."
        )
    if pyfunc_predict_fn not in PREDICT_FNS:
        raise InvalidInput(f"pyfunc_predict_fn must be one of {list(PREDICT_FNS)}")
    folder = prepare_folder(path)
    filename = _FILES[serialization_format]
    dump_estimator(sk_model, folder / filename, serialization_format)
    code = copy_code_paths(folder, code_paths)
    base = (metadata or ModelMetadata()).add_flavor(
        PYFUNC_FLAVOR,
        env=dict(ENV_CONF),
        loader_module=LOADER_MODULE,
        model_path=filename,
        predict_fn=pyfunc_predict_fn,
        python_version=platform.python_version(),
        **({"code": code} if code else {}),
    )
    base = base.add_flavor(
        FLAVOR_NAME,
        code=code,
        pickled_model=filename,
        serialization_format=serialization_format,
        sklearn_version=sklearn.__version__,
        skops_trusted_types=list(skops_trusted_types) if skops_trusted_types else None,
    )
    return finish_folder(
        folder,
        base,
        signature=signature,
        input_example=input_example,
        packages=_packages(serialization_format),
        pip_requirements=pip_requirements,
        predict=getattr(sk_model, pyfunc_predict_fn, None),
    )


def log_model(
    sk_model: Any,
    name: str = "model",
    serialization_format: str = "cloudpickle",
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    code_paths: Sequence[str | Path] | None = None,
    registered_model_name: str | None = None,
    pyfunc_predict_fn: str = "predict",
    **options: Unpack[LogModelOptions],
) -> ModelInfo:
    """Save the estimator as the active run's logged model ``name`` (``saving.log_folder``)."""

    def save(folder: Path, base: ModelMetadata) -> ModelMetadata:
        return save_model(
            sk_model,
            folder,
            serialization_format,
            signature,
            input_example,
            pip_requirements,
            code_paths,
            pyfunc_predict_fn,
            metadata=base,
        )

    return log_folder(name, save, registered_model_name, **options)


def _load_from_folder(folder: Path, metadata: ModelMetadata) -> Any:
    conf = metadata.flavors.get(FLAVOR_NAME)
    if conf is None:
        pyfunc = metadata.pyfunc_conf or {}
        filename = pyfunc.get("model_path") or pyfunc.get("data")
        if filename is None:
            raise InvalidInput(f"the model at {folder} has no sklearn flavor")
        return read_estimator(folder / str(filename), "pickle", None)
    add_code_to_path(folder, conf)
    return read_estimator(
        folder / str(conf["pickled_model"]),
        str(conf.get("serialization_format") or "pickle"),
        conf.get("skops_trusted_types"),
    )


def load_model(model_uri: str | Path, dst_path: str | Path | None = None) -> Any:
    """The scikit-learn estimator saved at ``model_uri``.

    Raises:
        NotFound: nothing at the URI.
        InvalidInput: the model has no sklearn flavor, or an unknown format.
    """
    folder = download_model(str(model_uri), dst_path)
    return _load_from_folder(folder, ModelMetadata.load(folder))


_NO_NAMES_WARNING = "X does not have valid feature names"


def _is_estimator(value: Any) -> bool:
    return hasattr(value, "fit") and not isinstance(value, type)


def _is_leaf_estimator(model: Any) -> bool:
    """A scikit-learn estimator that delegates to no other estimator.

    Such an estimator turns a DataFrame into an array with ``check_array`` before
    it looks at the values, so it predicts the same from the frame's array.
    Pipelines, column transformers, ensembles and searches may select columns by
    name or hand the frame on unchanged, so they always get the frame.
    """
    if not type(model).__module__.startswith("sklearn."):
        return False
    get_params = getattr(model, "get_params", None)
    if get_params is None or getattr(model, "_preprocessor", None) is not None:
        return False  # HistGradientBoosting* fitted on categorical columns encode them first
    for value in get_params(deep=False).values():
        if _is_estimator(value):
            return False
        if isinstance(value, list | tuple) and any(
            _is_estimator(item) or (isinstance(item, tuple) and any(map(_is_estimator, item)))
            for item in value
        ):
            return False
    return True


class SklearnPredictor:
    """``predict`` through the flavor's ``predict_fn`` (``predict`` by default).

    A DataFrame whose columns are exactly the model's ``feature_names_in_`` (or
    any columns, for a model fitted without names) and share one numeric dtype
    goes to a leaf scikit-learn estimator as ``frame.to_numpy()``: the array the
    estimator would build itself, without its per-call pandas checks (about 5x
    faster for one row).

    An estimator (pipelines included) that was fitted on an array has
    ``n_features_in_`` but no ``feature_names_in_``: it reads its input by
    position, so a DataFrame goes to it as ``frame.to_numpy()`` whatever its
    column names. scikit-learn 1.9 refuses a frame with duplicate column names,
    and MLflow 1.x clients send such frames (13 columns all named "features").
    Everything else gets ``data`` unchanged.
    """

    def __init__(self, model: Any, predict_fn: str) -> None:
        self._model = model
        self._predict_fn = predict_fn
        self._leaf = _is_leaf_estimator(model)
        names = getattr(model, "feature_names_in_", None)
        self._names = [str(n) for n in names] if names is not None else None
        self._positional = names is None and hasattr(model, "n_features_in_")

    @property
    def raw_model(self) -> Any:
        return self._model

    def _as_array(self, frame: pd.DataFrame) -> np.ndarray[Any, Any] | None:
        if self._names is not None and frame.columns.tolist() != self._names:
            return None
        dtypes = set(frame.dtypes.tolist())
        if len(dtypes) != 1:
            return None
        dtype = dtypes.pop()
        if not isinstance(dtype, np.dtype) or dtype.kind not in "iuf":
            return None
        return frame.to_numpy()

    def _predict_array(self, array: np.ndarray[Any, Any]) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _NO_NAMES_WARNING, UserWarning)
            return getattr(self._model, self._predict_fn)(array)

    def array_predict(self, columns: Sequence[str]) -> Callable[[np.ndarray[Any, Any]], Any] | None:
        """``predict`` for a 2-D numeric array whose columns are ``columns``, in order.

        The function returned predicts exactly what ``predict`` does for a DataFrame
        of those columns sharing the array's dtype (it is the path ``predict`` takes
        for such a frame), without building the frame. None when ``predict`` would
        hand such a frame to the estimator as a frame: not a leaf estimator (nor
        one fitted on an array), or ``columns`` are not its ``feature_names_in_``.
        """
        if self._positional:
            return self._predict_array
        if not self._leaf or (self._names is not None and list(columns) != self._names):
            return None
        return self._predict_array

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        if isinstance(data, pd.DataFrame):
            if self._positional:
                return self._predict_array(data.to_numpy())
            if self._leaf:
                array = self._as_array(data)
                if array is not None:
                    return self._predict_array(array)
        return getattr(self._model, self._predict_fn)(data)


def load_predictor(folder: Path, metadata: ModelMetadata) -> SklearnPredictor:
    """The pyfunc loader for ``loader_module: mlflow.sklearn``."""
    conf = metadata.pyfunc_conf or {}
    predict_fn = str(conf.get("predict_fn") or "predict")
    if predict_fn not in PREDICT_FNS:
        raise InvalidInput(f"unsupported predict_fn {predict_fn!r}")
    return SklearnPredictor(_load_from_folder(folder, metadata), predict_fn)


# MLflow's names for the formats (SUPPORTED_SERIALIZATION_FORMATS in MLflow's order).
SERIALIZATION_FORMAT_PICKLE = "pickle"
SERIALIZATION_FORMAT_CLOUDPICKLE = "cloudpickle"
SERIALIZATION_FORMAT_SKOPS = "skops"
SUPPORTED_SERIALIZATION_FORMATS = [
    SERIALIZATION_FORMAT_SKOPS,
    SERIALIZATION_FORMAT_PICKLE,
    SERIALIZATION_FORMAT_CLOUDPICKLE,
]


def get_default_pip_requirements(
    include_cloudpickle: bool = False, include_skops: bool = False
) -> list[str]:
    """MLflow's: the requirements Kiln writes for a model of this flavor, pinned to the
    installed versions."""
    packages = _packages("pickle")
    packages += ["cloudpickle"] * include_cloudpickle + ["skops"] * include_skops
    return default_requirements(packages)


def get_default_conda_env(
    include_cloudpickle: bool = False, include_skops: bool = False
) -> dict[str, Any]:
    """MLflow's: the ``conda.yaml`` Kiln writes for a model of this flavor."""
    return conda_env(get_default_pip_requirements(include_cloudpickle, include_skops))


__all__ = [
    "FLAVOR_NAME",
    "SERIALIZATION_FORMATS",
    "SklearnPredictor",
    "autolog",
    "dump_estimator",
    "load_model",
    "load_predictor",
    "log_model",
    "read_estimator",
    "save_model",
    "SERIALIZATION_FORMAT_CLOUDPICKLE",
    "SERIALIZATION_FORMAT_PICKLE",
    "SERIALIZATION_FORMAT_SKOPS",
    "SUPPORTED_SERIALIZATION_FORMATS",
    "get_default_conda_env",
    "get_default_pip_requirements",
]
