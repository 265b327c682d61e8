"""kiln.xgboost/kiln.lightgbm autolog against the real mlflow.xgboost/mlflow.lightgbm autolog.

Each case trains the same small model once under MLflow's autolog (its own
SQLite store) and once under Kiln's, then compares param names, metric names
with the steps of each, tag keys, the run's artifacts, the model's files and
the dataset inputs. MLflow 3 keeps the model outside the run's artifacts, so
the model's files are compared apart (Kiln's read through ``runs:/<run>/model``).
Git tags and ``mlflow.log-model.history`` are left out: each side's
``start_run`` resolves git tags from the process, and Kiln records the history.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import lightgbm as lgb
import mlflow
import mlflow.lightgbm
import mlflow.xgboost
import numpy as np
import pytest
import xgboost as xgb
from boosting_cases import (
    frame,
    iris,
    lgb_frame,
    lgb_sklearn,
    lgb_train,
    xgb_frame,
    xgb_sklearn,
    xgb_train,
)
from mlflow import MlflowClient
from sklearn.datasets import load_diabetes

import kiln
import kiln.lightgbm
import kiln.pyfunc
import kiln.sklearn
import kiln.xgboost
from kiln.models.resolve import download_model
from kiln.tracking import fluent

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # the real mlflow, seconds a case
SKIPPED_TAGS = ("mlflow.log-model.history", "mlflow.source.git.")


@dataclass
class Logged:
    """What one run holds, by name."""

    params: dict[str, str]
    steps: dict[str, list[int]]  # metric -> the steps of its points
    values: dict[str, list[float]]  # metric -> the values of its points
    tags: set[str]
    artifacts: set[str]  # the run's own, without the model
    model: set[str]  # the files of the model ``model``
    inputs: set[tuple[str, str, str]]  # (name, digest, context)


def _tag_keys(tags: dict[str, str]) -> set[str]:
    return {key for key in tags if not key.startswith(SKIPPED_TAGS)}


def _files(client: Any, run_id: str, path: str | None = None) -> set[str]:
    files: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        files |= _files(client, run_id, item.path) if item.is_dir else {item.path}
    return files


def _histories(
    histories: dict[str, list[Any]],
) -> tuple[dict[str, list[int]], dict[str, list[float]]]:
    ordered = {
        k: sorted(points, key=lambda m: (m.step, m.timestamp)) for k, points in histories.items()
    }
    return (
        {k: [m.step for m in points] for k, points in ordered.items()},
        {k: [m.value for m in points] for k, points in ordered.items()},
    )


def _inputs(run: Any) -> set[tuple[str, str, str]]:
    return {
        (item.dataset.name, item.dataset.digest, tag.value)
        for item in run.inputs.dataset_inputs
        for tag in item.tags
        if tag.key == "mlflow.data.context"
    }


@dataclass
class MlflowSide:
    client: MlflowClient
    experiment_id: str


@pytest.fixture(scope="module")
def mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite database for the module: creating MLflow's tables takes seconds."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def mlflow_store(
    mlflow_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MlflowSide]:
    """The real mlflow on its own SQLite store, an experiment of this test's own
    (see test_sklearn_autolog.py for the environment it restores).

    MLflow infers a model's requirements in a subprocess that imports everything
    installed (half a minute here); with a 1 s limit it falls back to the flavor's
    defaults, which changes requirements.txt's content but not the files logged.
    """
    from mlflow.tracking import _tracking_service
    from mlflow.tracking import fluent as mlflow_fluent

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_REQUIREMENTS_INFERENCE_TIMEOUT", "1")
    service = _tracking_service.utils
    monkeypatch.setattr(service, "_tracking_uri", service._tracking_uri)
    monkeypatch.setattr(mlflow_fluent, "_active_experiment_id", None)
    mlflow.set_tracking_uri(mlflow_db)
    experiment = mlflow.create_experiment(tmp_path.name, (tmp_path / "mlruns").as_uri())
    mlflow.set_experiment(experiment_id=experiment)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield MlflowSide(MlflowClient(), experiment)
    mlflow.xgboost.autolog(disable=True)
    mlflow.lightgbm.autolog(disable=True)
    mlflow.sklearn.autolog(disable=True)
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture
def kiln_store(tracking_uri: str) -> Iterator[str]:
    yield tracking_uri
    kiln.xgboost.autolog(disable=True)
    kiln.lightgbm.autolog(disable=True)
    kiln.sklearn.autolog(disable=True)


def _mlflow_run(side: MlflowSide) -> Logged:
    client = side.client
    (run,) = client.search_runs([side.experiment_id])
    run_id = run.info.run_id
    model: set[str] = set()
    for logged in mlflow.search_logged_models([side.experiment_id], output_format="list"):
        folder = Path(urlparse(logged.artifact_location).path)
        model |= {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    return Logged(
        dict(run.data.params),
        *_histories({k: client.get_metric_history(run_id, k) for k in run.data.metrics}),
        _tag_keys(run.data.tags),
        _files(client, run_id) - {p for p in _files(client, run_id) if p.startswith("model/")},
        model,
        _inputs(run),
    )


def _kiln_run() -> tuple[str, Logged]:
    (run,) = fluent.search_runs(experiment_ids=["0"], output_format="list")
    run_id = run.info.run_id
    client = fluent._client()
    files = _files(client, run_id)
    model: set[str] = set()
    try:
        folder = download_model(f"runs:/{run_id}/model")
    except Exception:  # no model: an empty set to compare
        folder = None
    if folder is not None:
        model = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    return run_id, Logged(
        dict(run.data.params),
        *_histories({k: fluent.get_metric_history(run_id, k) for k in run.data.metrics}),
        _tag_keys(run.data.tags),
        {p for p in files if not p.startswith("model/")},
        model,
        _inputs(run),
    )


CASES: dict[str, tuple[Callable[[], Any], Any, Any, Callable[[], Any]]] = {
    "xgb_train": (xgb_train, mlflow.xgboost, kiln.xgboost, lambda: iris()[0]),
    "xgb_sklearn": (xgb_sklearn, mlflow.xgboost, kiln.xgboost, lambda: iris()[0]),
    "lgb_train": (lgb_train, mlflow.lightgbm, kiln.lightgbm, lambda: iris()[0]),
    "lgb_sklearn": (
        lgb_sklearn,
        mlflow.lightgbm,
        kiln.lightgbm,
        lambda: load_diabetes(return_X_y=True)[0],
    ),
    "lgb_frame": (lgb_frame, mlflow.lightgbm, kiln.lightgbm, lambda: frame()[0]),
    "xgb_frame": (xgb_frame, mlflow.xgboost, kiln.xgboost, lambda: frame()[0]),
}


def _train_both(case: str, mlflow_store: MlflowSide, **options: Any) -> tuple[Logged, str, Logged]:
    train, mlflow_flavor, kiln_flavor, _ = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow_flavor.autolog(**options)
        train()
        mlflow_flavor.autolog(disable=True)
    expected = _mlflow_run(mlflow_store)
    kiln_flavor.autolog(**options)
    train()
    kiln_flavor.autolog(disable=True)
    run_id, got = _kiln_run()
    return expected, run_id, got


@pytest.mark.parametrize("case", list(CASES))
def test_same_names_as_mlflow(case: str, mlflow_store: MlflowSide, kiln_store: str) -> None:
    expected, run_id, got = _train_both(case, mlflow_store)
    assert got.params == expected.params
    assert got.steps == expected.steps
    for key, values in expected.values.items():
        np.testing.assert_allclose(got.values[key], values, rtol=1e-5)
    assert got.tags == expected.tags
    assert got.artifacts == expected.artifacts
    assert any(path.startswith("feature_importance_") for path in got.artifacts)
    assert got.model == expected.model
    assert "MLmodel" in got.model
    assert got.inputs == expected.inputs

    X = CASES[case][3]()
    folder = download_model(f"runs:/{run_id}/model")
    by_kiln = kiln.pyfunc.load_model(f"runs:/{run_id}/model").predict(X)
    by_mlflow = mlflow.pyfunc.load_model(str(folder)).predict(X)
    np.testing.assert_allclose(np.asarray(by_kiln), np.asarray(by_mlflow), rtol=1e-6)
    run = fluent.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.autologging"] == CASES[case][1].FLAVOR_NAME
    assert fluent.active_run() is None


@pytest.mark.parametrize("case", ["xgb_train", "lgb_sklearn"])
def test_input_example_and_no_signature_as_in_mlflow(
    case: str, mlflow_store: MlflowSide, kiln_store: str
) -> None:
    """Without a signature asked for, neither infers one from the input example."""
    options = {"log_input_examples": True, "log_model_signatures": False}
    expected, run_id, got = _train_both(case, mlflow_store, **options)
    assert got.model == expected.model
    assert "input_example.json" in got.model
    (logged,) = mlflow.search_logged_models([mlflow_store.experiment_id], output_format="list")
    assert mlflow.models.Model.load(logged.model_uri).signature is None
    assert kiln.pyfunc.load_model(f"runs:/{run_id}/model").metadata.signature is None


def test_without_models_nor_datasets(mlflow_store: MlflowSide, kiln_store: str) -> None:
    expected, _, got = _train_both("lgb_train", mlflow_store, log_models=False, log_datasets=False)
    assert got.model == expected.model == set()
    assert got.inputs == expected.inputs == set()
    assert got.artifacts == expected.artifacts


def test_xgboost_importance_types(mlflow_store: MlflowSide, kiln_store: str) -> None:
    expected, run_id, got = _train_both(
        "xgb_sklearn", mlflow_store, importance_types=["gain", "cover"], log_models=False
    )
    assert got.artifacts == expected.artifacts
    assert "feature_importance_cover.json" in got.artifacts
    client = fluent._client()
    folder = Path(client.download_artifacts(run_id, "feature_importance_gain.json"))
    gain = json.loads(folder.read_text())
    assert set(gain) <= {"f0", "f1", "f2", "f3"}
    assert all(value > 0 for value in gain.values())


def test_a_booster_in_a_sklearn_pipeline_logs_one_sklearn_run(
    mlflow_store: MlflowSide, kiln_store: str
) -> None:
    """With both autologs on, the pipeline's run is the only one (as in MLflow)."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = iris()

    def fit() -> Any:
        steps = [("scale", StandardScaler()), ("xgb", xgb.XGBClassifier(n_estimators=2))]
        return Pipeline(steps).fit(X, y)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.autolog(log_models=False)
        mlflow.xgboost.autolog(log_models=False)
        fit()
        mlflow.xgboost.autolog(disable=True)
        mlflow.sklearn.autolog(disable=True)
    expected = _mlflow_run(mlflow_store)
    kiln.sklearn.autolog(log_models=False)
    kiln.xgboost.autolog(log_models=False)
    fit()
    run_id, got = _kiln_run()  # one run
    assert fluent.get_run(run_id).data.tags["mlflow.autologging"] == "sklearn"
    assert "num_boost_round" not in got.params
    assert (set(got.params), set(got.steps), got.tags) == (
        set(expected.params),
        set(expected.steps),
        expected.tags,
    )
    assert got.artifacts == expected.artifacts


