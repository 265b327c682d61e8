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

import inspect
import json
import logging
from collections.abc import Callable, Mapping
from numbers import Number
from typing import Any

from kiln.entities import Dataset, DatasetInput, InputTag
from kiln.models.autolog.patching import original_of
from kiln.tracking import background, fluent, system_tags

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
    model: Any, X: Any, y: Any, weight: Any, pos_label: Any, prefix: str, y_pred: Any = None
) -> dict[str, float]:
    """MLflow's classifier metrics: weighted averages, or binary ones with ``pos_label``.

    Precision, recall and F1 come from one ``precision_recall_fscore_support`` call
    (the values ``precision_score``, ``recall_score`` and ``f1_score`` answer), and
    the unpatched functions are called: post-training metrics must not see them.
    """
    from sklearn import metrics

    average = "weighted" if pos_label is None else "binary"
    if y_pred is None:
        y_pred = model.predict(X)
    values: dict[str, float] = {}
    try:
        precision, recall, f1, _ = original_of(metrics.precision_recall_fscore_support)(
            y, y_pred, average=average, pos_label=pos_label, sample_weight=weight
        )
        values[f"{prefix}precision_score"] = float(precision)
        values[f"{prefix}recall_score"] = float(recall)
        values[f"{prefix}f1_score"] = float(f1)
    except Exception as exc:
        _log.warning("precision, recall and F1 are not logged: %s", exc)
    todo: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
        f"{prefix}accuracy_score": (
            original_of(metrics.accuracy_score),
            {"y_true": y, "y_pred": y_pred, "normalize": True, "sample_weight": weight},
        ),
    }
    if hasattr(model, "predict_proba"):
        proba = model.predict_proba(X)
        log_loss = original_of(metrics.log_loss)
        # Positional: scikit-learn 1.9 renamed log_loss's y_pred to y_proba.
        todo[f"{prefix}log_loss"] = (
            lambda y_true, y_score, sample_weight: log_loss(
                y_true, y_score, sample_weight=sample_weight
            ),
            {"y_true": y, "y_score": proba, "sample_weight": weight},
        )
        score = proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba
        todo[f"{prefix}roc_auc"] = (
            original_of(metrics.roc_auc_score),
            {
                "y_true": y,
                "y_score": score,
                "average": "weighted",
                "sample_weight": weight,
                "multi_class": "ovo",
            },
        )
    return values | _compute(todo)


def regressor_metrics(model: Any, X: Any, y: Any, weight: Any, prefix: str) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics

    y_pred = model.predict(X)
    args = {"y_true": y, "y_pred": y_pred, "sample_weight": weight}
    args["multioutput"] = "uniform_average"
    values = _compute(
        {
            f"{prefix}mean_squared_error": (original_of(metrics.mean_squared_error), args),
            f"{prefix}mean_absolute_error": (original_of(metrics.mean_absolute_error), args),
            f"{prefix}r2_score": (original_of(metrics.r2_score), args),
        }
    )
    mse = values.get(f"{prefix}mean_squared_error")
    if mse is not None:
        values[f"{prefix}root_mean_squared_error"] = float(np.sqrt(mse))
    return values


def training_metrics(
    model: Any,
    X: Any,
    y: Any,
    weight: Any,
    pos_label: Any,
    prefix: str = TRAINING_PREFIX,
    y_pred: Any = None,
) -> dict[str, float]:
    """The metrics MLflow's autolog logs for ``model`` on its training data (``y_pred``:
    a classifier's ``predict(X)``, when the caller has it already)."""
    from sklearn.base import is_classifier, is_regressor

    values: dict[str, float] = {}
    if y is None:
        return values
    try:
        if is_classifier(model):
            values = classifier_metrics(model, X, y, weight, pos_label, prefix, y_pred)
        elif is_regressor(model):
            values = regressor_metrics(model, X, y, weight, prefix)
    except Exception as exc:
        _log.warning("metrics for %s are not logged: %s", type(model).__name__, exc)
    if hasattr(model, "score"):
        same = _score_computed(model, values, prefix)
        if same is not None:
            values[f"{prefix}score"] = same
            return values
        try:
            with_weight = _accepts(model.score, "sample_weight")
            score = model.score(X, y, weight) if with_weight else model.score(X, y)
            values[f"{prefix}score"] = float(score)
        except Exception as exc:
            _log.warning("%s.score failed; training_score is not logged: %s", type(model), exc)
    return values


def _score_computed(model: Any, values: Mapping[str, float], prefix: str) -> float | None:
    """``model.score`` when it is scikit-learn's own mixin method, whose value is already
    in ``values`` (accuracy for a classifier, R2 for a regressor): one prediction less."""
    from sklearn.base import ClassifierMixin, RegressorMixin

    score = original_of(inspect.getattr_static(type(model), "score", None))
    if score is ClassifierMixin.score:
        return values.get(f"{prefix}accuracy_score")
    if score is RegressorMixin.score:
        return values.get(f"{prefix}r2_score")
    return None


def log_classifier_plots(
    run_id: str, model: Any, X: Any, y: Any, weight: Any, prefix: str, y_pred: Any = None
) -> None:
    """Queue the PNG plots MLflow logs for a classifier (``kiln.models.autolog.sklearn_plots``:
    drawn and stored in the background); skipped without matplotlib."""
    from sklearn.base import is_classifier

    if y is None or not is_classifier(model):
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        _log.warning("matplotlib is not installed (%s): no classifier plots", exc)
        return
    from kiln.models.autolog import sklearn_plots

    try:
        data = sklearn_plots.plot_data(
            model, X, y, weight, prefix, model.predict(X) if y_pred is None else y_pred
        )
    except Exception as exc:
        _log.warning("no classifier plots: %s", exc)
        return
    client, run = fluent._target(run_id)

    def task() -> None:
        for name, image in sklearn_plots.render(data).items():
            client.log_bytes(run, image, name)

    background.run_later(task, f"the classifier plots of run {run}")


def log_estimator_html(run_id: str, estimator: Any) -> None:
    """``estimator.html``: the page is made now (the estimator may change), written in
    the background (``kiln.tracking.background``)."""
    from sklearn.utils import estimator_html_repr

    html = _HTML.format(body=estimator_html_repr(estimator))
    client, run = fluent._target(run_id)
    background.run_later(
        lambda: client.log_text(run, html, "estimator.html"), f"estimator.html of run {run}"
    )


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

    from kiln.tracking.datasets import frame_profile, frame_schema
    from kiln.tracking.digests import numpy_digest, pandas_digest

    if isinstance(X, pd.DataFrame):
        return Dataset(
            "dataset", pandas_digest(X), "code", _source(), frame_schema(X), frame_profile(X)
        )
    if hasattr(X, "toarray") and not isinstance(X, np.ndarray):  # scipy sparse
        X = X.toarray()
    if not isinstance(X, np.ndarray):
        _log.warning("unrecognized dataset type %s: dataset not logged", type(X))
        return None
    parts = {"features": X}
    if y is not None:
        parts["targets"] = np.asarray(y.toarray() if hasattr(y, "toarray") else y)
    schema: dict[str, str] = {}
    profile: dict[str, Any] = {}
    for name, array in parts.items():
        schema[name] = _array_spec(array)
        profile |= {
            f"{name}_shape": list(array.shape),
            f"{name}_size": int(array.size),
            f"{name}_nbytes": int(array.nbytes),
        }
    return Dataset(
        "dataset",
        numpy_digest(X, parts.get("targets")),  # MLflow's, as mlflow.data.from_numpy
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
