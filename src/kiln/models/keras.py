"""The Keras 3 flavor, in MLflow's layout (``data/model.keras`` + ``keras`` flavor).

``save_model`` writes the model in Keras 3's native ``.keras`` format under
``data/`` (with ``data/keras_module.txt``), the ``keras`` flavor
(``data``, ``keras_version``, ``keras_backend``, ``save_exported_model``) and the
``python_function`` flavor with ``loader_module: mlflow.keras``, exactly as
``mlflow.keras.save_model`` does, so both packages load the folder. Models MLflow
exported as a TensorFlow SavedModel (``save_exported_model: true``) load too.

Signatures are tensor-based, as MLflow requires for Keras: an input example (a
DataFrame is taken by its values, so columns may share a name, such as 13 columns
all called "features") gives a ``[-1, ...]`` tensor spec of its own dtype; Keras
casts to the model's dtype itself. Requires ``pip install 'kiln-mlops[keras]'``.
"""

from __future__ import annotations

import logging
import platform
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

import numpy as np
import pandas as pd

from kiln.errors import InvalidInput
from kiln.models.autolog.keras import autolog
from kiln.models.environment import ENV_CONF, conda_env, default_requirements
from kiln.models.loaders import require
from kiln.models.mlmodel import PYFUNC_FLAVOR, ModelInfo, ModelMetadata
from kiln.models.resolve import download_model
from kiln.models.saving import LogModelOptions, finish_folder, log_folder, prepare_folder
from kiln.models.signature import ModelSignature, TensorSpec, infer_signature

if TYPE_CHECKING:
    from kiln.models.autolog.keras_callback import MLflowCallback, MlflowCallback

FLAVOR_NAME = "keras"
LOADER_MODULE = "mlflow.keras"
EXTRA = "keras"
DATA_DIR = "data"
MODEL_NAME = "model"
KERAS_MODULE_FILE = "keras_module.txt"
# Up to this many rows the model is called directly: ``Model.predict`` builds a
# data pipeline per call (~20x slower for one row); past it, ``predict`` batches.
DIRECT_CALL_ROWS = 4096
PREDICT_BATCH_SIZE = 1024

_log = logging.getLogger(__name__)


def _keras() -> Any:
    return require("keras", EXTRA)


@contextmanager
def _quiet() -> Iterator[None]:
    """Keras/TensorFlow's own DeprecationWarnings (numpy 2's ``__array__`` copy keyword).

    They come from inside Keras on every save and numpy conversion, say nothing
    the caller can act on, and would fail programs that turn warnings into errors.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"keras(\.|$)")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"tensorflow(\.|$)")
        yield


def _packages(backend: str) -> list[str]:
    from importlib import metadata

    packages = ["keras"]
    if backend == "tensorflow":
        for name in ("tensorflow-cpu", "tensorflow"):
            try:
                metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
            packages.append(name)
            break
    elif backend in ("torch", "jax"):
        packages.append(backend)
    return [*packages, "numpy", "pandas"]


def _example_array(example: Any) -> Any:
    """The input example as the model sees it: a DataFrame by its values."""
    if isinstance(example, pd.DataFrame):
        return example.to_numpy()
    if isinstance(example, list):
        return np.asarray(example)
    return example


def _check_signature(signature: ModelSignature | None) -> None:
    """MLflow's rule for Keras: every input a tensor with a variable first dimension."""
    if signature is None or signature.inputs is None:
        return
    for spec in signature.inputs.inputs:
        if not isinstance(spec, TensorSpec):
            raise InvalidInput(
                "All fields in a Keras model's input schema must be tensors (TensorSpec); "
                "infer the signature from a numpy array, e.g. infer_signature(frame.to_numpy(), "
                "predictions)"
            )
        if not spec.shape or spec.shape[0] != -1:
            raise InvalidInput(
                "A Keras model's input tensors need -1 as their first dimension (the batch); "
                f"got shape {list(spec.shape)}"
            )


