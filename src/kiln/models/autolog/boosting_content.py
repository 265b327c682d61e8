"""The feature importance files and the datasets the boosting autologs log.

``feature_importance_<type>.json`` and ``.png`` are drawn as MLflow draws them
(one bar per feature, or per class and feature, smallest at the bottom); the
datasets are the scikit-learn autolog's, with MLflow's digest
(``kiln.tracking.digests``), so the same data has the same digest whichever
autolog logged it.
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
def log_dataset(
    run_id: str, X: Any, y: Any, context: str, name: str | None, log: logging.Logger
) -> Dataset | None:
    """X (a frame, array or sparse matrix; with y for arrays) as a dataset input."""
    from kiln.models.autolog.sklearn_content import training_dataset
    from kiln.tracking import fluent

    dataset = training_dataset(X, y)
    if dataset is None:
        return None
    if name is not None:
        dataset = replace(dataset, name=name)
    fluent.log_input(dataset, context=context, run_id=run_id)
    return dataset


__all__ = ["log_dataset", "log_importance"]
