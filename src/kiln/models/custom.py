"""Custom Python models (``loader_module: mlflow.pyfunc.model``), saved like MLflow.

The model object is written with cloudpickle to ``python_model.pkl``; artifacts
(any URI ``kiln.artifacts.download_artifacts`` reads) are downloaded under
``artifacts/`` and listed in the flavor as
``{name: {path: artifacts/<file>, uri: <original>}}``; code paths go under
``code/``. ``kiln.models.python_model`` (the base class) is pickled by value, so
the file loads in MLflow without Kiln installed.
"""

from __future__ import annotations

import inspect
import platform
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kiln.errors import InvalidInput
from kiln.models import python_model as python_model_module
from kiln.models.environment import ENV_CONF
from kiln.models.mlmodel import PYFUNC_FLAVOR, ModelMetadata
from kiln.models.python_model import PythonModel, PythonModelContext

PYTHON_MODEL_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"
CODE_DIR = "code"
LOADER_MODULE = "mlflow.pyfunc.model"


def copy_code_paths(folder: Path, code_paths: Sequence[str | Path] | None) -> str | None:
    """Copy ``code_paths`` under ``code/``; return the flavor's ``code`` entry."""
    if not code_paths:
        return None
    target = folder / CODE_DIR
    target.mkdir()
    for item in code_paths:
        source = Path(item)
        if source.is_dir():
            shutil.copytree(source, target / source.name)
        elif source.is_file():
            shutil.copy2(source, target / source.name)
        else:
            raise InvalidInput(f"code path {str(item)!r} does not exist")
    return CODE_DIR


def add_code_to_path(folder: Path, conf: Mapping[str, Any]) -> None:
    """Put a model's saved code first on ``sys.path`` (as MLflow's loader does)."""
    code = conf.get("code")
    if code:
        code_dir = str(folder / str(code))
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)


def save_artifacts(folder: Path, artifacts: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Download each artifact URI (a path, ``file://``, ``runs:/``, ``models:/``, ``s3://``,
    ``http(s)://``, ...) under ``artifacts/`` as MLflow does; return the flavor's entries.

    A URI named twice is fetched once; two downloads with the same file name each go
    under a numbered folder (``artifacts/0/...``, ``artifacts/1/...``), as in MLflow.

    Raises:
        InvalidInput: an artifact that cannot be fetched (the message names it).
    """
    from kiln.artifacts import download_artifacts
    from kiln.errors import KilnError

    staging = folder / ".kiln-artifacts"
    fetched: dict[str, Path] = {}  # uri -> where it was downloaded
    try:
        for name, uri in artifacts.items():
            if uri in fetched:
                continue
            target = staging / str(len(fetched))
            try:
                fetched[uri] = Path(download_artifacts(artifact_uri=uri, dst_path=str(target)))
            except KilnError as exc:
                raise InvalidInput(f"artifact {name!r}: cannot fetch {uri!r}: {exc}") from exc
        names = [path.name for path in fetched.values()]
        occupied = {name for name in names if names.count(name) == 1}
        namespace = 0
        places: dict[str, str] = {}
        for uri, path in fetched.items():
            relative = path.name
            if names.count(path.name) > 1:
                while str(namespace) in occupied:
                    namespace += 1
                relative = f"{namespace}/{path.name}"
                namespace += 1
            (folder / ARTIFACTS_DIR / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), folder / ARTIFACTS_DIR / relative)
            places[uri] = f"{ARTIFACTS_DIR}/{relative}"
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {name: {"path": places[uri], "uri": uri} for name, uri in artifacts.items()}


def save_python_model(
    folder: Path,
    metadata: ModelMetadata,
    python_model: PythonModel,
    artifacts: Mapping[str, str] | None,
    code_paths: Sequence[str | Path] | None,
) -> ModelMetadata:
    """Write ``python_model.pkl``, artifacts and code; return metadata with the flavor."""
    import cloudpickle

    if not callable(getattr(python_model, "predict", None)):
        raise InvalidInput("python_model must have a predict(context, model_input) method")
    saved = save_artifacts(folder, artifacts) if artifacts else {}
    code = copy_code_paths(folder, code_paths)
    cloudpickle.register_pickle_by_value(python_model_module)
    try:
        with (folder / PYTHON_MODEL_FILE).open("wb") as stream:
            cloudpickle.dump(python_model, stream)
    finally:
        cloudpickle.unregister_pickle_by_value(python_model_module)
    conf: dict[str, Any] = {
        "cloudpickle_version": cloudpickle.__version__,
        "code": code,
        "env": dict(ENV_CONF),
        "loader_module": LOADER_MODULE,
        "python_model": PYTHON_MODEL_FILE,
        "python_version": platform.python_version(),
        "streamable": False,
    }
    if saved:
        conf["artifacts"] = saved
    return metadata.add_flavor(PYFUNC_FLAVOR, **conf)


class PythonModelPredictor:
    """A loaded ``PythonModel`` with its context."""

    def __init__(self, model: Any, context: PythonModelContext) -> None:
        self._model = model
        self._context = context
        parameters = inspect.signature(model.predict).parameters
        self._takes_params = "params" in parameters
        positional = [name for name in parameters if name != "params"]
        self._takes_context = "context" in parameters or len(positional) >= 2

    @property
    def raw_model(self) -> Any:
        return self._model

    @property
    def context(self) -> PythonModelContext:
        return self._context

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        kwargs: dict[str, Any] = {"params": dict(params or {})} if self._takes_params else {}
        if self._takes_context:
            return self._model.predict(self._context, data, **kwargs)
        return self._model.predict(data, **kwargs)


def load_predictor(folder: Path, metadata: ModelMetadata) -> PythonModelPredictor:
    """Unpickle ``python_model.pkl`` and run its ``load_context``.

    Raises:
        InvalidInput: the flavor has no ``python_model`` entry (models-from-code
            are not supported yet).
    """
    import cloudpickle

    conf = metadata.pyfunc_conf or {}
    relative = conf.get("python_model")
    if relative is None:
        raise InvalidInput(
            f"the model at {folder} has no python_model file (models from code are not supported)"
        )
    add_code_to_path(folder, conf)
    with (folder / str(relative)).open("rb") as stream:
        model = cloudpickle.load(stream)
    artifacts = {
        name: str(folder / str(info["path"]))
        for name, info in (conf.get("artifacts") or {}).items()
    }
    context = PythonModelContext(artifacts=artifacts, model_config=dict(conf.get("config") or {}))
    if hasattr(model, "load_context"):
        model.load_context(context)
    return PythonModelPredictor(model, context)


__all__ = [
    "LOADER_MODULE",
    "PYTHON_MODEL_FILE",
    "PythonModelPredictor",
    "add_code_to_path",
    "copy_code_paths",
    "load_predictor",
    "save_python_model",
]