def _evaluate(model: Any, X_test: Any, y_test: Any) -> None:
    from sklearn import metrics

    predictions = model.predict(X_test)
    metrics.mean_squared_error(y_test, predictions)
    metrics.mean_squared_error(y_test, predictions)  # a second call: <name>-2_X_test
    model.score(X_test, y_test)


@pytest.mark.parametrize("flavor", ["xgboost", "lightgbm"])
def test_post_training_metrics_match_mlflow(
    flavor: str, mlflow_store: MlflowSide, kiln_store: str
) -> None:
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = X[:300], X[300:], y[:300], y[300:]
    make: Callable[[], Any] = (
        (lambda: xgb.XGBRegressor(n_estimators=2))
        if flavor == "xgboost"
        else (lambda: lgb.LGBMRegressor(n_estimators=2, verbose=-1))
    )
    mlflow_flavor = mlflow.xgboost if flavor == "xgboost" else mlflow.lightgbm
    kiln_flavor = kiln.xgboost if flavor == "xgboost" else kiln.lightgbm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow_flavor.autolog(log_models=False)
        _evaluate(make().fit(X_train, y_train), X_test, y_test)
        mlflow_flavor.autolog(disable=True)
    expected = _mlflow_run(mlflow_store)
    kiln_flavor.autolog(log_models=False)
    _evaluate(make().fit(X_train, y_train), X_test, y_test)
    kiln_flavor.autolog(disable=True)
    _, got = _kiln_run()
    score = "XGBRegressor_score_X_test" if flavor == "xgboost" else "LGBMRegressor_score_X_test"
    assert {"mean_squared_error_X_test", "mean_squared_error-2_X_test", score} <= set(got.steps)
    assert set(got.steps) == set(expected.steps)
    assert got.artifacts == expected.artifacts
    assert "metric_info.json" in got.artifacts
    assert {(name, context) for name, _, context in got.inputs} == {
        (name, context) for name, _, context in expected.inputs
    }


