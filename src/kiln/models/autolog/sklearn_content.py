"""What scikit-learn autolog computes from a fitted estimator, under MLflow's names.

Training metrics (``training_*``: precision/recall/F1/accuracy, log loss and ROC
AUC for classifiers; MSE/RMSE/MAE/R2 for regressors; ``training_score`` from
``estimator.score``), the classifier plots (``training_confusion_matrix.png``,
and for two classes ``training_roc_curve.png`` and
``training_precision_recall_curve.png``), ``estimator.html``, the training
dataset input, and a search's ``cv_results.csv`` and child runs. A metric or
plot that fails is skipped with a warning, never failing the user's fit.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import tempfile
from collections.abc import Callable, Mapping
from numbers import Number
from pathlib import Path
from typing import Any

from kiln.entities import Dataset, DatasetInput, InputTag
from kiln.tracking import fluent_artifacts, system_tags

_log = logging.getLogger("kiln.autolog.sklearn")

TRAINING_PREFIX = "training_"
DATASET_CONTEXT_TAG = "mlflow.data.context"
_HTML = """
<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8"/>
  </head>
  <body>
    {body}
  </body>
</html>
"""


def estimator_tags(estimator: Any) -> dict[str, str]:
    cls = type(estimator)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__name__}"}


def is_search(estimator: Any) -> bool:
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

    return isinstance(estimator, GridSearchCV | RandomizedSearchCV)


def _accepts(function: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _compute(metrics: dict[str, tuple[Callable[..., Any], dict[str, Any]]]) -> dict[str, float]:
    values: dict[str, float] = {}
    for name, (function, kwargs) in metrics.items():
        try:
            values[name] = float(function(**kwargs))
        except Exception as exc:
            _log.warning("the metric %s is not logged: %s", name, exc)
    return values


def classifier_metrics(
    model: Any, X: Any, y: Any, weight: Any, pos_label: Any, prefix: str
) -> dict[str, float]:
    """MLflow's classifier metrics: weighted averages, or binary ones with ``pos_label``."""
    from sklearn import metrics

    average = "weighted" if pos_label is None else "binary"
    y_pred = model.predict(X)
    labelled = {"y_true": y, "y_pred": y_pred, "pos_label": pos_label, "average": average}
    todo: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
        f"{prefix}precision_score": (
            metrics.precision_score,
            {**labelled, "sample_weight": weight},
        ),
        f"{prefix}recall_score": (metrics.recall_score, {**labelled, "sample_weight": weight}),
        f"{prefix}f1_score": (metrics.f1_score, {**labelled, "sample_weight": weight}),
        f"{prefix}accuracy_score": (
            metrics.accuracy_score,
            {"y_true": y, "y_pred": y_pred, "normalize": True, "sample_weight": weight},
        ),
    }
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(X)
        # Positional: scikit-learn 1.9 renamed log_loss's y_pred to y_proba.
        todo[f"{prefix}log_loss"] = (
            lambda y_true, y_score, sample_weight: metrics.log_loss(
                y_true, y_score, sample_weight=sample_weight
            ),
            {"y_true": y, "y_score": proba, "sample_weight": weight},
        )
        score = proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba
        todo[f"{prefix}roc_auc"] = (
            metrics.roc_auc_score,
            {
                "y_true": y,
                "y_score": score,
                "average": "weighted",
                "sample_weight": weight,
                "multi_class": "ovo",
            },
        )
    return _compute(todo)


def regressor_metrics(model: Any, X: Any, y: Any, weight: Any, prefix: str) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics

    y_pred = model.predict(X)
    args = {"y_true": y, "y_pred": y_pred, "sample_weight": weight}
    args["multioutput"] = "uniform_average"
    values = _compute(
        {
            f"{prefix}mean_squared_error": (metrics.mean_squared_error, args),
            f"{prefix}mean_absolute_error": (metrics.mean_absolute_error, args),
            f"{prefix}r2_score": (metrics.r2_score, args),
        }
    )
    mse = values.get(f"{prefix}mean_squared_error")
    if mse is not None:
        values[f"{prefix}root_mean_squared_error"] = float(np.sqrt(mse))
    return values


def training_metrics(
    model: Any, X: Any, y: Any, weight: Any, pos_label: Any, prefix: str = TRAINING_PREFIX
) -> dict[str, float]:
    """The metrics MLflow's autolog logs for ``model`` on its training data."""
    from sklearn.base import is_classifier, is_regressor

    values: dict[str, float] = {}
    if y is None:
        return values
    try:
        if is_classifier(model):
            values = classifier_metrics(model, X, y, weight, pos_label, prefix)
        elif is_regressor(model):
            values = regressor_metrics(model, X, y, weight, prefix)
    except Exception as exc:
        _log.warning("metrics for %s are not logged: %s", type(model).__name__, exc)
    if hasattr(model, "score"):
        try:
            with_weight = _accepts(model.score, "sample_weight")
            score = model.score(X, y, weight) if with_weight else model.score(X, y)
            values[f"{prefix}score"] = float(score)
        except Exception as exc:
            _log.warning("%s.score failed; training_score is not logged: %s", type(model), exc)
    return values


