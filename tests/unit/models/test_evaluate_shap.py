"""SHAP explainability of ``kiln.models.evaluate`` against the real
``mlflow.models.evaluate``: the same fitted scikit-learn models on sklearn's bundled
data, evaluated by both, log the same SHAP plots and metric names; the config turns
them off, and what MLflow skips with a warning Kiln skips with one too."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow_evaluate import run_mlflow_script

import kiln.models
from kiln.errors import InvalidInput
from kiln.models import sklearn as kiln_sklearn
from kiln.tracking import fluent

pytest.importorskip("shap")
pytest.importorskip("sklearn")
# the mlflow subprocess imports mlflow, numba and shap: over a minute on a busy machine
pytestmark = pytest.mark.timeout(600)

SHAP_PLOTS = ["shap_beeswarm_plot", "shap_feature_importance_plot", "shap_summary_plot"]
OFF = {"log_model_explainability": False}

MLFLOW_SCRIPT = r"""
import json, pickle, sys, warnings
warnings.filterwarnings("ignore")
import mlflow
cases = pickle.load(open(sys.argv[1], "rb"))
mlflow.set_tracking_uri("sqlite:///mlflow.db")
out = {}
for name, (model, frame, model_type, config) in cases.items():
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model")
        result = mlflow.models.evaluate(
            info.model_uri, frame, targets="label", model_type=model_type,
            evaluators="default", evaluator_config=config,
        )
        files = [f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id)]
    out[name] = {
        "metrics": sorted(result.metrics),
        "artifacts": {k: a.uri.rsplit("/", 1)[-1] for k, a in result.artifacts.items()},
        "files": sorted(files),
    }
json.dump(out, open(sys.argv[2], "w"))
"""


def _cases() -> dict[str, tuple[Any, pd.DataFrame, str, dict[str, Any]]]:
    """A linear regressor and a binary logistic regression, on 4 features and a few
    dozen rows so the explanations are quick; each with its evaluator config."""
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.linear_model import LinearRegression, LogisticRegression

    diabetes = load_diabetes(as_frame=True).frame
    regression = diabetes[["age", "bmi", "bp", "s5"]].assign(label=diabetes["target"]).head(30)
    cancer = load_breast_cancer(as_frame=True).frame
    columns = ["mean radius", "mean texture", "mean smoothness", "mean symmetry"]
    binary = cancer[columns].assign(label=cancer["target"]).sample(40, random_state=0)
    regressor = LinearRegression().fit(regression.drop(columns="label"), regression["label"])
    classifier = LogisticRegression(max_iter=5000).fit(
        binary.drop(columns="label"), binary["label"]
    )
    return {
        "regressor": (regressor, regression, "regressor", {}),
        "binary": (classifier, binary, "classifier", {}),
        "regressor_off": (regressor, regression, "regressor", OFF),
        "binary_prefix": (classifier, binary, "classifier", {"metric_prefix": "val_"}),
    }


@pytest.fixture(scope="module")
def cases() -> dict[str, tuple[Any, pd.DataFrame, str, dict[str, Any]]]:
    return _cases()


@pytest.fixture(scope="module")
def mlflow_results(
    cases: dict[str, tuple[Any, pd.DataFrame, str, dict[str, Any]]],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """What the real mlflow's default evaluator answers and logs for each case."""
    return run_mlflow_script(tmp_path_factory.mktemp("mlflow"), MLFLOW_SCRIPT, cases, 600)


def _kiln(
    case: tuple[Any, pd.DataFrame, str, dict[str, Any]],
) -> tuple[Any, list[str]]:
    model, frame, model_type, config = case
    with fluent.start_run() as run:
        info = kiln_sklearn.log_model(model, name="model")
        result = kiln.models.evaluate(
            info.model_uri,
            frame,
            targets="label",
            model_type=model_type,
            evaluators="default",
            evaluator_config=config,
        )
    files = [f.path for f in kiln.MlflowClient().list_artifacts(run.info.run_id)]
    return result, sorted(files)


def test_mlflow_logs_the_shap_plots(mlflow_results: dict[str, Any]) -> None:
    """Pins MLflow's names, so a change in mlflow (or shap missing there) shows up here."""
    assert sorted(mlflow_results["regressor"]["artifacts"]) == SHAP_PLOTS
    assert "shap_summary_plot.png" in mlflow_results["binary"]["files"]
    assert "val_shap_beeswarm_plot.png" in mlflow_results["binary_prefix"]["files"]
    assert mlflow_results["regressor_off"]["files"] == []


@pytest.mark.parametrize("name", ["regressor", "binary", "regressor_off", "binary_prefix"])
def test_the_same_artifacts_and_metric_names_as_mlflow(
    name: str,
    cases: dict[str, tuple[Any, pd.DataFrame, str, dict[str, Any]]],
    mlflow_results: dict[str, Any],
    tracking_uri: str,
) -> None:
    expected = mlflow_results[name]
    result, files = _kiln(cases[name])
    assert sorted(result.metrics) == expected["metrics"]
    assert {k: a.uri.rsplit("/", 1)[-1] for k, a in result.artifacts.items()} == expected[
        "artifacts"
    ]
    assert files == expected["files"]
    for key in SHAP_PLOTS:
        if key in result.artifacts:
            image = result.artifacts[key].content
            assert image.format == "PNG"
            assert image.size[0] > 500  # a drawn figure, not an empty canvas


