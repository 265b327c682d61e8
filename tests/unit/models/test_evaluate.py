"""``kiln.models.evaluate`` against the real ``mlflow.models.evaluate``: the same fitted
scikit-learn models, evaluated by both, log the same metric names and values and the
same artifact files; ``validate_evaluation_results`` gates a worse candidate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow_evaluate import run_mlflow_script

import kiln
import kiln.models
from kiln.errors import InvalidInput, ModelValidationFailed
from kiln.models import sklearn as kiln_sklearn
from kiln.models.evaluation import (
    EvaluationResult,
    MetricThreshold,
    ModelValidationFailedException,
    validate_evaluation_results,
)
from kiln.tracking import fluent

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

CASES = ("regressor", "binary", "multiclass")

MLFLOW_SCRIPT = r"""
import json, pickle, sys, warnings
warnings.filterwarnings("ignore")
import mlflow
cases = pickle.load(open(sys.argv[1], "rb"))
mlflow.set_tracking_uri("sqlite:///mlflow.db")
out = {}
for name, (model, frame, model_type) in cases.items():
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model")
        # SHAP off: slow on 150 rows, and compared in test_evaluate_shap.py
        result = mlflow.models.evaluate(
            info.model_uri, frame, targets="label", model_type=model_type, evaluators="default",
            evaluator_config={"log_model_explainability": False},
        )
        files = [f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id)]
        inputs = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    out[name] = {
        "metrics": {k: float(v) for k, v in result.metrics.items()},
        "artifacts": {k: a.uri.rsplit("/", 1)[-1] for k, a in result.artifacts.items()},
        "files": sorted(files),
        "inputs": [[i.dataset.name, i.dataset.source_type] for i in inputs],
    }
