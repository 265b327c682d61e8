"""The PyTorch flavor, in MLflow's layout (``data/model.pth`` or ``data/model.pt2``).

Two serialization formats, as ``mlflow.pytorch.save_model`` writes them:

- ``pt2``: the graph ``torch.export`` traces from the input example (a numpy array
  or tensor), saved with ``torch.export.save``. No pickle; needs an example and
  gives a tensor signature. The batch dimension is dynamic when the example has
  more than one row (``torch.export`` fixes size-1 dimensions).
- ``pickle``: the module object, ``torch.save``d with cloudpickle
  (``data/pickle_module_info.txt`` names ``mlflow.pytorch.pickle_module``, which
  Kiln maps to ``kiln.models.torch_pickle``). Works for any module; the code of its
  classes must be importable where it loads (``code_paths``).

The default picks ``pt2`` when the input example is an array or tensor and
``pickle`` otherwise. The ``pytorch`` flavor has ``model_data``, ``pytorch_version``
and ``code``; the ``python_function`` flavor names ``loader_module: mlflow.pytorch``.
Requires ``pip install 'kiln-mlops[pytorch]'`` (the CPU build of torch).
"""

from __future__ import annotations

import importlib
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import pandas as pd

from kiln.errors import InvalidInput
from kiln.models.autolog.pytorch import autolog
from kiln.models.custom import add_code_to_path, copy_code_paths
from kiln.models.environment import ENV_CONF, conda_env, default_requirements
from kiln.models.loaders import require
from kiln.models.mlmodel import PYFUNC_FLAVOR, ModelInfo, ModelMetadata
from kiln.models.resolve import download_model
from kiln.models.saving import LogModelOptions, finish_folder, log_folder, prepare_folder
from kiln.models.signature import ModelSignature

FLAVOR_NAME = "pytorch"
LOADER_MODULE = "mlflow.pytorch"
EXTRA = "pytorch"
DATA_DIR = "data"
PICKLE_FILE = "model.pth"
EXPORTED_FILE = "model.pt2"
PICKLE_MODULE_FILE = "pickle_module_info.txt"
SERIALIZATION_FORMATS = ("pickle", "pt2")
# The pickle module name written into model folders, and the modules that may read them.
MLFLOW_PICKLE_MODULE = "mlflow.pytorch.pickle_module"
PICKLE_MODULES: dict[str, str] = {
    MLFLOW_PICKLE_MODULE: "kiln.models.torch_pickle",
    "kiln.models.torch_pickle": "kiln.models.torch_pickle",
    "cloudpickle": "kiln.models.torch_pickle",
    "pickle": "pickle",
}


def _torch() -> Any:
    return require("torch", EXTRA)


def _default_format(input_example: Any) -> str:
    torch = _torch()
    if isinstance(input_example, np.ndarray | torch.Tensor):
        return "pt2"
    return "pickle"


def _export(model: Any, example: Any, target: Path) -> None:
    """``torch.export`` the module on the example, batch dimension dynamic; save as pt2."""
    torch = _torch()
    tensor = torch.tensor(example) if isinstance(example, np.ndarray) else example
    weights = next((p for p in model.parameters() if p.is_floating_point()), None)
    if weights is not None and tensor.is_floating_point():
        tensor = tensor.to(weights.dtype)  # as PyTorchPredictor will cast its inputs
    dynamic = [{0: torch.export.Dim.AUTO}] if tensor.ndim else [None]
    model.eval()
    with torch.no_grad():
        program = torch.export.export(model, (tensor,), dynamic_shapes=dynamic)
    torch.export.save(program, str(target))


