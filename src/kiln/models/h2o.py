"""The H2O flavor, in MLflow's layout (``model.h2o/`` + ``h2o`` flavor).

``save_model`` downloads the model's binary form from the cluster into
``model.h2o/`` (``h2o.download_model``, i.e. ``h2o.save_model`` done from the
client side; open-source H2O cannot export every model as a MOJO) and writes
``model.h2o/h2o.yaml`` naming the file (``model_file``), the ``h2o`` flavor
(``h2o_version``, ``data``, ``code``) and the ``python_function`` flavor with
``loader_module: mlflow.h2o``, as ``mlflow.h2o.save_model`` does. Loading uploads
the file to a cluster (``kiln.models.h2o_cluster``: started on first use, once
per process). Predictions are a DataFrame (``predict``, plus class
probabilities for classifiers). Requires ``pip install 'kiln-mlops[h2o]'`` and Java.
"""

from __future__ import annotations

import platform
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Unpack

import yaml

from kiln.errors import InvalidInput
from kiln.models import h2o_cluster
from kiln.models.custom import add_code_to_path, copy_code_paths
from kiln.models.environment import ENV_CONF, conda_env, default_requirements
from kiln.models.mlmodel import PYFUNC_FLAVOR, ModelInfo, ModelMetadata
from kiln.models.resolve import download_model
from kiln.models.saving import LogModelOptions, finish_folder, log_folder, prepare_folder
from kiln.models.signature import ModelSignature, to_frame

FLAVOR_NAME = "h2o"
LOADER_MODULE = "mlflow.h2o"
DATA_DIR = "model.h2o"
SETTINGS_FILE = "h2o.yaml"
# the model's training column types -> the H2OFrame column types that keep them
_H2O_TYPES = {"Numeric": "numeric", "Enum": "enum", "String": "string", "Time": "time"}


@contextmanager
def _quiet() -> Iterator[None]:
    """h2o warns on every frame conversion that polars/pyarrow would be faster."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Converting H2O frame to pandas")
        yield


def save_model(
    h2o_model: Any,
    path: str | Path,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    code_paths: Sequence[str | Path] | None = None,
    settings: Mapping[str, Any] | None = None,
    metadata: ModelMetadata | None = None,
) -> ModelMetadata:
    """Save a trained H2O model into a new folder ``path``.

    Args:
        settings: extra entries for ``h2o.yaml``; an ``init`` mapping is passed to
            ``h2o.init`` when the model is loaded in a process without a cluster.

    Raises:
        AlreadyExists: ``path`` exists and is not empty.
    """
    h2o = h2o_cluster.ensure()
    folder = prepare_folder(path)
    data = folder / DATA_DIR
    data.mkdir()
    saved = Path(h2o.download_model(model=h2o_model, path=str(data)))
    conf = dict(settings or {})
    conf.update(full_file=str(saved), model_file=saved.name, model_dir=str(data))
    (data / SETTINGS_FILE).write_text(yaml.safe_dump(conf), encoding="utf-8")
    code = copy_code_paths(folder, code_paths)
    base = (metadata or ModelMetadata()).add_flavor(
        PYFUNC_FLAVOR,
        code=code,
        data=DATA_DIR,
        env=dict(ENV_CONF),
        loader_module=LOADER_MODULE,
        python_version=platform.python_version(),
    )
    base = base.add_flavor(FLAVOR_NAME, code=code, data=DATA_DIR, h2o_version=h2o.__version__)
    return finish_folder(
        folder,
        base,
        signature=signature,
        input_example=input_example,
        packages=["h2o", "numpy", "pandas"],
        pip_requirements=pip_requirements,
        predict=H2OPredictor(h2o_model).predict,
    )


def log_model(
    h2o_model: Any,
    name: str = "model",
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    code_paths: Sequence[str | Path] | None = None,
    registered_model_name: str | None = None,
    settings: Mapping[str, Any] | None = None,
    **options: Unpack[LogModelOptions],
) -> ModelInfo:
    """Save the model as the active run's logged model ``name`` (``saving.log_folder``)."""

    def save(folder: Path, base: ModelMetadata) -> ModelMetadata:
        return save_model(
            h2o_model,
            folder,
            signature,
            input_example,
            pip_requirements,
            code_paths,
            settings,
            metadata=base,
        )

    return log_folder(name, save, registered_model_name, **options)


def _load_from_folder(folder: Path, metadata: ModelMetadata) -> Any:
    conf = metadata.flavors.get(FLAVOR_NAME)
    if conf is None:
        raise InvalidInput(f"the model at {folder} has no h2o flavor")
    add_code_to_path(folder, conf)
    data = folder / str(conf.get("data") or DATA_DIR)
    settings_file = data / SETTINGS_FILE
    if not settings_file.is_file():
        raise InvalidInput(f"the H2O model at {folder} has no {DATA_DIR}/{SETTINGS_FILE}")
    settings = yaml.safe_load(settings_file.read_text(encoding="utf-8")) or {}
    model_file = settings.get("model_file")
    if not model_file:
        raise InvalidInput(f"{settings_file} names no model_file")
    h2o = h2o_cluster.ensure(settings.get("init"))
    return h2o.upload_model(str(data / str(model_file)))


def load_model(model_uri: str | Path, dst_path: str | Path | None = None) -> Any:
    """The H2O model saved at ``model_uri``, uploaded to this process's cluster.

    Raises:
        NotFound: nothing at the URI.
        InvalidInput: the model has no h2o flavor or no ``h2o.yaml``.
    """
    folder = download_model(str(model_uri), dst_path)
    return _load_from_folder(folder, ModelMetadata.load(folder))


class H2OPredictor:
    """MLflow's ``_H2OModelWrapper``: a frame in, the model's prediction frame out.

    Inputs go to the cluster as an ``H2OFrame`` (columns the model was trained
    on keep its column types); the answer comes back as a pandas DataFrame with
    the input's index.
    """

    def __init__(self, model: Any) -> None:
        self._model = model
        output = getattr(model, "_model_json", None) or {}
        names = (output.get("output") or {}).get("names") or []
        types = (output.get("output") or {}).get("column_types") or []
        self._types = dict(zip(names, types, strict=False))

    @property
    def raw_model(self) -> Any:
        return self._model

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        h2o = h2o_cluster.ensure()
        frame = to_frame(data)
        if not frame.columns.is_unique:
            raise InvalidInput("H2O models need unique column names")
        frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
        types = {c: _H2O_TYPES[t] for c in frame.columns if (t := self._types.get(c)) in _H2O_TYPES}
        with _quiet():
            h2o_frame = h2o.H2OFrame(frame, column_types=types or None)
            predicted = self._model.predict(h2o_frame).as_data_frame()
        predicted.index = frame.index
        return predicted


def load_predictor(folder: Path, metadata: ModelMetadata) -> H2OPredictor:
    """The pyfunc loader for ``loader_module: mlflow.h2o``."""
    return H2OPredictor(_load_from_folder(folder, metadata))


def get_default_pip_requirements() -> list[str]:
    """MLflow's: the requirements Kiln writes for a model of this flavor, pinned to the
    installed versions."""
    return default_requirements(["h2o", "numpy", "pandas"])


def get_default_conda_env() -> dict[str, Any]:
    """MLflow's: the ``conda.yaml`` Kiln writes for a model of this flavor."""
    return conda_env(get_default_pip_requirements())


__all__ = [
    "FLAVOR_NAME",
    "H2OPredictor",
    "load_model",
    "load_predictor",
    "log_model",
    "save_model",
    "get_default_conda_env",
    "get_default_pip_requirements",
]