def _infer(example: Any, predictor: KerasPredictor) -> ModelSignature | None:
    """A tensor signature from the example and the model's prediction on it."""
    array = _example_array(example)
    try:
        return infer_signature(array, predictor.predict(array))
    except Exception as exc:
        _log.warning("could not infer a model signature from the input example: %s", exc)
        return None


def _export(model: Any, path: Path, signature: ModelSignature) -> None:
    """A SavedModel whose ``serve`` endpoint is ``model.call`` for the signature's inputs."""
    keras = _keras()
    tf = require("tensorflow", EXTRA)
    assert signature.inputs is not None
    specs = [
        tf.TensorSpec(shape=[None if d == -1 else d for d in spec.shape], dtype=spec.dtype)
        for spec in signature.inputs.inputs
        if isinstance(spec, TensorSpec)
    ]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serve", fn=model.call, input_signature=specs)
    archive.write_out(str(path), verbose=False)


def save_model(
    model: Any,
    path: str | Path,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    save_model_kwargs: Mapping[str, Any] | None = None,
    metadata: ModelMetadata | None = None,
    save_exported_model: bool = False,
) -> ModelMetadata:
    """Save a ``keras.Model`` into a new folder ``path`` (``data/model.keras``).

    With ``save_exported_model`` the model's ``call`` is exported as a TensorFlow
    SavedModel at ``data/model`` with a ``serve`` endpoint for the signature's
    inputs, as MLflow does (needs TensorFlow and a signature or input example).

    Raises:
        AlreadyExists: ``path`` exists and is not empty.
        InvalidInput: a signature whose inputs are not batch-first tensors, or an
            export without a signature.
    """
    keras = _keras()
    _check_signature(signature)
    if save_exported_model and signature is None and input_example is not None:
        signature = _infer(input_example, KerasPredictor(model, exported=False))
    if save_exported_model and signature is None:
        raise InvalidInput(
            "`signature` cannot be None when `save_exported_model=True` for "
            "`kiln.keras.save_model()`: pass a signature or an input example"
        )
    folder = prepare_folder(path)
    data = folder / DATA_DIR
    data.mkdir()
    (data / KERAS_MODULE_FILE).write_text("keras", encoding="utf-8")
    with _quiet():
        if save_exported_model:
            assert signature is not None
            _export(model, data / MODEL_NAME, signature)
        else:
            model.save(str(data / f"{MODEL_NAME}.keras"), **dict(save_model_kwargs or {}))
    backend = str(keras.backend.backend())
    base = (metadata or ModelMetadata()).add_flavor(
        FLAVOR_NAME,
        data=DATA_DIR,
        keras_backend=backend,
        keras_version=keras.__version__,
        save_exported_model=save_exported_model,
    )
    base = base.add_flavor(
        PYFUNC_FLAVOR,
        env=dict(ENV_CONF),
        loader_module=LOADER_MODULE,
        python_version=platform.python_version(),
    )
    if signature is None and input_example is not None:
        signature = _infer(input_example, KerasPredictor(model, exported=False))
    return finish_folder(
        folder,
        base,
        signature=signature,
        input_example=input_example,
        packages=_packages(backend),
        pip_requirements=pip_requirements,
    )


def log_model(
    model: Any,
    name: str = "model",
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    registered_model_name: str | None = None,
    save_model_kwargs: Mapping[str, Any] | None = None,
    save_exported_model: bool = False,
    **options: Unpack[LogModelOptions],
) -> ModelInfo:
    """Save the model as the active run's logged model ``name`` (``saving.log_folder``)."""

    def save(folder: Path, base: ModelMetadata) -> ModelMetadata:
        return save_model(
            model,
            folder,
            signature,
            input_example,
            pip_requirements,
            save_model_kwargs,
            metadata=base,
            save_exported_model=save_exported_model,
        )

    return log_folder(name, save, registered_model_name, **options)


