"""The feature importance files and the datasets the boosting autologs log.

``feature_importance_<type>.json`` and ``.png`` are drawn as MLflow draws them
(one bar per feature, or per class and feature, smallest at the bottom); the
array datasets get MLflow's digest, so the same arrays have the same digest
whichever of the two logged them.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiln.entities import Dataset

_DIGEST_VALUES = 10_000  # MLflow hashes this many values (rows of a frame)


# artifacts --------------------------------------------------------------------
def _importance_plot(features: Sequence[str], importance: Any, importance_type: str) -> Any:
    """A horizontal bar chart, one bar per feature (one per class and feature when
    ``importance`` has a row of values per feature), smallest at the bottom."""
    import matplotlib.pyplot as plt
    import numpy as np

    names = np.array(features)
    values = np.array(importance)
    per_class = values.ndim > 1
    order = np.argsort(np.abs(values).sum(axis=1)) if per_class else np.argsort(values)
    names = names[order]
    values = values[order] if per_class else values[order].reshape(-1, 1)
    classes, count = values.shape[1], len(names)
    height = 4.8 + (0.1 * count if count > 10 else 0) + (0.1 * classes if classes > 1 else 0)
    fig, ax = plt.subplots(figsize=(6.4, height))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"][:classes]
    offsets = np.linspace(-0.5, 0.5, classes) / 2 if classes > 1 else [0.0]
    for row, class_values in enumerate(values):
        for index, (offset, value) in enumerate(zip(offsets, class_values, strict=False)):
            (bar,) = ax.barh(
                row + offset,
                value,
                align="center",
                height=0.5 / max(classes - 1, 1),
                color=colors[index % len(colors)],
            )
            if per_class and row == 0:
                bar.set_label(f"Class {index}")
    ax.set_yticks(np.arange(count))
    ax.set_yticklabels(names)
    ax.set_xlabel("Importance")
    ax.set_title(f"Feature Importance ({importance_type})")
    if per_class:
        ax.legend()
    fig.tight_layout()
    return fig


def log_importance(
    run_id: str,
    importance_type: str,
    importance: Mapping[str, Any],
    log: logging.Logger,
    indent: int | None = None,
) -> None:
    """``feature_importance_<type>.png`` (needs matplotlib) and ``.json``."""
    from kiln.tracking import fluent_artifacts

    with tempfile.TemporaryDirectory(prefix="kiln-autolog-") as tmp:
        try:
            import matplotlib.pyplot as plt

            figure = _importance_plot(list(importance), list(importance.values()), importance_type)
            try:
                png = Path(tmp) / f"feature_importance_{importance_type}.png"
                figure.savefig(png)
                fluent_artifacts.log_artifact(png, run_id=run_id)
            finally:
                plt.close(figure)
        except Exception as exc:
            log.warning("the feature importance plot (%s) is not logged: %s", importance_type, exc)
        path = Path(tmp) / f"feature_importance_{importance_type}.json"
        path.write_text(json.dumps(dict(importance), indent=indent))
        fluent_artifacts.log_artifact(path, run_id=run_id)


# datasets ---------------------------------------------------------------------
def numpy_digest(features: Any, targets: Any = None) -> str:
    """MLflow's digest of an array dataset (``compute_numpy_digest``), so that the same
    arrays get the same digest from either: md5 of pandas' hash of the first
    10,000 values and of the shape, for the features and then the targets."""
    import hashlib

    import numpy as np
    import pandas as pd

    md5 = hashlib.md5(usedforsecurity=False)
    for item in (features, targets):
        if item is None:
            continue
        array = np.asarray(item.toarray() if hasattr(item, "toarray") else item)
        flat = array.flatten()[:_DIGEST_VALUES]
        try:
            md5.update(pd.util.hash_array(flat).tobytes())
        except TypeError:
            md5.update(np.int64(flat.size).tobytes())
        for size in array.shape:
            md5.update(np.int64(size).tobytes())
    return md5.hexdigest()[:8]


def pandas_digest(frame: Any) -> str:
    """MLflow's digest of a frame (``compute_pandas_digest``): md5 of pandas' hash of
    the first 10,000 rows' string and number columns, the row count and the names."""
    import hashlib

    import numpy as np
    import pandas as pd

    head = frame.head(_DIGEST_VALUES)
    strings = head.columns[frame.map(lambda value: type(value) is str).all(axis=0)]
    numbers = head.select_dtypes(include=[np.number]).columns
    head = head[strings.union(numbers)]
    md5 = hashlib.md5(usedforsecurity=False)
    md5.update(np.ascontiguousarray(pd.util.hash_pandas_object(head).values).tobytes())
    md5.update(np.int64(len(frame)).tobytes())
    for column in frame.columns:
        md5.update(str(column).encode())
    return md5.hexdigest()[:8]


def log_dataset(
    run_id: str, X: Any, y: Any, context: str, name: str | None, log: logging.Logger
) -> Dataset | None:
    """X (a frame, array or sparse matrix; with y for arrays) as a dataset input."""
    from kiln.models.autolog.sklearn_content import training_dataset
    from kiln.tracking import fluent

    dataset = training_dataset(X, y)
    if dataset is None:
        return None
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        dataset = replace(dataset, digest=pandas_digest(X))
    elif "mlflow_tensorspec" in (dataset.schema or ""):
        dataset = replace(dataset, digest=numpy_digest(X, y))
    if name is not None:
        dataset = replace(dataset, name=name)
    fluent.log_input(dataset, context=context, run_id=run_id)
    return dataset


__all__ = ["log_dataset", "log_importance", "numpy_digest", "pandas_digest"]