json.dump(out, open(sys.argv[2], "w"))
"""


def _cases() -> dict[str, tuple[Any, pd.DataFrame, str]]:
    """Fitted models with their evaluation frames (a ``label`` column) and model types."""
    from sklearn.datasets import make_classification, make_regression
    from sklearn.linear_model import LinearRegression, LogisticRegression

    def frame(x: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])]).assign(label=y)

    xr, yr = make_regression(n_samples=150, n_features=4, noise=5.0, random_state=0)
    yr = yr + 300.0  # positive targets: mean_absolute_percentage_error stays small
    xb, yb = make_classification(n_samples=150, n_features=5, random_state=1)
    xm, ym = make_classification(
        n_samples=150, n_features=6, n_informative=4, n_classes=3, random_state=2
    )
    out = {}
    for name, (x, y, model, kind) in {
        "regressor": (xr, yr, LinearRegression(), "regressor"),
        "binary": (xb, yb, LogisticRegression(max_iter=1000), "classifier"),
        "multiclass": (xm, ym, LogisticRegression(max_iter=1000), "classifier"),
    }.items():
        data = frame(x, y)
        model.fit(data.drop(columns="label"), y)
        out[name] = (model, data, kind)
    return out


@pytest.fixture(scope="module")
def cases() -> dict[str, tuple[Any, pd.DataFrame, str]]:
    return _cases()


@pytest.fixture(scope="module")
def mlflow_results(
    cases: dict[str, tuple[Any, pd.DataFrame, str]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """What the real mlflow's default evaluator answers and logs for each case (one
    subprocess on a temporary SQLite store)."""
    return run_mlflow_script(tmp_path_factory.mktemp("mlflow"), MLFLOW_SCRIPT, cases, 300)


def _kiln_evaluate(
    case: tuple[Any, pd.DataFrame, str],
) -> tuple[EvaluationResult, list[str], list[list[str]]]:
    model, frame, model_type = case
    with fluent.start_run() as run:
        info = kiln_sklearn.log_model(model, name="model")
        result = kiln.models.evaluate(
            info.model_uri,
            frame,
            targets="label",
            model_type=model_type,
            evaluators="default",
            evaluator_config={"log_model_explainability": False},
        )
    stored = fluent.get_run(run.info.run_id)
    # As in MLflow 3 the model is a logged model, not one of the run's artifacts.
    files = [f.path for f in kiln.MlflowClient().list_artifacts(run.info.run_id)]
    assert result.run_id == run.info.run_id
    assert stored.data.metrics == pytest.approx(result.metrics)
    inputs = [
        # Not the digest: kiln.data.from_pandas's differs from mlflow.data's today.
        [i.dataset.name, i.dataset.source_type]
        for i in stored.inputs.dataset_inputs
    ]
    return result, sorted(files), inputs


@pytest.mark.parametrize("name", CASES)
def test_the_same_metrics_and_artifacts_as_mlflow(
    name: str,
    cases: dict[str, tuple[Any, pd.DataFrame, str]],
    mlflow_results: dict[str, Any],
    tracking_uri: str,
) -> None:
    expected = mlflow_results[name]
    result, files, inputs = _kiln_evaluate(cases[name])
    assert inputs == expected["inputs"]
    assert sorted(result.metrics) == sorted(expected["metrics"])
    for key, value in expected["metrics"].items():
        assert result.metrics[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
    names = {k: a.uri.rsplit("/", 1)[-1] for k, a in result.artifacts.items()}
    assert names == expected["artifacts"]
    assert files == expected["files"]
    for artifact in result.artifacts.values():
        head = artifact.content.format if artifact.uri.endswith(".png") else None
        assert head in (None, "PNG")


def test_the_classifier_names_mlflow_logs(
    mlflow_results: dict[str, Any],
) -> None:
    """Pins the names themselves, so a change in mlflow shows up here."""
    assert sorted(mlflow_results["binary"]["files"]) == [
        "calibration_curve_plot.png",
        "confusion_matrix.png",
        "lift_curve_plot.png",
        "precision_recall_curve_plot.png",
        "roc_curve_plot.png",
    ]
    assert "per_class_metrics.csv" in mlflow_results["multiclass"]["files"]
    assert {"true_positives", "roc_auc", "precision_recall_auc", "log_loss"} <= set(
        mlflow_results["binary"]["metrics"]
    )


def test_a_callable_on_arrays_in_a_run_it_starts_and_ends(
    cases: dict[str, tuple[Any, pd.DataFrame, str]], tracking_uri: str
) -> None:
    model, frame, _ = cases["regressor"]
    x = frame.drop(columns="label").to_numpy()

    def predict(features: np.ndarray) -> np.ndarray:
        return np.asarray(features @ model.coef_ + model.intercept_)

    result = kiln.evaluate(predict, x, targets=frame["label"].to_numpy(), model_type="regressor")
    assert fluent.active_run() is None
    assert "score" not in result.metrics  # only a scikit-learn pyfunc model is scored
    assert result.metrics["r2_score"] == pytest.approx(
        model.score(frame.drop(columns="label"), frame["label"])
    )
    run = fluent.get_run(str(result.run_id))
    assert run.info.status == "FINISHED"
    assert run.data.metrics["example_count"] == len(x)


def test_predictions_given_in_the_data_and_a_metric_prefix(
    cases: dict[str, tuple[Any, pd.DataFrame, str]], tracking_uri: str
) -> None:
    model, frame, _ = cases["binary"]
    data = frame.assign(pred=model.predict(frame.drop(columns="label")))
    result = kiln.models.evaluate(
        data=data,
        targets="label",
        predictions="pred",
        model_type="classifier",
        evaluator_config={"metric_prefix": "val_"},
    )
    assert "val_accuracy_score" in result.metrics
    assert "val_log_loss" not in result.metrics  # no probabilities without a model
    assert result.artifacts["confusion_matrix"].uri.endswith("/val_confusion_matrix.png")
    (used,) = fluent.get_run(str(result.run_id)).inputs.dataset_inputs
    assert (used.dataset.name, used.context) == ("dataset", "val_")  # MLflow's context tag


def test_bad_arguments_are_clear_errors(
    cases: dict[str, tuple[Any, pd.DataFrame, str]], tracking_uri: str
) -> None:
    _, frame, _ = cases["regressor"]
    with pytest.raises(InvalidInput, match="model_type='text' is not supported"):
        kiln.models.evaluate(len, frame, targets="label", model_type="text")
    with pytest.raises(InvalidInput, match="targets='y' is not a column"):
        kiln.models.evaluate(len, frame, targets="y", model_type="regressor")
    with pytest.raises(InvalidInput, match="Either a model or set of predictions"):
        kiln.models.evaluate(data=frame, targets="label", model_type="regressor")


def _result(**metrics: float) -> EvaluationResult:
    return EvaluationResult(metrics=dict(metrics))


def test_validation_passes_a_good_candidate_and_names_each_failure() -> None:
    thresholds = {
        "accuracy_score": MetricThreshold(threshold=0.8, greater_is_better=True),
        "log_loss": MetricThreshold(threshold=0.5, greater_is_better=False),
    }
    validate_evaluation_results(thresholds, _result(accuracy_score=0.9, log_loss=0.2))
    with pytest.raises(ModelValidationFailed, match="accuracy_score value threshold") as caught:
        kiln.validate_evaluation_results(thresholds, _result(accuracy_score=0.7, log_loss=0.6))
    message = str(caught.value)
    assert "candidate model accuracy_score = 0.7, accuracy_score threshold = 0.8" in message
    assert "candidate model log_loss = 0.6, log_loss threshold = 0.5" in message
    assert ModelValidationFailedException is ModelValidationFailed


def test_validation_against_a_baseline() -> None:
    thresholds = {
        "r2_score": MetricThreshold(
            min_absolute_change=0.01, min_relative_change=0.05, greater_is_better=True
        ),
        "mean_squared_error": MetricThreshold(min_relative_change=0.1, greater_is_better=False),
    }
    baseline = _result(r2_score=0.6, mean_squared_error=100.0)
    validate_evaluation_results(
        thresholds, _result(r2_score=0.7, mean_squared_error=80.0), baseline
    )
    with pytest.raises(ModelValidationFailed, match="r2_score minimum relative change") as caught:
        validate_evaluation_results(
            thresholds, _result(r2_score=0.62, mean_squared_error=95.0), baseline
        )
    message = str(caught.value)
    assert "baseline model mean_squared_error = 100.0" in message
    assert "r2_score minimum absolute change" not in message  # 0.62 clears +0.01
    with pytest.raises(ModelValidationFailed, match="missing from the evaluation result of the"):
        validate_evaluation_results(thresholds, _result(r2_score=0.9), baseline)


def test_a_bad_threshold_is_refused() -> None:
    with pytest.raises(InvalidInput, match="`greater_is_better` parameter must be a boolean"):
        MetricThreshold(threshold=0.5)
    with pytest.raises(InvalidInput, match="no threshold was specified"):
        MetricThreshold(greater_is_better=True)
    with pytest.raises(InvalidInput, match="must be between 0 and 1"):
        MetricThreshold(min_relative_change=1.5, greater_is_better=True)
    with pytest.raises(InvalidInput, match="maps strings to MetricThreshold"):
        validate_evaluation_results({"x": 0.5}, _result(x=1.0))  # type: ignore[dict-item]
