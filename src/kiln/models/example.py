"""Input examples saved next to a model, in MLflow's files and formats.

A DataFrame (or a dict / list of rows, made into one) is stored in pandas
``split`` orient, ``{"columns": [...], "data": [[...], ...]}``, with type
``dataframe``; a numpy array is stored as nested lists with type ``ndarray``.
``serving_input_example.json`` holds the same data as a scoring-server request
body (``dataframe_split`` or ``inputs``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kiln.errors import InvalidInput
from kiln.models.signature import to_frame

EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp | np.datetime64):
        return str(value)
    if isinstance(value, bytes):
        raise InvalidInput("binary values in an input example are not supported")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def save_example(folder: str | Path, example: Any) -> dict[str, Any]:
    """Write the example files into ``folder``.

    Returns:
        The ``saved_input_example_info`` entry for ``MLmodel``.

    Raises:
        InvalidInput: an example that is neither tabular nor an array.
    """
    target = Path(folder)
    if isinstance(example, np.ndarray):
        data: Any = example.tolist()
        info: dict[str, Any] = {"artifact_path": EXAMPLE_FILE, "type": "ndarray"}
        serving: dict[str, Any] = {"inputs": data}
    else:
        if isinstance(example, Mapping) and not example:
            raise InvalidInput("an input example may not be empty")
        frame = to_frame(example)
        data = {
            "columns": [str(c) for c in frame.columns],
            "data": frame.to_numpy(dtype=object).tolist(),
        }
        info = {"artifact_path": EXAMPLE_FILE, "pandas_orient": "split", "type": "dataframe"}
        serving = {"dataframe_split": data}
    (target / EXAMPLE_FILE).write_text(json.dumps(data, default=_jsonable), encoding="utf-8")
    (target / SERVING_EXAMPLE_FILE).write_text(
        json.dumps(serving, default=_jsonable, indent=2), encoding="utf-8"
    )
    info["serving_input_path"] = SERVING_EXAMPLE_FILE
    return dict(sorted(info.items()))


def load_example(folder: str | Path, info: Mapping[str, Any] | None) -> Any:
    """Read the example back: a DataFrame, a numpy array, or None when there is none."""
    if not info:
        return None
    path = Path(folder) / str(info.get("artifact_path", EXAMPLE_FILE))
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    kind = info.get("type")
    if kind == "ndarray":
        return np.asarray(data)
    if kind == "dataframe":
        orient = info.get("pandas_orient", "split")
        if orient == "split":
            return pd.DataFrame(data["data"], columns=data["columns"])
        return pd.DataFrame.from_records(data)
    return data


__all__ = ["EXAMPLE_FILE", "SERVING_EXAMPLE_FILE", "load_example", "save_example"]