def _load_from_folder(
    folder: Path, metadata: ModelMetadata, custom_objects: Mapping[str, Any] | None = None
) -> tuple[Any, bool]:
    """The model and whether it is an exported SavedModel (MLflow's ``_load_keras_model``)."""
    conf = metadata.flavors.get(FLAVOR_NAME)
    if conf is None:
        raise InvalidInput(f"the model at {folder} has no keras flavor")
    exported = bool(conf.get("save_exported_model"))
    model_path = folder / str(conf.get("data") or MODEL_NAME)
    if model_path.is_dir():
        model_path = model_path / MODEL_NAME
    if exported:
        tf = require("tensorflow", EXTRA)
        return tf.saved_model.load(str(model_path)), True
    keras = _keras()
    with _quiet():
        loaded = keras.saving.load_model(
            str(model_path.with_name(model_path.name + ".keras")),
            custom_objects=dict(custom_objects) if custom_objects else None,
        )
    return loaded, False


def load_model(
    model_uri: str | Path,
    dst_path: str | Path | None = None,
    custom_objects: Mapping[str, Any] | None = None,
) -> Any:
    """The ``keras.Model`` saved at ``model_uri`` (a SavedModel for exported ones).

    Raises:
        NotFound: nothing at the URI.
        InvalidInput: the model has no keras flavor.
    """
    folder = download_model(str(model_uri), dst_path)
    return _load_from_folder(folder, ModelMetadata.load(folder), custom_objects)[0]


class KerasPredictor:
    """MLflow's ``KerasModelWrapper``, answering numpy arrays.

    A DataFrame is passed by its values (so duplicate column names are fine); a
    numpy array, list or dict of arrays (a multi-input model) as it is. Small
    batches call the model directly, large ones go through ``Model.predict``.
    """

    def __init__(self, model: Any, exported: bool) -> None:
        self._model = model
        self._exported = exported

    @property
    def raw_model(self) -> Any:
        return self._model

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        if isinstance(data, pd.DataFrame):
            data = data.to_numpy()
        if not isinstance(data, np.ndarray | list | tuple | dict):
            raise InvalidInput(
                "A Keras model takes a DataFrame, a numpy array, a list or a dict of arrays, "
                f"not {type(data).__name__}"
            )
        keras = _keras()
        with _quiet():
            if self._exported:
                return keras.ops.convert_to_numpy(self._model.serve(data))
            rows = _rows(data)
            if rows is not None and rows <= DIRECT_CALL_ROWS:
                return keras.ops.convert_to_numpy(self._model(data, training=False))
            return self._model.predict(data, batch_size=PREDICT_BATCH_SIZE, verbose=0)


def _rows(data: Any) -> int | None:
    if isinstance(data, np.ndarray):
        return int(data.shape[0]) if data.ndim else None
    if isinstance(data, dict):
        first = next(iter(data.values()), None)
        return _rows(np.asarray(first)) if first is not None else None
    return None


def load_predictor(folder: Path, metadata: ModelMetadata) -> KerasPredictor:
    """The pyfunc loader for ``loader_module: mlflow.keras``."""
    model, exported = _load_from_folder(folder, metadata)
    return KerasPredictor(model, exported)


_CALLBACKS = ("MlflowCallback", "MLflowCallback")


def __getattr__(name: str) -> Any:
    """``MlflowCallback`` subclasses ``keras.callbacks.Callback``: Keras loads on first use."""
    if name in _CALLBACKS:
        _keras()
        from kiln.models.autolog import keras_callback

        return getattr(keras_callback, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_default_pip_requirements() -> list[str]:
    """MLflow's: the requirements Kiln writes for a Keras model saved now (Keras and the
    backend it runs on), pinned to the installed versions."""
    keras = require("keras", EXTRA)
    return default_requirements(_packages(str(keras.backend.backend())))


def get_default_conda_env() -> dict[str, Any]:
    """MLflow's: the ``conda.yaml`` Kiln writes for a Keras model saved now."""
    return conda_env(get_default_pip_requirements())


__all__ = [
    "FLAVOR_NAME",
    "KerasPredictor",
    "MLflowCallback",
    "MlflowCallback",
    "autolog",
    "load_model",
    "load_predictor",
    "log_model",
    "save_model",
    "get_default_conda_env",
    "get_default_pip_requirements",
]
