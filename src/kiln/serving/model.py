"""What the scoring server needs from a model, and what it reads of its signature.

The server depends on a one-method shape (``ScoringModel``: ``predict`` plus
``metadata``), not on a flavor, so tests serve a tiny in-test object and
production serves ``kiln.models.pyfunc.PyFuncModel``. ``describe_model`` reads the
signature duck-typed (a Kiln or MLflow schema object, a list of specs, or the
JSON text an ``MLmodel`` file stores) into ``ModelInterface``, the one view of
inputs and outputs that request parsing and the V2 metadata use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# MLflow column types -> (numpy dtype used to build frames, Open Inference Protocol datatype)
_COLUMN_TYPES: dict[str, tuple[str | None, str]] = {
    "double": ("float64", "FP64"),
    "float": ("float32", "FP32"),
    "long": ("int64", "INT64"),
    "integer": ("int32", "INT32"),
    "boolean": ("bool", "BOOL"),
    "string": (None, "BYTES"),
    "binary": (None, "BYTES"),
    "datetime": (None, "BYTES"),
}
# numpy dtype names (tensor specs) -> Open Inference Protocol datatype
NUMPY_TO_V2: dict[str, str] = {
    "bool": "BOOL",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "object": "BYTES",
    "str": "BYTES",
    "bytes": "BYTES",
}


class ScoringModel(Protocol):
    """A loaded model as the scoring server uses it (``kiln.models.pyfunc.PyFuncModel``)."""

    @property
    def metadata(self) -> Any:
        """The model's metadata; its ``signature`` (optional) describes inputs and outputs."""

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        """Predictions for ``data`` (a DataFrame, an array, or a dict of arrays)."""


@dataclass(frozen=True, slots=True)
class Column:
    """One named input or output of a signature.

    ``dtype`` is the numpy dtype name a column of this type is built with (None
    for strings and other objects); ``datatype`` is its Open Inference Protocol name;
    ``shape`` is the tensor shape with -1 for variable dimensions.
    """

    name: str | None
    type_name: str
    dtype: str | None
    datatype: str
    shape: tuple[int, ...]
    required: bool = True
    tensor: bool = False


@dataclass(frozen=True, slots=True)
class ModelInterface:
    """The model's inputs, outputs and parameter names, as far as its signature says."""

    inputs: tuple[Column, ...] = ()
    outputs: tuple[Column, ...] = ()
    params: tuple[str, ...] = ()
    is_tensor: bool = False
    _labels: dict[tuple[str, ...], Any] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )
    _dtypes: dict[tuple[Any, ...], str | None] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )

    def labels(self, columns: list[str]) -> Any:
        """A ``pandas.Index`` of ``columns`` (object dtype), cached per column list.

        Building a string Index is the single most expensive step of a one-row
        frame under pandas 3 (~200 us: it infers the new ``str`` dtype); requests
        repeat the same few column lists, so each is built once.
        """
        key = tuple(columns)
        index = self._labels.get(key)
        if index is None:
            import pandas as pd

            index = pd.Index(columns, dtype=object)
            if len(self._labels) < 256:  # bounded: clients may send arbitrary names
                self._labels[key] = index
        return index

    @property
    def input_names(self) -> tuple[str, ...]:
        """Names of the named inputs in signature order (empty when unnamed)."""
        return tuple(c.name for c in self.inputs if c.name is not None)

    def input(self, name: str) -> Column | None:
        """The input column called ``name``, if the signature has one."""
        for column in self.inputs:
            if column.name == name:
                return column
        return None

    def uniform_dtype(self, names: list[str]) -> str | None:
        """The float dtype shared by every column in ``names``, if there is one (cached).

        Only float columns qualify: building them straight from a list of rows as
        one float array is what schema enforcement would produce anyway, while
        casting to an integer dtype could silently truncate a wrong value.
        """
        if not self.inputs or self.is_tensor:
            return None
        try:
            key = tuple(names)
            return self._dtypes[key]
        except KeyError:
            pass
        except TypeError:  # unhashable names name no column
            return None
        found: str | None = None
        for name in names:
            column = self.input(name)
            if column is None or column.dtype not in ("float64", "float32"):
                found = None
                break
            if found is None:
                found = column.dtype
            elif found != column.dtype:
                found = None
                break
        if len(self._dtypes) < 256:  # bounded: clients may send arbitrary names
            self._dtypes[key] = found
        return found