def test_labels_that_are_not_numbers_are_a_warning_and_no_plots(
    cases: dict[str, tuple[Any, pd.DataFrame, str, dict[str, Any]]],
    tracking_uri: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sklearn.linear_model import LogisticRegression

    _, frame, _, _ = cases["binary"]
    named = frame.assign(label=frame["label"].map({0: "no", 1: "yes"}))
    model = LogisticRegression(max_iter=5000).fit(named.drop(columns="label"), named["label"])
    with caplog.at_level(logging.WARNING, logger="kiln.models.evaluation.explainability"):
        result, files = _kiln((model, named, "classifier", {"pos_label": "yes"}))
    assert "requires all label values to be numeric or boolean" in caplog.text
    assert "roc_curve_plot.png" in files
    assert not [f for f in files if f.startswith("shap_")]
    assert "accuracy_score" in result.metrics


def test_features_that_are_not_numbers_are_a_warning_and_no_plots(
    cases: dict[str, tuple[Any, pd.DataFrame, str, dict[str, Any]]],
    tracking_uri: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A pandas string column too (MLflow 3.17's check raises a TypeError on its dtype)."""
    model, frame, _, _ = cases["regressor"]
    numeric = list(frame.columns.drop("label"))
    data = frame.assign(group=pd.Series(["a", "b"] * 15, index=frame.index, dtype="string"))
    with caplog.at_level(logging.WARNING, logger="kiln.models.evaluation.explainability"):
        result = kiln.models.evaluate(
            lambda x: model.predict(x[numeric]), data, targets="label", model_type="regressor"
        )
    assert "requires all feature values to be numeric" in caplog.text
    assert not set(SHAP_PLOTS) & set(result.artifacts)
    assert "r2_score" in result.metrics


def test_a_failing_explanation_is_a_warning_unless_exceptions_are_not_ignored(
    cases: dict[str, tuple[Any, pd.DataFrame, str, dict[str, Any]]],
    tracking_uri: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    model, frame, kind, _ = cases["binary"]
    config = {"explainability_algorithm": "kernel", "explainability_kernel_link": "probit"}
    with caplog.at_level(logging.WARNING, logger="kiln.models.evaluation.explainability"):
        result, files = _kiln((model, frame, kind, config))
    assert "Shap evaluation failed" in caplog.text
    assert "'probit'" in caplog.text
    assert not set(SHAP_PLOTS) & set(result.artifacts)
    assert "roc_curve_plot.png" in files
    assert not [f for f in files if f.startswith("shap_")]
    with pytest.raises(ValueError, match="can only be set to 'identity' or 'logit'"):
        _kiln((model, frame, kind, {**config, "ignore_exceptions": False}))


def test_an_unknown_algorithm_is_a_clear_error(
    cases: dict[str, tuple[Any, pd.DataFrame, str, dict[str, Any]]], tracking_uri: str
) -> None:
    model, frame, kind, _ = cases["regressor"]
    with pytest.raises(InvalidInput, match="explainer algorithm tree is unsupported"):
        _kiln((model, frame, kind, {"explainability_algorithm": "tree"}))


def test_the_kernel_explainer_on_a_few_sampled_rows(
    cases: dict[str, tuple[Any, pd.DataFrame, str, dict[str, Any]]], tracking_uri: str
) -> None:
    model, frame, kind, _ = cases["binary"]
    # numpy warns when its global RNG is used after np.random.seed (as seed_everything
    # does); shap's summary plot uses it, and the plot must still be logged
    np.random.seed(0)
    config = {"explainability_algorithm": "kernel", "explainability_nsamples": 5}
    result, files = _kiln((model, frame, kind, config))
    assert {f"{name}.png" for name in SHAP_PLOTS} <= set(files)
    assert result.artifacts["shap_beeswarm_plot"].content.format == "PNG"


SHAP_MISSING = r"""
import logging, sys
sys.modules["shap"] = None  # as if shap were not installed: importing it fails
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
import kiln, kiln.models
logging.basicConfig(level=logging.WARNING)
frame = load_diabetes(as_frame=True).frame.head(20)
x = frame.drop(columns="target")
kiln.set_tracking_uri("sqlite:///kiln.db")
model = LinearRegression().fit(x, frame["target"])
result = kiln.models.evaluate(model.predict, frame, targets="target", model_type="regressor")
print(sorted(result.artifacts), "r2_score" in result.metrics)
"""


def test_without_shap_a_warning_and_the_metrics(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "KILN_"))}
    env["KILN_ARTIFACT_ROOT"] = str(tmp_path / "artifacts")
    done = subprocess.run(
        [sys.executable, "-c", SHAP_MISSING],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "SHAP or matplotlib package is not installed" in done.stderr
    assert done.stdout.strip() == "[] True"
