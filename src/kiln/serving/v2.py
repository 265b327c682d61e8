"""The Open Inference Protocol (KServe V2) REST payloads: metadata, infer requests, answers.

Pure functions between JSON objects and model input/output; ``kiln.serving.app``
wires them to routes. Tensors are ``{"name", "shape", "datatype", "data"}`` with
``data`` flat (row-major) or nested; datatypes are the protocol's names (BOOL,
UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES).

Inputs become a DataFrame for column signatures: several 1-D (or ``[n, 1]``)
inputs are columns named by the input names, one 2-D input ``[n, k]`` is k columns
named in signature order. Tensor signatures get arrays (a dict when several).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kiln.errors import BadInput
from kiln.serving.model import NUMPY_TO_V2, ModelInterface

V2_TO_NUMPY: dict[str, str] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}
_RESERVED_PARAMETERS = frozenset({"content_type", "headers", "binary_data_output"})


@dataclass(frozen=True, slots=True)
class InferRequest:
    """A parsed infer request: model input, params, the id to echo, outputs asked for."""

    data: Any
    params: dict[str, Any] | None
    request_id: str | None
    outputs: tuple[str, ...]
    rows: int


def server_metadata(version: str) -> dict[str, Any]:
    """``GET /v2``."""
    return {"name": "kiln", "version": version, "extensions": []}


def _tensor_meta(name: str | None, datatype: str, shape: tuple[int, ...]) -> dict[str, Any]:
    return {"name": name or "input-0", "datatype": datatype, "shape": list(shape)}


def model_metadata(interface: ModelInterface, name: str, version: str | None) -> dict[str, Any]:
    """``GET /v2/models/{name}[/versions/{version}]``: inputs/outputs from the signature."""
    body: dict[str, Any] = {"name": name}
    if version is not None:
        body["versions"] = [version]
    body["platform"] = "kiln-pyfunc"
    body["inputs"] = [
        _tensor_meta(c.name or f"input-{i}", c.datatype, c.shape)
        for i, c in enumerate(interface.inputs)
    ]
    body["outputs"] = [
        _tensor_meta(c.name or ("predictions" if i == 0 else f"output-{i}"), c.datatype, c.shape)
        for i, c in enumerate(interface.outputs)
    ]
    return body


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadInput(f"'{where}' must be a non-empty string")
    return value


def _tensor(spec: Any, index: int) -> tuple[str, np.ndarray]:
    where = f"inputs[{index}]"
    if not isinstance(spec, Mapping):
        raise BadInput(f"'{where}' must be an object with name, shape, datatype and data")
    name = _str(spec.get("name"), f"{where}.name")
    where = f"input '{name}'"
    datatype = spec.get("datatype")
    if datatype not in V2_TO_NUMPY:
        raise BadInput(
            f"{where}: unsupported datatype {datatype!r}; use one of {', '.join(V2_TO_NUMPY)}"
        )
    shape = spec.get("shape")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise BadInput(f"{where}: 'shape' must be a list of non-negative integers, got {shape!r}")
    if "data" not in spec:
        raise BadInput(f"{where}: 'data' is missing")
    data = spec["data"]
    dtype = V2_TO_NUMPY[datatype]
    try:
        if dtype == "object":
            array = np.asarray(data, dtype=object)
            if array.ndim > 1 or not isinstance(data, list):
                array = np.array(array.ravel().tolist(), dtype=object)
        else:
            array = np.asarray(data, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as error:
        raise BadInput(f"{where}: data is not {datatype}: {error}") from None
    expected = math.prod(shape)
    if array.size != expected:
        raise BadInput(f"{where}: shape {shape} needs {expected} values, 'data' has {array.size}")
    return name, array.reshape(shape)


def parse_infer(payload: Any, interface: ModelInterface) -> InferRequest:
    """Read a ``POST .../infer`` body.

    Raises:
        BadInput: a missing or malformed field, a shape that does not match its
            data, an unknown datatype, or inputs that do not fit the signature.
    """
    if not isinstance(payload, Mapping):
        raise BadInput("The infer request must be a JSON object with an 'inputs' list")
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadInput("'id' must be a string")
    specs = payload.get("inputs")
    if not isinstance(specs, list) or not specs:
        raise BadInput("'inputs' must be a non-empty list of tensors")
    tensors = dict(_tensor(spec, i) for i, spec in enumerate(specs))
    if len(tensors) != len(specs):
        raise BadInput("'inputs' names the same input twice")
    parameters = payload.get("parameters")
    if parameters is not None and not isinstance(parameters, Mapping):
        raise BadInput("'parameters' must be an object")
    params = {k: v for k, v in (parameters or {}).items() if k not in _RESERVED_PARAMETERS}
    outputs: tuple[str, ...] = ()
    wanted = payload.get("outputs")
    if wanted is not None:
        if not isinstance(wanted, list):
            raise BadInput("'outputs' must be a list of objects with a name")
        outputs = tuple(
            _str(o.get("name") if isinstance(o, Mapping) else None, f"outputs[{i}].name")
            for i, o in enumerate(wanted)
        )
    data = _model_input(tensors, interface)
    rows = len(data) if hasattr(data, "__len__") and not isinstance(data, dict) else 1
    if isinstance(data, dict):
        rows = next(iter(data.values())).shape[0] if data else 0
    return InferRequest(data, params or None, request_id, outputs, rows)


def _model_input(tensors: dict[str, np.ndarray], interface: ModelInterface) -> Any:
    if interface.is_tensor:
        if len(tensors) == 1 and len(interface.inputs) <= 1:
            return next(iter(tensors.values()))
        return tensors
    names = interface.input_names
    if len(tensors) == 1:
        ((name, array),) = tensors.items()
        if array.ndim == 2 and (len(names) != 1 or array.shape[1] != 1):
            if names and array.shape[1] != len(names):
                raise BadInput(
                    f"input '{name}': shape {list(array.shape)} has {array.shape[1]} columns but "
                    f"the model signature has {len(names)} inputs: {', '.join(names)}"
                )
            labels = list(names) if names else [str(i) for i in range(array.shape[1])]
            return pd.DataFrame(array, columns=interface.labels(labels), copy=False)
    columns: dict[str, np.ndarray] = {}
    length: int | None = None
    for name, array in tensors.items():
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise BadInput(
                f"input '{name}': shape {list(array.shape)} is not a column; send each column "
                "as a 1-D tensor, or all columns as one 2-D tensor"
            )
        if names and name not in names:
            raise BadInput(
                f"input '{name}' is not an input of this model; its inputs are: {', '.join(names)}"
            )
        if length is None:
            length = array.shape[0]
        elif array.shape[0] != length:
            raise BadInput(f"input '{name}' has {array.shape[0]} rows, the others {length}")
        columns[name] = array
    if names:
        missing = [c.name for c in interface.inputs if c.required and c.name not in columns]
        if missing:
            raise BadInput(f"missing input(s): {', '.join(str(m) for m in missing)}")
        ordered = {n: columns[n] for n in names if n in columns}
        return pd.DataFrame(ordered, columns=interface.labels(list(ordered)), copy=False)
    return pd.DataFrame(columns, copy=False)


def _datatype(array: np.ndarray) -> str:
    if array.dtype.kind in "OUSM":
        return "BYTES"
    return NUMPY_TO_V2.get(array.dtype.name, "BYTES")


def _output(name: str, values: Any) -> dict[str, Any]:
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    datatype = _datatype(array)
    flat = array.ravel()
    if datatype == "BYTES":
        data: Any = [v.decode() if isinstance(v, bytes) else str(v) for v in flat.tolist()]
    elif datatype.startswith("FP"):
        data = [None if isinstance(v, float) and not math.isfinite(v) else v for v in flat.tolist()]
    else:
        data = flat.tolist()
    return {"name": name, "shape": list(array.shape), "datatype": datatype, "data": data}


def infer_response(
    predictions: Any,
    request: InferRequest,
    interface: ModelInterface,
    name: str,
    version: str | None,
) -> dict[str, Any]:
    """The infer answer: ``model_name``, ``model_version``, echoed ``id``, ``outputs``.

    Raises:
        BadInput: the request asked for an output the predictions do not have.
    """
    default = (
        interface.outputs[0].name
        if interface.outputs and interface.outputs[0].name
        else "predictions"
    )
    if isinstance(predictions, pd.DataFrame):
        outputs = [
            _output(str(col), predictions.iloc[:, i].to_numpy())
            for i, col in enumerate(predictions.columns)
        ]
    elif isinstance(predictions, pd.Series):
        outputs = [
            _output(
                str(predictions.name) if predictions.name is not None else default,
                predictions.to_numpy(),
            )
        ]
    elif isinstance(predictions, Mapping):
        outputs = [_output(str(k), v) for k, v in predictions.items()]
    else:
        outputs = [_output(default, predictions)]
    if request.outputs:
        by_name = {o["name"]: o for o in outputs}
        unknown = [n for n in request.outputs if n not in by_name]
        if unknown:
            raise BadInput(
                f"unknown output(s) requested: {', '.join(unknown)}; the model answers "
                f"{', '.join(by_name)}"
            )
        outputs = [by_name[n] for n in request.outputs]
    body: dict[str, Any] = {"model_name": name}
    if version is not None:
        body["model_version"] = version
    if request.request_id is not None:
        body["id"] = request.request_id
    body["outputs"] = outputs
    return body


__all__ = [
    "V2_TO_NUMPY",
    "InferRequest",
    "infer_response",
    "model_metadata",
    "parse_infer",
    "server_metadata",
]
