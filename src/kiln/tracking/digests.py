"""MLflow's dataset digests, so ``kiln.data.from_pandas(df).digest`` equals
``mlflow.data.from_pandas(df).digest`` and a run logged by either names the same data.

The rules are MLflow's (``mlflow.data.digest_utils``): an MD5 over pandas' value
hashes of at most the first 10,000 rows (frames: only the all-string and numeric
columns, then the row count and every column name; arrays: the first 10,000
flattened values and the full shape, dict keys sorted), cut to 8 hex characters.
A test pins both against the real mlflow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MAX_ROWS = 10_000  # MLflow's
DIGEST_LENGTH = 8


def _md5(elements: list[Any]) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    for element in elements:
        md5.update(element)
    return md5.hexdigest()[:DIGEST_LENGTH]


def pandas_digest(df: pd.DataFrame) -> str:
    """MLflow's digest of a DataFrame."""
    import numpy as np
    import pandas as pd

    head = df.head(MAX_ROWS)
    # MLflow keeps a column as text when every value (in all rows, not just the head) is a str
    text = [all(type(v) is str for v in df.iloc[:, i]) for i in range(df.shape[1])]
    strings = head.columns[text]
    numbers = head.select_dtypes(include=[np.number]).columns
    kept = head[strings.union(numbers)]
    return _md5(
        [pd.util.hash_pandas_object(kept).values, np.int64(len(df))]
        + [str(column).encode() for column in df.columns]
    )


def numpy_digest(
    features: np.ndarray[Any, Any] | Mapping[str, np.ndarray[Any, Any]],
    targets: np.ndarray[Any, Any] | Mapping[str, np.ndarray[Any, Any]] | None = None,
) -> str:
    """MLflow's digest of arrays (or dicts of named arrays) and optional targets."""
    import numpy as np
    import pandas as pd

    elements: list[Any] = []

    def add(array: np.ndarray[Any, Any]) -> None:
        values = array.flatten()[:MAX_ROWS]
        try:
            elements.append(pd.util.hash_array(values))
        except TypeError:  # values pandas cannot hash: their count stands in
            elements.append(np.int64(values.size))
        elements.extend(np.int64(size) for size in array.shape)

    for part in (features, targets):
        if isinstance(part, Mapping):
            for key in sorted(part):
                add(part[key])
        elif part is not None:
            add(part)
    return _md5(elements)


__all__ = ["MAX_ROWS", "numpy_digest", "pandas_digest"]