def _plots(model: Any, X: Any, y: Any, weight: Any, prefix: str) -> list[tuple[str, Any, str]]:
    from sklearn import metrics

    def confusion() -> Any:
        import matplotlib
        import matplotlib.pyplot as plt

        labels = getattr(model, "classes_", None)
        count = len(labels) if labels is not None else len(set(y))
        style: Any = {
            "font.size": min(8.0, 50.0 / count),
            "axes.labelsize": 8.0,
            "figure.dpi": 175,
        }
        with matplotlib.rc_context(style):
            _, ax = plt.subplots(1, 1, figsize=(6.0, 4.0))
            return metrics.ConfusionMatrixDisplay.from_estimator(
                model, X, y, sample_weight=weight, normalize="true", cmap="Blues", ax=ax
            )

    plots: list[tuple[str, Any, str]] = [
        (f"{prefix}confusion_matrix", confusion, "Normalized confusion matrix")
    ]
    if len(set(y)) == 2:
        for name, display, title in (
            ("roc_curve", metrics.RocCurveDisplay, "ROC curve"),
            ("precision_recall_curve", metrics.PrecisionRecallDisplay, "Precision recall curve"),
        ):
            plots.append(
                (
                    f"{prefix}{name}",
                    lambda d=display: d.from_estimator(model, X, y, sample_weight=weight),
                    title,
                )
            )
    return plots


def log_classifier_plots(run_id: str, model: Any, X: Any, y: Any, weight: Any, prefix: str) -> None:
    """The PNG plots MLflow logs for a classifier (needs matplotlib, skipped without)."""
    from sklearn.base import is_classifier

    if y is None or not is_classifier(model):
        return
    try:
        import matplotlib
        import matplotlib.pyplot as plt
    except ImportError as exc:
        _log.warning("matplotlib is not installed (%s): no classifier plots", exc)
        return
    with tempfile.TemporaryDirectory(prefix="kiln-autolog-") as tmp:
        for name, draw, title in _plots(model, X, y, weight, prefix):
            try:
                with matplotlib.rc_context(
                    {
                        "savefig.dpi": 175,
                        "figure.autolayout": True,
                        "font.size": 8,
                    }
                ):
                    display = draw()
                    display.ax_.set_title(title)
                    display.figure_.savefig(Path(tmp) / f"{name}.png", format="png")
                    plt.close(display.figure_)
            except Exception as exc:
                _log.warning("the plot %s is not logged: %s", name, exc)
        fluent_artifacts.log_artifacts(tmp, None, run_id=run_id)


def log_estimator_html(run_id: str, estimator: Any) -> None:
    from sklearn.utils import estimator_html_repr

    html = _HTML.format(body=estimator_html_repr(estimator))
    fluent_artifacts.log_text(html, "estimator.html", run_id=run_id)


def _source() -> str:
    tags = system_tags.resolve_system_tags({})
    return json.dumps({"tags": tags})


def _array_spec(array: Any) -> str:
    spec = {"dtype": str(array.dtype), "shape": [-1, *array.shape[1:]]}
    return json.dumps([{"type": "tensor", "tensor-spec": spec}])


def training_dataset(X: Any, y: Any) -> Dataset | None:
    """X (and y, for arrays) as the dataset input MLflow's autolog logs; None otherwise."""
    import numpy as np
    import pandas as pd

    from kiln.tracking.datasets import frame_digest, frame_profile, frame_schema

    if isinstance(X, pd.DataFrame):
        return Dataset(
            "dataset", frame_digest(X), "code", _source(), frame_schema(X), frame_profile(X)
        )
    if hasattr(X, "toarray") and not isinstance(X, np.ndarray):  # scipy sparse
        X = X.toarray()
    if not isinstance(X, np.ndarray):
        _log.warning("unrecognized dataset type %s: dataset not logged", type(X))
        return None
    parts = {"features": X}
    if y is not None:
        parts["targets"] = np.asarray(y.toarray() if hasattr(y, "toarray") else y)
    sha = hashlib.sha256()
    schema: dict[str, str] = {}
    profile: dict[str, Any] = {}
    for name, array in parts.items():
        sha.update(str((name, array.dtype.str, array.shape)).encode())
        sha.update(np.ascontiguousarray(array).tobytes())
        schema[name] = _array_spec(array)
        profile |= {
            f"{name}_shape": list(array.shape),
            f"{name}_size": int(array.size),
            f"{name}_nbytes": int(array.nbytes),
        }
    return Dataset(
        "dataset",
        sha.hexdigest()[:8],
        "code",
        _source(),
        json.dumps({"mlflow_tensorspec": schema}),
        json.dumps(profile),
    )


def train_input(dataset: Dataset) -> DatasetInput:
    return DatasetInput(dataset, (InputTag(DATASET_CONTEXT_TAG, "train"),))


def numeric_row_metrics(row: Mapping[Any, Any]) -> dict[str, float]:
    """A ``cv_results_`` row's aggregate numbers (no ``param_*`` nor ``split*`` columns)."""
    return {
        str(k): float(v)  # type: ignore[arg-type]  # a Number that is not bool
        for k, v in row.items()
        if not str(k).startswith(("param", "split"))
        and isinstance(v, Number)
        and not isinstance(v, bool)
    }


__all__ = [
    "TRAINING_PREFIX",
    "estimator_tags",
    "is_search",
    "log_classifier_plots",
    "log_estimator_html",
    "numeric_row_metrics",
    "train_input",
    "training_dataset",
    "training_metrics",
]
