"""JSON in and out, with orjson when it is installed and the standard library otherwise.

Predictions are turned into JSON the way MLflow's scoring server does
(``_get_jsonable_obj`` with ``records`` orientation): an array becomes nested
lists, a DataFrame a list of row objects, a Series a list of one-key objects.
NaN and infinities become ``null`` so the answer is always valid JSON.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np
import pandas as pd

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a declared dependency of serving
    orjson = None  # type: ignore[assignment]


CHUNK_ROWS = 100_000


def loads(body: bytes) -> Any:
    """Parse a JSON body.

    Raises:
        ValueError: the body is not valid JSON (or not UTF-8).
    """
    if orjson is not None:
        return orjson.loads(body)
    return json.loads(body)


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return jsonable(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (pd.Timestamp, np.datetime64)):
        return str(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    if isinstance(obj, (pd.DataFrame, pd.Series)):
        return jsonable(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _clean_floats(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, list):
        return [_clean_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean_floats(v) for k, v in value.items()}
    return value


def dumps(obj: Any) -> bytes:
    """Serialize to JSON bytes; numpy arrays and scalars included, NaN as ``null``."""
    if orjson is not None:
        return orjson.dumps(obj, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)
    text = json.dumps(_clean_floats(jsonable(obj)), default=_default, allow_nan=False)
    return text.encode()


def jsonable(data: Any) -> Any:
    """Predictions in MLflow's JSON shape (records orientation for frames)."""
    if isinstance(data, np.ndarray):
        if data.dtype.kind in "fc":
            # tolist() then NaN -> None only when there is a NaN to replace
            if np.isfinite(data).all() if data.dtype.kind == "f" else True:
                return data.tolist()
            return _clean_floats(data.tolist())
        return data.tolist()
    if isinstance(data, pd.DataFrame):
        return data.to_dict(orient="records")
    if isinstance(data, pd.Series):
        return pd.DataFrame(data).to_dict(orient="records")
    return data


def _chunked(array: np.ndarray, wrap: bool) -> bytes:
    """``dumps`` of a long numeric array, ``CHUNK_ROWS`` rows per orjson call.

    One call over a million predictions holds the GIL for a few hundred ms, which
    every small request on the event loop would wait; between chunks it is let go.
    """
    parts: list[bytes] = []
    for begin in range(0, len(array), CHUNK_ROWS):
        time.sleep(0)  # let the event loop's thread take the GIL between chunks
        chunk = np.ascontiguousarray(array[begin : begin + CHUNK_ROWS])
        parts.append(orjson.dumps(chunk, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1])
    rows = b"[" + b",".join(parts) + b"]"
    return b'{"predictions":' + rows + b"}" if wrap else rows


def dumps_predictions(predictions: Any, *, wrap: bool) -> bytes:
    """The response body: ``{"predictions": ...}``, or the bare value for 1.x requests.

    numpy float/int arrays go straight to orjson (no ``tolist``), the fast path for
    the common sklearn answer; long ones a chunk at a time (``_chunked``).
    """
    if (
        orjson is not None
        and isinstance(predictions, np.ndarray)
        and predictions.dtype.kind in "biuf"
    ):
        if predictions.ndim and len(predictions) > CHUNK_ROWS:
            return _chunked(predictions, wrap)
        body: Any = (
            predictions if predictions.flags.c_contiguous else np.ascontiguousarray(predictions)
        )
    else:
        body = jsonable(predictions)
    return dumps({"predictions": body} if wrap else body)


__all__ = ["dumps", "dumps_predictions", "jsonable", "loads"]