def save_model(
    pytorch_model: Any,
    path: str | Path,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    code_paths: Sequence[str | Path] | None = None,
    serialization_format: str | None = None,
    metadata: ModelMetadata | None = None,
) -> ModelMetadata:
    """Save a ``torch.nn.Module`` into a new folder ``path``.

    Raises:
        AlreadyExists: ``path`` exists and is not empty.
        InvalidInput: not a module, an unknown format, or ``pt2`` without an
            array or tensor input example.
    """
    torch = _torch()
    if not isinstance(pytorch_model, torch.nn.Module):
        raise InvalidInput(
            f"pytorch_model must be a torch.nn.Module, not {type(pytorch_model).__name__}"
        )
    serialization_format = serialization_format or _default_format(input_example)
    if serialization_format not in SERIALIZATION_FORMATS:
        raise InvalidInput(
            f"Unrecognized serialization format: {serialization_format}. "
            f"Use one of {list(SERIALIZATION_FORMATS)}."
        )
    if serialization_format == "pt2" and not isinstance(input_example, np.ndarray | torch.Tensor):
        raise InvalidInput(
            "serialization_format='pt2' traces the model on its input example: pass "
            "input_example as a numpy array or torch tensor, or use serialization_format='pickle'"
        )
    folder = prepare_folder(path)
    data = folder / DATA_DIR
    data.mkdir()
    if serialization_format == "pt2":
        _export(pytorch_model, input_example, data / EXPORTED_FILE)
    else:
        (data / PICKLE_MODULE_FILE).write_text(MLFLOW_PICKLE_MODULE, encoding="utf-8")
        torch.save(
            pytorch_model,
            str(data / PICKLE_FILE),
            pickle_module=importlib.import_module(PICKLE_MODULES[MLFLOW_PICKLE_MODULE]),
        )
    code = copy_code_paths(folder, code_paths)
    base = (metadata or ModelMetadata()).add_flavor(
        FLAVOR_NAME,
        code=code,
        model_data=DATA_DIR,
        pytorch_version=str(torch.__version__),
    )
    base = base.add_flavor(
        PYFUNC_FLAVOR,
        code=code,
        data=DATA_DIR,
        env=dict(ENV_CONF),
        loader_module=LOADER_MODULE,
        model_config={"device": None},
        pickle_module_name=MLFLOW_PICKLE_MODULE,
        python_version=platform.python_version(),
    )
    example = input_example.numpy() if isinstance(input_example, torch.Tensor) else input_example
    return finish_folder(
        folder,
        base,
        signature=signature,
        input_example=example,
        packages=["torch", "cloudpickle", "numpy", "pandas"],
        pip_requirements=pip_requirements,
        predict=PyTorchPredictor(pytorch_model, "cpu").predict,
    )


def log_model(
    pytorch_model: Any,
    name: str = "model",
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements: Sequence[str] | None = None,
    code_paths: Sequence[str | Path] | None = None,
    serialization_format: str | None = None,
    registered_model_name: str | None = None,
    **options: Unpack[LogModelOptions],
) -> ModelInfo:
    """Save the module as the active run's logged model ``name`` (``saving.log_folder``)."""

    def save(folder: Path, base: ModelMetadata) -> ModelMetadata:
        return save_model(
            pytorch_model,
            folder,
            signature,
            input_example,
            pip_requirements,
            code_paths,
            serialization_format,
            metadata=base,
        )

    return log_folder(name, save, registered_model_name, **options)


def _pickle_module(data: Path) -> Any:
    info = data / PICKLE_MODULE_FILE
    name = info.read_text(encoding="utf-8").strip() if info.is_file() else MLFLOW_PICKLE_MODULE
    target = PICKLE_MODULES.get(name)
    if target is None:
        raise InvalidInput(
            f"the model was pickled with {name!r}, which Kiln does not load; it loads "
            f"{', '.join(sorted(PICKLE_MODULES))}"
        )
    return importlib.import_module(target)


def _load_module(data: Path, device: str | None) -> Any:
    """MLflow's ``_load_model``: a pt2 program's module, or the unpickled module in eval mode."""
    torch = _torch()
    if data.is_dir() and not (data / PICKLE_FILE).exists():
        return torch.export.load(str(data / EXPORTED_FILE)).module()
    if data.is_dir():
        model = torch.load(
            str(data / PICKLE_FILE),
            pickle_module=_pickle_module(data),
            weights_only=False,
            map_location=device,
        )
    else:
        model = torch.load(str(data), weights_only=False, map_location=device)
    model.eval()
    return model


def _load_from_folder(folder: Path, metadata: ModelMetadata, device: str | None) -> Any:
    conf = metadata.flavors.get(FLAVOR_NAME)
    if conf is None:
        raise InvalidInput(f"the model at {folder} has no pytorch flavor")
    add_code_to_path(folder, conf)
    return _load_module(folder / str(conf.get("model_data") or DATA_DIR), device)


def load_model(model_uri: str | Path, dst_path: str | Path | None = None) -> Any:
    """The ``torch.nn.Module`` saved at ``model_uri`` (on the CPU, in eval mode).

    Raises:
        NotFound: nothing at the URI.
        InvalidInput: the model has no pytorch flavor.
    """
    folder = download_model(str(model_uri), dst_path)
    return _load_from_folder(folder, ModelMetadata.load(folder), "cpu")


