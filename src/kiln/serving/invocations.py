"""``POST /invocations`` bodies -> model input, for MLflow 1.x, 2.x and 3.x clients.

MLflow 2.x/3.x (answered ``{"predictions": ...}``), as ``mlflow.pyfunc.scoring_server``:

* ``application/json`` with exactly one of ``dataframe_split``, ``dataframe_records``,
  ``instances``, ``inputs`` and optionally ``params``;
* ``text/csv`` (a header row); ``application/vnd.apache.parquet`` (with pyarrow).

MLflow 1.x (answered with the bare JSON list; MLflow 2+ answers these 415/400):

* ``application/json; format=pandas-split`` / ``format=pandas-records`` (and
  ``format=tf-serving`` with ``instances``/``inputs``);
* plain ``application/json`` whose body is a split frame (``columns``/``data``) or a
  list of records, which 1.x read as pandas-split/records by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kiln.errors import BadInput, UnsupportedMediaType
from kiln.serving import bigjson, encoding
from kiln.serving.direct import DirectPath, DirectRows
from kiln.serving.frames import (
    columns_input,
    frame_from_csv,
    frame_from_parquet,
    records_input,
    split_input,
)
from kiln.serving.model import ModelInterface

CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_CSV = "text/csv"
CONTENT_TYPE_PARQUET = "application/vnd.apache.parquet"
CONTENT_TYPES = (CONTENT_TYPE_JSON, CONTENT_TYPE_CSV, CONTENT_TYPE_PARQUET)
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
LEGACY_FORMATS = ("pandas-split", "pandas-records", "tf-serving")
REQUIRED_INPUT_FORMAT = (
    "The input must be a JSON dictionary with exactly one of the input fields "
    "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}"
)


@dataclass(frozen=True, slots=True)
class ModelInput:
    """A parsed request: what to pass to ``predict`` and how to answer.

    ``wrap`` is False for 1.x requests, answered with the bare predictions.
    ``direct`` is True when ``data`` is the array for ``DirectPath.predict`` (only
    ever when a direct path was given and the request has no params).
    """

    data: Any
    params: dict[str, Any] | None
    wrap: bool
    rows: int
    direct: bool = False


def _rows(data: Any) -> int:
    if isinstance(data, (pd.DataFrame, np.ndarray, list)):
        return len(data)
    if isinstance(data, dict) and data:
        first = next(iter(data.values()))
        return len(first) if isinstance(first, (list, np.ndarray)) else 1
    return 1


def _media(content_type: str | None) -> tuple[str, dict[str, str]]:
    if not content_type:
        raise UnsupportedMediaType(
            "Missing Content-Type header. Send application/json, text/csv or "
            f"{CONTENT_TYPE_PARQUET}."
        )
    parts = [p.strip() for p in content_type.split(";")]
    options: dict[str, str] = {}
    for part in parts[1:]:
        if part:
            key, _, value = part.partition("=")
            options[key.strip().lower()] = value.strip().strip('"')
    return parts[0].lower(), options


def parse_invocation(
    body: bytes,
    content_type: str | None,
    interface: ModelInterface,
    direct: DirectPath | None = None,
) -> ModelInput:
    """Read an ``/invocations`` request body as model input.

    With ``direct``, JSON rows that fit it come back as its array (``ModelInput.direct``)
    instead of a frame; everything else, errors included, is the same either way.

    Raises:
        UnsupportedMediaType: missing/unknown Content-Type, a charset other than
            UTF-8, or an unknown ``format``.
        BadInput: the body does not parse, or names no input the server understands.
    """
    mime, options = _media(content_type)
    charset = options.pop("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"The scoring server only supports UTF-8, got charset={charset}")
    legacy = options.pop("format", None)
    if options:
        raise UnsupportedMediaType(
            f"Unrecognized content type parameters: {', '.join(sorted(options))}"
        )
    if mime == CONTENT_TYPE_JSON:
        if legacy is not None and legacy not in LEGACY_FORMATS:
            raise UnsupportedMediaType(
                f"Unknown format={legacy!r}; use one of {', '.join(LEGACY_FORMATS)} "
                "or plain application/json"
            )
        return _parse_json(body, legacy, interface, direct)
    if legacy is not None:
        raise UnsupportedMediaType(f"format={legacy} applies to application/json only")
    if mime == CONTENT_TYPE_CSV:
        frame = frame_from_csv(body, interface)
        return ModelInput(frame, None, True, len(frame))
    if mime == CONTENT_TYPE_PARQUET:
        frame = frame_from_parquet(body)
        return ModelInput(frame, None, True, len(frame))
    raise UnsupportedMediaType(
        f"This predictor only supports the following content types: "
        f"{', '.join(CONTENT_TYPES)}. Got '{content_type}'."
    )


def _decode(body: bytes, interface: ModelInterface) -> Any:
    """The parsed body; a large split body in pieces (``kiln.serving.bigjson``)."""
    decoded = bigjson.loads(body, interface.uniform_dtype)
    if decoded is not None:
        return decoded
    try:
        return encoding.loads(body)
    except ValueError as error:
        raise BadInput(
            f"Ensure that input is a valid JSON formatted string. Error: {error}"
        ) from None


def _answer(data: Any, params: dict[str, Any] | None, wrap: bool) -> ModelInput:
    if isinstance(data, DirectRows):
        return ModelInput(data.array, None, wrap, len(data.array), direct=True)
    return ModelInput(data, params, wrap, _rows(data))


def _parse_json(
    body: bytes, legacy: str | None, interface: ModelInterface, direct: DirectPath | None
) -> ModelInput:
    decoded = _decode(body, interface)
    if legacy == "pandas-split":
        return _answer(split_input(decoded, interface, "body", direct), None, False)
    if legacy == "pandas-records":
        return _answer(records_input(decoded, interface, "body", direct), None, False)
    if isinstance(decoded, list):  # 1.x default for a list: records
        return _answer(records_input(decoded, interface, "body", direct), None, False)
    if not isinstance(decoded, dict):
        raise BadInput(
            f"{REQUIRED_INPUT_FORMAT}. Received unexpected input type '{type(decoded).__name__}'."
        )
    params = decoded.pop("params", None)
    if params is not None and not isinstance(params, dict):
        raise BadInput(f"'params' must be a JSON object, got {type(params).__name__}")
    if params:
        direct = None  # the model gets its params through predict
    present = [key for key in FORMATS if key in decoded]
    wrap = legacy is None
    if not present and "data" in decoded and set(decoded) <= {"columns", "data", "index"}:
        # 1.x default: pandas-split
        return _answer(split_input(decoded, interface, "body", direct), params, False)
    if len(present) != 1:
        raise BadInput(
            f"{REQUIRED_INPUT_FORMAT}. Received dictionary with input fields: {list(decoded)}."
        )
    key = present[0]
    if key in ("instances", "inputs") and len(decoded) != 1:
        raise BadInput(
            'One of "instances" and "inputs" must be specified (not both or any other keys). '
            f"Received: {list(decoded)}"
        )
    payload = decoded[key]
    if key == "dataframe_split":
        data: Any = split_input(payload, interface, key, direct)
    elif key == "dataframe_records":
        data = records_input(payload, interface, key, direct)
    else:
        data = tensor_input(payload, interface, key, direct)
    return _answer(data, params, wrap)


def tensor_input(
    payload: Any, interface: ModelInterface, field: str, direct: DirectPath | None = None
) -> Any:
    """``instances``/``inputs`` (TF-serving style) -> a frame, an array or a dict of arrays.

    Follows ``mlflow.utils.proto_json_utils.parse_tf_serving_input``: a dict or a list
    of row objects is a set of columns; a plain list is one tensor. For models with
    a column signature the result is a DataFrame (a plain 2-D list takes the
    signature's column names in order); for tensor signatures it stays numpy.
    With ``direct``, rows that fit it come back as ``DirectRows`` instead of a frame.
    """
    if (
        field == "instances"
        and isinstance(payload, list)
        and payload
        and isinstance(payload[0], dict)
    ):
        names: dict[str, list[Any]] = {}
        for i, item in enumerate(payload):
            if not isinstance(item, dict):
                raise BadInput(f"'instances' item {i} must be an object like item 0")
            for col, value in item.items():
                names.setdefault(col, []).append(value)
        payload = names
    if isinstance(payload, dict):
        if interface.is_tensor:
            return {k: _array(v, interface, k, field) for k, v in payload.items()}
        return columns_input(payload, interface, field, direct)
    if not isinstance(payload, list):
        if interface.is_tensor or not interface.inputs:
            return _array(payload, interface, None, field)
        raise BadInput(
            f"'{field}' must be a list or an object of columns, got {type(payload).__name__}"
        )
    names_in_order = interface.input_names
    if (
        not interface.is_tensor
        and len(names_in_order) == 1
        and not any(isinstance(x, dict) for x in payload)
    ):
        return columns_input({names_in_order[0]: payload}, interface, field, direct)
    array = _array(payload, interface, None, field)
    if not interface.is_tensor and names_in_order and array.ndim == 2:
        if array.shape[1] != len(names_in_order):
            raise BadInput(
                f"'{field}' rows have {array.shape[1]} values but the model signature has "
                f"{len(names_in_order)} inputs: {', '.join(names_in_order)}"
            )
        ready = direct.take(array, names_in_order) if direct is not None else None
        if ready is not None:
            return ready
        return pd.DataFrame(array, columns=interface.labels(list(names_in_order)), copy=False)
    return array


def _array(values: Any, interface: ModelInterface, name: str | None, field: str) -> np.ndarray:
    column = (
        interface.input(name)
        if name
        else (interface.inputs[0] if len(interface.inputs) == 1 else None)
    )
    dtype = column.dtype if column is not None else None
    if dtype is None and not interface.is_tensor:
        dtype = interface.uniform_dtype(list(interface.input_names)) if interface.inputs else None
    try:
        return np.asarray(values, dtype=dtype)
    except (ValueError, TypeError) as error:
        where = f"{field}.{name}" if name else field
        raise BadInput(f"'{where}' is not a valid tensor: {error}") from None


__all__ = ["CONTENT_TYPES", "FORMATS", "ModelInput", "parse_invocation", "tensor_input"]
