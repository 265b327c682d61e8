"""Request payloads -> pandas DataFrames, built cheaply and with MLflow's semantics.

When the signature says every named column is a float, a ``split`` or ``records``
payload becomes one float array and a frame over it (one block, no per-column
inference) -- what schema enforcement would produce anyway. Anything else goes
through ``pandas.DataFrame`` exactly as MLflow's ``dataframe_from_parsed_json``
does, and then, like MLflow's ``cast_df_types_according_to_schema``, the signature's
numeric columns are converted to their types (``cast_to_schema``): JSON ints and
booleans, numeric strings and nulls (NaN) in a ``double``/``float`` column, whole
numbers in a ``long``/``integer`` one. Duplicate column names are kept, in order.

Every function raises ``BadInput`` with a message naming the offending field.
The ``*_input`` variants take a ``DirectPath`` and hand back ``DirectRows`` instead
of the frame when the rows fit it (``kiln.serving.direct``); the checks before that
point, and so every error, are the frame builders' own.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from kiln.errors import BadInput, UnsupportedMediaType
from kiln.serving.bigjson import ParsedColumns
from kiln.serving.direct import DirectPath
from kiln.serving.model import ModelInterface

_SPLIT_KEYS = frozenset({"columns", "data", "index"})


def _numeric_array(values: Any, dtype: str) -> np.ndarray | None:
    """``values`` as a ``dtype`` array if every value is a JSON number, else None.

    Strings, booleans and nulls go the general way (``cast_to_schema``, then schema
    enforcement, which names the column), so every such conversion and refusal is
    made in one place.
    """
    try:
        array = np.array(values)
    except (ValueError, TypeError):  # ragged rows
        return None
    if array.dtype.kind not in "iuf":
        return None
    return array.astype(dtype, copy=False)


def _cast_column(values: pd.Series[Any], dtype: np.dtype[Any]) -> pd.Series[Any] | None:
    """``values`` as ``dtype`` (a numpy float or signed int), or None to leave them as they are."""
    if values.dtype == dtype:
        return None
    if dtype.kind == "f":
        # MLflow's astype: ints, booleans, numeric strings and nulls (NaN) become floats
        # (and, as there, a float32 column rounds, 1e300 becoming inf)
        try:
            with np.errstate(over="ignore"):
                cast: pd.Series[Any] = values.astype(dtype)
        except (ValueError, TypeError, OverflowError):
            return None
        return cast
    kind = values.dtype.kind if isinstance(values.dtype, np.dtype) else "O"
    if dtype.kind != "i" or kind not in "iuf":
        return None
    info = np.iinfo(dtype)
    array = values.to_numpy()
    if not len(array):
        return values.astype(dtype)
    if kind == "f" and not (np.isfinite(array).all() and (np.mod(array, 1) == 0).all()):
        return None
    if array.min() < info.min or array.max() > info.max:
        return None
    return values.astype(dtype)


def cast_to_schema(frame: pd.DataFrame, interface: ModelInterface) -> pd.DataFrame:
    """``frame`` with the signature's numeric columns converted to their types.

    MLflow's scoring server casts every schema column of a parsed JSON frame with
    ``astype`` before enforcing the schema, so the integer 29 in a ``double``
    column is 29.0 there (when the frame is not one float block pandas keeps ints
    as ``int64``, which schema enforcement alone refuses for a ``double``).
    Kiln casts into ``double``/``float`` whatever MLflow's ``astype`` takes (ints,
    booleans, numeric strings, nulls as NaN), and into ``long``/``integer`` only
    whole numbers in range. What is left (``"abc"`` or 1.5 for a ``long``) stays as
    it is, and ``ModelSignature.enforce`` refuses it with
    the column's name. MLflow's ``astype`` also truncates 1.5 to 1 and wraps
    integers out of ``int32`` range; Kiln does not.
    """
    if not interface.inputs or interface.is_tensor or not frame.columns.is_unique:
        return frame
    changed: dict[Any, pd.Series[Any]] = {}
    for column in interface.inputs:
        if column.name is None or column.dtype is None or column.name not in frame.columns:
            continue
        dtype = np.dtype(column.dtype)
        if dtype.kind not in "if":
            continue
        cast = _cast_column(frame[column.name], dtype)
        if cast is not None:
            changed[column.name] = cast
    if not changed:
        return frame
    return frame.assign(**changed)


def _type_word(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "dictionary"
    return f"type {type(value).__name__}"


def frame_from_split(payload: Any, interface: ModelInterface, field: str) -> pd.DataFrame:
    """A frame from pandas ``split`` orientation (``columns``, ``data``, optional ``index``)."""
    frame: pd.DataFrame = split_input(payload, interface, field)
    return frame


def split_input(
    payload: Any, interface: ModelInterface, field: str, direct: DirectPath | None = None
) -> Any:
    """``frame_from_split``, or ``DirectRows`` when the rows fit ``direct`` (and no index)."""
    if not isinstance(payload, dict):
        raise BadInput(f"Dataframe split format must be a dictionary. Got {_type_word(payload)}.")
    keys = set(payload)
    if "data" not in keys or keys - _SPLIT_KEYS:
        raise BadInput(
            f"Dataframe split format ({field}) must have 'data' field and optionally 'columns' "
            f"and 'index' fields. Got {sorted(keys)}."
        )
    data = payload["data"]
    columns = payload.get("columns")
    index = payload.get("index")
    # the rows of a large body, already as _numeric_array or pandas makes them (bigjson)
    built = data if isinstance(data, np.ndarray) else None
    by_column = data if isinstance(data, ParsedColumns) else None
    if built is None and by_column is None and not isinstance(data, list):
        raise BadInput(f"'{field}.data' must be a list of rows, got {_type_word(data)}")
    if columns is not None:
        if not isinstance(columns, list):
            raise BadInput(f"'{field}.columns' must be a list, got {_type_word(columns)}")
        width = len(columns)
        for i, row in enumerate(data if built is None and by_column is None else []):
            if isinstance(row, list | np.ndarray) and len(row) != width:
                raise BadInput(
                    f"'{field}.data' row {i} has {len(row)} values but '{field}.columns' "
                    f"names {width} columns"
                )
        labels = interface.labels(columns) if all(isinstance(c, str) for c in columns) else columns
        dtype = interface.uniform_dtype(columns)
        if dtype is not None and len(data):
            array = built if built is not None else _numeric_array(data, dtype)
            if array is not None and array.ndim == 2 and array.shape[1] == width:
                if direct is not None and index is None:
                    ready = direct.take(array, columns)
                    if ready is not None:
                        return ready
                try:
                    return pd.DataFrame(array, columns=labels, index=index, copy=False)
                except ValueError as error:
                    raise BadInput(f"Invalid '{field}': {error}") from None
    else:
        labels = None
    try:
        if by_column is not None and labels is not None:
            frame = by_column.frame(labels)
        else:
            frame = pd.DataFrame(data=data, columns=labels, index=index)
    except Exception as error:
        raise BadInput(
            f"Provided {field} field is not a valid dataframe representation in 'split' "
            f"format. Error: '{error}'"
        ) from None
    return cast_to_schema(frame, interface)


def frame_from_records(payload: Any, interface: ModelInterface, field: str) -> pd.DataFrame:
    """A frame from pandas ``records`` orientation (a list of row objects)."""
    frame: pd.DataFrame = records_input(payload, interface, field)
    return frame


def records_input(
    payload: Any, interface: ModelInterface, field: str, direct: DirectPath | None = None
) -> Any:
    """``frame_from_records``, or ``DirectRows`` when the rows fit ``direct``."""
    if not isinstance(payload, list):
        raise BadInput(
            f"Dataframe records format must be a list of records. Got {_type_word(payload)}."
        )
    if payload and isinstance(payload[0], dict):
        columns = list(payload[0])
        dtype = interface.uniform_dtype(columns)
        width = len(columns)
        if dtype is not None and all(isinstance(r, dict) and len(r) == width for r in payload):
            try:
                array = _numeric_array([[r[c] for c in columns] for r in payload], dtype)
            except KeyError:
                array = None
            if array is not None and array.ndim == 2:
                ready = direct.take(array, columns) if direct is not None else None
                if ready is not None:
                    return ready
                return pd.DataFrame(array, columns=interface.labels(columns), copy=False)
    for i, record in enumerate(payload):
        if not isinstance(record, dict):
            raise BadInput(f"'{field}' item {i} must be an object, got {_type_word(record)}")
    try:
        frame = pd.DataFrame(data=payload)
    except Exception as error:
        raise BadInput(
            f"Provided {field} field is not a valid dataframe representation in 'records' "
            f"format. Error: '{error}'"
        ) from None
    return cast_to_schema(frame, interface)


def frame_from_columns(
    columns: Mapping[str, Any], interface: ModelInterface, field: str
) -> pd.DataFrame:
    """A frame from ``{column: values}``; all scalars make one row.

    Columns the signature declares as floats are built as float arrays.

    Raises:
        BadInput: the columns have different lengths (the first odd one is named).
    """
    frame: pd.DataFrame = columns_input(columns, interface, field)
    return frame


def columns_input(
    columns: Mapping[str, Any],
    interface: ModelInterface,
    field: str,
    direct: DirectPath | None = None,
) -> Any:
    """``frame_from_columns``, or ``DirectRows`` when every column fits ``direct``."""
    if not columns:
        raise BadInput(f"'{field}' names no columns")
    if all(not isinstance(v, (list, np.ndarray)) for v in columns.values()):
        columns = {k: [v] for k, v in columns.items()}
    expected: int | None = None
    first = ""
    for name, values in columns.items():
        length = len(values) if isinstance(values, (list, np.ndarray)) else 1
        if expected is None:
            expected, first = length, name
        elif length != expected:
            raise BadInput(
                f"The length of values for each input/column name are not the same: "
                f"'{field}.{name}' has {length}, '{field}.{first}' has {expected}"
            )
    built: dict[str, Any] = {}
    for name, values in columns.items():
        dtype = interface.uniform_dtype([name])
        array = _numeric_array(values, dtype) if dtype is not None else None
        built[name] = values if array is None or array.ndim != 1 else array
    if direct is not None and direct.order(list(built)) is not None:
        arrays = [built[name] for name in direct.names]
        if all(isinstance(a, np.ndarray) and a.dtype == direct.dtype for a in arrays):
            ready = direct.take(np.column_stack(arrays), direct.names)
            if ready is not None:
                return ready
    try:
        frame = pd.DataFrame(built, columns=interface.labels(list(built)))
    except Exception as error:
        raise BadInput(f"Invalid '{field}': {error}") from None
    return cast_to_schema(frame, interface)


def frame_from_csv(body: bytes, interface: ModelInterface) -> pd.DataFrame:
    """A frame from CSV text with a header row; signature dtypes applied when known."""
    dtypes = {c.name: c.dtype for c in interface.inputs if c.name and c.dtype and not c.tensor}
    try:
        return pd.read_csv(io.BytesIO(body), dtype=dtypes or None)
    except Exception as error:
        raise BadInput(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
            f"CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` "
            f"method. Error: '{error}'"
        ) from None


PARQUET_INSTALL = "pip install 'kiln-mlops[parquet]'"
"""What to install for Parquet (pyarrow, which no other dependency of Kiln brings)."""


def frame_from_parquet(body: bytes) -> pd.DataFrame:
    """A frame from a Parquet file's bytes (needs pyarrow: the ``parquet`` extra)."""
    try:
        import pyarrow  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        raise UnsupportedMediaType(
            "Parquet input needs pyarrow, which is not installed on this server "
            f"({PARQUET_INSTALL}); send JSON or CSV instead"
        ) from None
    try:
        return pd.read_parquet(io.BytesIO(body))
    except Exception as error:
        raise BadInput(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
            f"Parquet file produced using `pandas.DataFrame.to_parquet()`. Error: '{error}'"
        ) from None


__all__ = [
    "cast_to_schema",
    "columns_input",
    "frame_from_columns",
    "frame_from_csv",
    "frame_from_parquet",
    "frame_from_records",
    "frame_from_split",
    "records_input",
    "split_input",
]