class PyTorchPredictor:
    """MLflow's ``_PyTorchWrapper``: inputs become tensors, outputs numpy arrays.

    A DataFrame becomes one float32 tensor; floating numpy arrays are cast to the
    model's floating dtype (float32 by default), other arrays keep theirs; a dict
    of arrays (named tensor inputs, e.g. several V2 tensors) is passed as keyword
    arguments. The model runs in eval mode under ``torch.no_grad()``. A tensor
    output comes back as a numpy array (a DataFrame for DataFrame input, as
    MLflow does); a dict of tensors as a dict of arrays.
    """

    def __init__(self, model: Any, device: str) -> None:
        torch = _torch()
        self._model = model
        self._device = device
        self._dtype = torch.float32
        for parameter in model.parameters():
            if parameter.is_floating_point():
                self._dtype = parameter.dtype
                break

    @property
    def raw_model(self) -> Any:
        return self._model

    def _tensor(self, value: Any) -> Any:
        torch = _torch()
        if isinstance(value, torch.Tensor):
            tensor = value
        else:
            array = np.asarray(value)
            if array.dtype.kind not in "biuf":
                raise InvalidInput(
                    f"a PyTorch model takes numeric tensors, not values of dtype {array.dtype}"
                )
            if not array.flags.writeable or not array.flags.c_contiguous:
                array = np.array(array)  # torch warns on read-only arrays (pandas' to_numpy)
            tensor = torch.from_numpy(array)
        if tensor.is_floating_point() and tensor.dtype != self._dtype:
            tensor = tensor.to(self._dtype)
        return tensor.to(self._device)

    def predict(self, data: Any, params: Mapping[str, Any] | None = None) -> Any:
        torch = _torch()
        if params and "device" in params:
            raise InvalidInput(
                "'device' is not an inference parameter: the model's device is chosen at load time"
            )
        kwargs = dict(params or {})
        with torch.no_grad():
            if isinstance(data, pd.DataFrame):
                tensor = self._tensor(data.to_numpy(dtype=np.float32))
                out = self._model(tensor, **kwargs)
                return pd.DataFrame(_numpy(out), index=data.index)
            if isinstance(data, Mapping):
                inputs = {str(k): self._tensor(v) for k, v in data.items()}
                return _numpy(self._model(**inputs, **kwargs))
            if isinstance(data, np.ndarray | torch.Tensor):
                return _numpy(self._model(self._tensor(data), **kwargs))
        raise InvalidInput(
            "A PyTorch model takes a DataFrame, a numpy array or a dict of arrays, "
            f"not {type(data).__name__}"
        )


def _numpy(out: Any) -> Any:
    torch = _torch()
    if isinstance(out, torch.Tensor):
        return out.detach().cpu().numpy()
    if isinstance(out, Mapping) and all(isinstance(v, torch.Tensor) for v in out.values()):
        return {str(k): v.detach().cpu().numpy() for k, v in out.items()}
    raise InvalidInput(
        f"the PyTorch model returned {type(out).__name__}; pyfunc needs a tensor or a dict "
        "of tensors"
    )


def _device(metadata: ModelMetadata) -> str:
    """MLflow's choice: the ``model_config`` device, else CUDA when present, else the CPU."""
    conf = metadata.pyfunc_conf or {}
    config = conf.get("model_config") or {}
    device = config.get("device") if isinstance(config, Mapping) else None
    if device:
        return str(device)
    return "cuda" if _torch().cuda.is_available() else "cpu"


def load_predictor(folder: Path, metadata: ModelMetadata) -> PyTorchPredictor:
    """The pyfunc loader for ``loader_module: mlflow.pytorch``."""
    model = _load_from_folder(folder, metadata, _device(metadata))
    # an exported (pt2) program keeps the device its weights were traced on
    first = next(iter(model.parameters()), None)
    return PyTorchPredictor(model, str(first.device) if first is not None else "cpu")


def load_checkpoint(
    model_class: Any,
    run_id: str | None = None,
    epoch: int | None = None,
    global_step: int | None = None,
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """A ``LightningModule`` of ``model_class`` from a checkpoint autolog logged to the run
    (the latest, or the one at ``epoch`` or ``global_step``), as MLflow's."""
    from kiln.models.autolog.pytorch_checkpoint import load_checkpoint as load

    return load(model_class, run_id, epoch, global_step, kwargs)


def __getattr__(name: str) -> Any:
    """``MlflowModelCheckpointCallback``, built on first use (it imports Lightning)."""
    if name == "MlflowModelCheckpointCallback":
        from kiln.models.autolog.pytorch_checkpoint import user_callback_class

        return user_callback_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_default_pip_requirements() -> list[str]:
    """MLflow's: the requirements Kiln writes for a model of this flavor, pinned to the
    installed versions."""
    return default_requirements(["torch", "cloudpickle", "numpy", "pandas"])


def get_default_conda_env() -> dict[str, Any]:
    """MLflow's: the ``conda.yaml`` Kiln writes for a model of this flavor."""
    return conda_env(get_default_pip_requirements())


__all__ = [
    "FLAVOR_NAME",
    "PyTorchPredictor",
    "SERIALIZATION_FORMATS",
    "autolog",
    "load_checkpoint",
    "load_model",
    "load_predictor",
    "log_model",
    "save_model",
    "get_default_conda_env",
    "get_default_pip_requirements",
]
