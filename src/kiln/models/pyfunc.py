"""The generic model interface: load any model folder and call ``predict``.

``load_model(uri)`` reads ``MLmodel``, picks the loader its ``python_function``
flavor names (``kiln.models.loaders.PYFUNC_LOADERS``: MLflow's
``loader_module`` names map to Kiln's own loaders, so ``mlflow`` is never
imported) and returns a ``PyFuncModel``. Its ``predict`` enforces the signature
(``ModelSignature.enforce``) before the model sees the data.

``save_model`` / ``log_model`` write a custom ``PythonModel`` the way
``mlflow.pyfunc.save_model`` does (``loader_module: mlflow.pyfunc.model``,
``python_model.pkl``), so ``mlflow.pyfunc.load_model`` loads it too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Unpack

from kiln.errors import InvalidInput
from kiln.models.custom import save_python_model
from kiln.models.environment import conda_env, default_requirements
from kiln.models.example import load_example
from kiln.models.loaders import Predictor, load_predictor
from kiln.models.mlmodel import ModelInfo, ModelMetadata
from kiln.models.python_model import PythonModel, PythonModelContext
from kiln.models.resolve import download_model
from kiln.models.saving import LogModelOptions, finish_folder, log_folder, prepare_folder
from kiln.models.signature import ModelSignature

PYFUNC_PACKAGES = ("cloudpickle", "numpy", "pandas")


class PyFuncModel:
    """A loaded model: its ``MLmodel`` metadata and a signature-checked ``predict``.

    Attributes:
        metadata: the parsed ``MLmodel`` (flavors, signature, input example info, run_id).
        path: the local folder the model was loaded from.
    """

    def __init__(self, metadata: ModelMetadata, predictor: Predictor, path: Path) -> None:
        self.metadata = metadata
        self.path = path
        self._predictor = predictor

    @property
    def signature(self) -> ModelSignature | None:
        return self.metadata.signature

    @property
    def loader_module(self) -> str | None:
        conf = self.metadata.pyfunc_conf or {}
        value = conf.get("loader_module")
        return str(value) if value is not None else None

    @property
    def input_example(self) -> Any:
        """The saved input example (DataFrame or array), or None."""
        return load_example(self.path, self.metadata.saved_input_example_info)

    def unwrap_python_model(self) -> Any:
        """The underlying model object (estimator, booster, PythonModel, session)."""
        return self._predictor.raw_model

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        """Check ``data`` against the signature, then predict.

        Args:
            data: a DataFrame, numpy array, dict of columns, or list of rows.
            params: inference params; defaults from the signature fill the gaps.

        Raises:
            InvalidInput: the data does not fit the model's input schema.
        """
        signature = self.metadata.signature
        if signature is not None:
            data = signature.enforce(data)
            params = signature.enforce_params(params)
        return self._predictor.predict(data, params)

    def array_predictor(self) -> tuple[tuple[str, ...], Any, Callable[[Any], Any]] | None:
        """``(names, dtype, predict_array)`` when ``predict`` has a pure-array equivalent.

        ``predict_array(array)`` returns exactly what ``predict(frame)`` returns for
        a frame whose columns are ``names`` (in order) over a 2-D ``dtype`` array:
        the signature is a block of one float type (``Schema.float_block``), so
        enforcement passes such a frame through, and the predictor predicts from
        its array (``SklearnPredictor.array_predict``). Callers (the scoring server)
        use it to skip building the frame. None for any other model.
        """
        signature = self.metadata.signature
        block = signature.inputs.float_block() if signature and signature.inputs else None
        offer = getattr(self._predictor, "array_predict", None)
        if block is None or offer is None:
            return None
        predict_array = offer(block[0])
        return (block[0], block[1], predict_array) if predict_array is not None else None

    def __repr__(self) -> str:
        return f"PyFuncModel(loader_module={self.loader_module!r}, path={str(self.path)!r})"


def load_model(
    model_uri: str | Path, dst_path: str | Path | None = None, tracking_uri: str | None = None
) -> PyFuncModel:
    """Load a model folder from any model URI (see ``kiln.models.resolve``).

    Raises:
        NotFound: nothing at the URI, or no ``MLmodel`` there.
        InvalidInput: no python_function flavor, or a loader Kiln does not have.
    """
    folder = download_model(str(model_uri), dst_path, tracking_uri)
    metadata = ModelMetadata.load(folder)
    return PyFuncModel(metadata, load_predictor(folder, metadata), folder)


def save_model(
    path: str | Path,
    python_model: PythonModel | None = None,
    artifacts: Mapping[str, str] | None = None,
    code_paths: Sequence[str | Path] | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    metadata: ModelMetadata | None = None,
) -> ModelMetadata:
    """Save a custom ``PythonModel`` into a new folder ``path``.

    Returns:
        The metadata written to ``MLmodel``.

    Raises:
        AlreadyExists: ``path`` exists and is not empty.
        InvalidInput: no ``python_model``, or an artifact that does not exist.
    """
    if python_model is None:
        raise InvalidInput("save_model needs a python_model (a kiln.pyfunc.PythonModel)")
    folder = prepare_folder(path)
    base = metadata or ModelMetadata()
    base = save_python_model(folder, base, python_model, artifacts, code_paths)
    predict = None
    if signature is None and input_example is not None:
        predict = _example_predict(folder, base)
    return finish_folder(
        folder,
        base,
        signature=signature,
        input_example=input_example,
        packages=PYFUNC_PACKAGES,
        pip_requirements=pip_requirements,
        predict=predict,
    )


def _example_predict(folder: Path, metadata: ModelMetadata) -> Any:
    """Predict on the input example with the saved model, to infer a signature."""

    def predict(example: Any) -> Any:
        return load_predictor(folder, metadata).predict(example)

    return predict


def log_model(
    name: str = "model",
    python_model: PythonModel | None = None,
    artifacts: Mapping[str, str] | None = None,
    code_paths: Sequence[str | Path] | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    registered_model_name: str | None = None,
    **options: Unpack[LogModelOptions],
) -> ModelInfo:
    """Save a custom ``PythonModel`` as the active run's logged model ``name``.

    With ``registered_model_name`` it is also registered as a new version.
    """

    def save(folder: Path, base: ModelMetadata) -> ModelMetadata:
        return save_model(
            folder,
            python_model,
            artifacts,
            code_paths,
            signature,
            input_example,
            pip_requirements,
            metadata=base,
        )

    return log_folder(name, save, registered_model_name, **options)


# MLflow's names for the python_function flavor and its MLmodel keys.
FLAVOR_NAME = "python_function"
MAIN = "loader_module"
CODE = "code"
DATA = "data"
ENV = "env"
PY_VERSION = "python_version"
load_pyfunc = load_model  # MLflow's deprecated alias


def get_default_pip_requirements() -> list[str]:
    """MLflow's: the requirements Kiln writes for a model of this flavor, pinned to the
    installed versions."""
    return default_requirements(PYFUNC_PACKAGES)


def get_default_conda_env() -> dict[str, Any]:
    """MLflow's: the ``conda.yaml`` Kiln writes for a model of this flavor."""
    return conda_env(get_default_pip_requirements())


__all__ = [
    "CODE",
    "DATA",
    "ENV",
    "FLAVOR_NAME",
    "MAIN",
    "PY_VERSION",
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "load_model",
    "load_pyfunc",
    "log_model",
    "save_model",
    "get_default_conda_env",
    "get_default_pip_requirements",
]
