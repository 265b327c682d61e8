"""The ``mlflow.datasets`` run tag that MLflow's ``evaluate`` writes when it evaluates a
pyfunc model: a JSON list of ``{"name", "hash", ["path"], "model"}``, one entry per
(data set, model uuid) pair evaluated in the run.

The hash is MLflow's (``mlflow.data.evaluation_dataset``): an MD5 over the row count and
the first and last five rows of the features, the labels and the given predictions
(pandas' per-value hashes, packed as big-endian uint64), then the feature names. Tools
that read the tag (and MLflow's UI) find the same value for the same data.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Sequence
from typing import Any

TAG = "mlflow.datasets"
HASH_ROWS = 5  # MLflow's EvaluationDataset.NUM_SAMPLE_ROWS_FOR_HASH


def _pack(array: Any) -> bytes:
    return struct.pack(f">{array.size}Q", *array)


def _ndarray_bytes(values: Any) -> bytes:
    import numpy as np
    import pandas as pd

    array = values if isinstance(values, np.ndarray) else np.array(values)
    if array.size and isinstance(array.item(0), dict):
        return b"".join(_value_bytes(item) for item in array)
    flat = pd.util.hash_array(array.flatten(order="C"))
    return _pack(flat) + _pack(np.array(array.shape, dtype="uint64"))


def _value_bytes(value: Any) -> bytes:
    """One nested value's bytes (MLflow skips what it cannot hash)."""
    import numpy as np
    import pandas as pd

    try:
        if isinstance(value, list | np.ndarray):
            return _ndarray_bytes(value)
        if isinstance(value, dict):
            keys = _ndarray_bytes(list(value.keys()))
            try:
                return keys + _ndarray_bytes(list(value.values()))
            except Exception:
                return keys + b"".join(_value_bytes(v) for v in value.values())
        if np.isscalar(value):
            return _pack(pd.util.hash_array(np.array([value])))
    except Exception:
        return b""
    return b""


def _cell(value: Any) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(value, dict | list | np.ndarray):
        return _value_bytes(value)
    try:
        pd.util.hash_array(np.array([value]))
    except TypeError:
        return b""
    return value


def _rows_bytes(data: Any) -> bytes:
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return _pack(pd.util.hash_pandas_object(data.map(_cell)))
    if len(data) and isinstance(data[0], list):
        return _ndarray_bytes(np.array([str(row) for row in data]))
    if any(isinstance(row, np.ndarray) for row in data):
        try:
            return _ndarray_bytes(np.array(data.tolist()))
        except ValueError:
            return b"".join(
                _value_bytes(row) + _pack(np.array([np.size(row)], dtype="uint64")) for row in data
            )
    return _ndarray_bytes(data)


def _update(md5: Any, data: Any) -> None:
    import numpy as np

    md5.update(_pack(np.array([len(data)], dtype="uint64")))
    if len(data) < HASH_ROWS * 2:
        md5.update(_rows_bytes(data))
        return
    head = data.iloc[:HASH_ROWS] if hasattr(data, "iloc") else data[:HASH_ROWS]
    tail = data.iloc[-HASH_ROWS:] if hasattr(data, "iloc") else data[-HASH_ROWS:]
    md5.update(_rows_bytes(head))
    md5.update(_rows_bytes(tail))


def dataset_hash(
    data: Any, targets: Any, predictions: str | None, feature_names: Sequence[str] | None
) -> str:
    """MLflow's hash of the evaluation data, as ``EvaluationDataset(...).hash``."""
    import numpy as np
    import pandas as pd

    labels = given = None
    if isinstance(data, pd.DataFrame):
        if targets is not None:
            labels = data[targets].to_numpy()
        if predictions is not None:
            given = data[predictions].to_numpy()
        if feature_names is not None:
            features: Any = data[list(feature_names)]
            names = list(feature_names)
        else:
            drop = [c for c in (targets, predictions) if c is not None]
            features = data.drop(drop, axis=1)
            names = [str(c) for c in features.columns]
    else:
        features = np.array(data) if isinstance(data, list) else data
        if targets is not None:
            labels = targets if isinstance(targets, np.ndarray) else np.array(targets)
        width = features.shape[1]
        names = (
            list(feature_names)
            if feature_names is not None
            else [
                f"feature_{str(i + 1).zfill(math.ceil(math.log10(width + 1)))}"
                for i in range(width)
            ]
        )
    md5 = hashlib.md5(usedforsecurity=False)
    _update(md5, features)
    for part in (labels, given):
        if part is not None:
            _update(md5, part)
    md5.update(",".join(map(str, names)).encode("UTF-8"))
    return md5.hexdigest()


def tag_value(existing: str | None, entry: dict[str, str]) -> str | None:
    """The tag's new value with ``entry`` appended, or None when it is there already."""
    entries = json.loads(existing or "[]")
    for old in entries:
        if all(old.get(key) == entry[key] for key in ("hash", "name", "model")):
            return None
    entries.append(entry)
    return json.dumps(entries, separators=(",", ":"))