def test_cross_validation_logs_no_runs_as_in_mlflow(
    mlflow_store: MlflowSide, kiln_store: str
) -> None:
    from sklearn import model_selection

    X, y = load_diabetes(return_X_y=True)

    def cross_validate() -> Any:
        return model_selection.cross_val_score(xgb.XGBRegressor(n_estimators=2), X, y, cv=2)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.xgboost.autolog()
        cross_validate()
        mlflow.xgboost.autolog(disable=True)
    assert mlflow_store.client.search_runs([mlflow_store.experiment_id]) == []
    kiln.xgboost.autolog()
    assert len(cross_validate()) == 2
    assert fluent.search_runs(experiment_ids=["0"], output_format="list") == []
    xgb.XGBRegressor(n_estimators=2).fit(X, y)  # outside cross-validation fits log again
    assert len(fluent.search_runs(experiment_ids=["0"], output_format="list")) == 1


def test_dataset_digests_are_mlflows() -> None:
    """The autologs' datasets (scikit-learn's, which the boosting ones log) have the digest
    ``mlflow.data`` gives the same data."""
    import mlflow.data
    import pandas as pd
    from scipy import sparse

    from kiln.models.autolog.sklearn_content import training_dataset

    def digest(X: Any, y: Any = None) -> str:
        dataset = training_dataset(X, y)
        assert dataset is not None
        return dataset.digest

    frame_ = pd.DataFrame({"a": [1.0, 2.5], "s": ["x", "y"], "o": [object(), None], 3: [1, 2]})
    assert digest(frame_) == mlflow.data.from_pandas(frame_).digest
    features = np.arange(12, dtype="float32").reshape(4, 3)
    targets = np.array([0, 1, 0, 1])
    assert digest(features, targets) == mlflow.data.from_numpy(features, targets=targets).digest
    assert digest(features) == mlflow.data.from_numpy(features).digest
    dense = mlflow.data.from_numpy(features, targets=targets).digest
    assert digest(sparse.csr_matrix(features), targets) == dense
    assert digest(features) != digest(features + 1)
