"""sklearn autolog's classifier plots, drawn in the background: the same PNG bytes as
MLflow's way of drawing them (pyplot under ``rc_context``, ``Display.from_estimator``),
whatever the user's rcParams, and of the model as it was fitted."""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn import metrics
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

import kiln
import kiln.sklearn
from kiln.tracking import background, fluent


@pytest.fixture
def autolog(tracking_uri: str) -> Iterator[None]:
    kiln.sklearn.autolog()
    yield
    kiln.sklearn.autolog(disable=True)


def _mlflow_way(model: Any, X: Any, y: Any) -> dict[str, bytes]:
    """The plots as MLflow's autolog draws them (and Kiln did before drawing off-thread)."""
    count = len(model.classes_)
    draws = [
        ("confusion_matrix", "Normalized confusion matrix", None),
        ("roc_curve", "ROC curve", metrics.RocCurveDisplay),
        ("precision_recall_curve", "Precision recall curve", metrics.PrecisionRecallDisplay),
    ][: 1 if count > 2 else 3]
    images = {}
    style = {"savefig.dpi": 175, "figure.autolayout": True, "font.size": 8}
    for name, title, display_class in draws:
        with matplotlib.rc_context(style):
            if display_class is None:
                inner = {"font.size": min(8.0, 50.0 / count), "axes.labelsize": 8.0}
                with matplotlib.rc_context({**inner, "figure.dpi": 175}):
                    _, ax = plt.subplots(1, 1, figsize=(6.0, 4.0))
                    display = metrics.ConfusionMatrixDisplay.from_estimator(
                        model, X, y, normalize="true", cmap="Blues", ax=ax
                    )
            else:
                display = display_class.from_estimator(model, X, y)
            display.ax_.set_title(title)
            buffer = io.BytesIO()
            display.figure_.savefig(buffer, format="png")
            plt.close(display.figure_)
        images[f"training_{name}.png"] = buffer.getvalue()
    return images


def _logged_pngs(run_id: str) -> dict[str, bytes]:
    folder = Path(fluent._client().download_artifacts(run_id, ""))
    return {p.name: p.read_bytes() for p in folder.glob("*.png")}


def _breast_cancer() -> tuple[Any, Any]:
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


CASES = {
    "binary, predict_proba": (LogisticRegression, _breast_cancer),
    "binary string labels, decision_function": (
        LinearSVC,
        lambda: (_breast_cancer()[0], np.array(["benign", "malignant"])[_breast_cancer()[1]]),
    ),
    "ten classes (smaller font)": (
        lambda: LogisticRegression(max_iter=300),
        lambda: load_digits(return_X_y=True),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_plots_are_the_pngs_mlflow_draws_whatever_the_users_rcparams(
    case: str, autolog: None
) -> None:
    make, data = CASES[case]
    X, y = data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with matplotlib.rc_context({"font.size": 20.0, "figure.dpi": 72}):  # the user's own
            model = make().fit(X, y)
            kiln.flush_async_logging()
        expected = _mlflow_way(model, X, y)
    run = kiln.last_active_run()
    assert run is not None
    assert _logged_pngs(run.info.run_id) == expected


def test_the_plots_show_the_model_as_fitted_when_it_changes_right_after(autolog: None) -> None:
    X, y = _breast_cancer()
    gate = threading.Event()
    background.run_later(lambda: gate.wait(timeout=30), "a task that holds the queue")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression().fit(X, y)
        as_fitted = deepcopy(model)
        model.fit(X, 1 - y)  # the user's next fit, while the plots are still queued
        gate.set()
        kiln.flush_async_logging()
        expected = _mlflow_way(as_fitted, X, y)
    runs = fluent.search_runs(
        experiment_ids=["0"], order_by=["start_time ASC"], output_format="list"
    )
    assert _logged_pngs(runs[0].info.run_id) == expected
    assert _logged_pngs(runs[1].info.run_id) == _mlflow_way(model, X, 1 - y)