def _type_name(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    for attr in ("name", "value"):
        value = getattr(raw, attr, None)
        if isinstance(value, str):
            return value
    return str(raw)


def _column(spec: Any) -> Column:
    if isinstance(spec, Mapping):
        name = spec.get("name")
        if spec.get("type") == "tensor":
            tensor = spec.get("tensor-spec") or {}
            t_dtype = str(tensor.get("dtype", "object"))
            t_shape = tuple(int(d) for d in tensor.get("shape", (-1,)))
            return Column(
                name, t_dtype, t_dtype, NUMPY_TO_V2.get(t_dtype, "BYTES"), t_shape, tensor=True
            )
        type_name = _type_name(spec.get("type", "string"))
        required = bool(spec.get("required", True))
        shape_raw = None
    else:
        name = getattr(spec, "name", None)
        type_name = _type_name(getattr(spec, "type", "string"))
        required = bool(getattr(spec, "required", True))
        shape_raw = getattr(spec, "shape", None)
    if shape_raw is not None:  # a tensor spec: type is a numpy dtype
        np_type = str(getattr(spec, "dtype", None) or getattr(spec, "type", type_name))
        shape = tuple(int(d) for d in shape_raw)
        return Column(name, np_type, np_type, NUMPY_TO_V2.get(np_type, "BYTES"), shape, tensor=True)
    dtype, datatype = _COLUMN_TYPES.get(type_name.lower(), (None, "BYTES"))
    return Column(name, type_name.lower(), dtype, datatype, (-1,), required)


def _specs(schema: Any) -> list[Any]:
    if schema is None:
        return []
    if isinstance(schema, (str, bytes)):
        schema = json.loads(schema)
    if isinstance(schema, Mapping):
        schema = schema.get("inputs", schema.get("columns", []))
    inner = getattr(schema, "inputs", None)
    if inner is not None and not callable(inner):
        schema = inner
    return list(schema)


def describe_model(model: ScoringModel) -> ModelInterface:
    """Read the model's signature into a ``ModelInterface`` (empty when it has none)."""
    metadata = getattr(model, "metadata", None)
    signature = getattr(metadata, "signature", None)
    if signature is None and isinstance(metadata, Mapping):
        signature = metadata.get("signature")
    if signature is None:
        getter = getattr(metadata, "get_input_schema", None)
        if callable(getter):
            return _from_parts(getter(), getattr(metadata, "get_output_schema", lambda: None)())
        return ModelInterface()
    if isinstance(signature, Mapping):
        inputs = signature.get("inputs")
        outputs = signature.get("outputs")
        params = signature.get("params")
    else:
        inputs = getattr(signature, "inputs", None)
        outputs = getattr(signature, "outputs", None)
        params = getattr(signature, "params", None)
    return _from_parts(inputs, outputs, params)


def _from_parts(inputs: Any, outputs: Any, params: Any = None) -> ModelInterface:
    in_cols = tuple(_column(s) for s in _specs(inputs))
    out_cols = tuple(_column(s) for s in _specs(outputs))
    names: tuple[str, ...] = ()
    for spec in _specs(params):
        name = spec.get("name") if isinstance(spec, Mapping) else getattr(spec, "name", None)
        if isinstance(name, str):
            names += (name,)
    is_tensor = bool(in_cols) and all(c.tensor for c in in_cols)
    return ModelInterface(in_cols, out_cols, names, is_tensor)


__all__ = ["NUMPY_TO_V2", "Column", "ModelInterface", "ScoringModel", "describe_model"]
