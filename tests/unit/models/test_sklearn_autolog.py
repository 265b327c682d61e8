"""kiln.sklearn.autolog against the real mlflow.sklearn.autolog: the same fits, the same names.

Each case fits the same estimator once under MLflow's autolog (its own SQLite
store) and once under Kiln's, then compares param names, metric names, tag keys
and artifact paths. MLflow 3 (and Kiln) store a model as a LoggedModel outside
the run's artifacts, so each side is its run's artifacts plus
``<model name>/<file>`` for each logged model the run produced; neither writes
MLflow 2's ``mlflow.log-model.history`` tag. Git tags are left out of the
comparison: each side's ``start_run`` resolves them from the process, not autolog.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import mlflow
import mlflow.sklearn
import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import kiln.pyfunc
import kiln.sklearn
from kiln.models.resolve import download_model
from kiln.tracking import fluent

GIT_TAGS = "mlflow.source.git."  # each start_run resolves these from its environment


def _tag_keys(tags: dict[str, str]) -> set[str]:
    return {key for key in tags if not key.startswith(GIT_TAGS)}


@dataclass
class Logged:
    """What one run holds, by name."""

    params: set[str]
    metrics: set[str]
    tags: set[str]
    artifacts: set[str]
    parent: str | None


def _mlflow_files(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    files: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        files |= _mlflow_files(client, run_id, item.path) if item.is_dir else {item.path}
    return files


def _kiln_files(run_id: str, path: str | None = None) -> set[str]:
    client = fluent._client()
    files: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        files |= _kiln_files(run_id, item.path) if item.is_dir else {item.path}
    return files


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowClient]:
    """The real mlflow on its own SQLite store, artifacts under tmp_path.

    mlflow's set_tracking_uri and set_experiment also set MLFLOW_TRACKING_URI and
    MLFLOW_EXPERIMENT_ID, which Kiln reads too: monkeypatch puts both (and
    mlflow's globals) back after the test.
    """
    from mlflow.tracking import _tracking_service
    from mlflow.tracking import fluent as mlflow_fluent

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    service = _tracking_service.utils
    monkeypatch.setattr(service, "_tracking_uri", service._tracking_uri)
    monkeypatch.setattr(mlflow_fluent, "_active_experiment_id", None)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.create_experiment("autolog", (tmp_path / "mlruns").as_uri())
    mlflow.set_experiment(experiment_id=experiment)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID")  # mlflow keeps its own global; Kiln uses "0"
    yield MlflowClient()
    mlflow.sklearn.autolog(disable=True)
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture
def kiln_store(tracking_uri: str) -> Iterator[str]:
    yield tracking_uri
    kiln.sklearn.autolog(disable=True)


def _mlflow_runs(client: MlflowClient) -> dict[str, Logged]:
    experiment = mlflow.get_experiment_by_name("autolog")
    assert experiment is not None
    models: dict[str, set[str]] = {}
    for model in mlflow.search_logged_models([experiment.experiment_id], output_format="list"):
        folder = Path(urlparse(model.artifact_location).path)
        files = {f"{model.name}/{p.relative_to(folder)}" for p in folder.rglob("*") if p.is_file()}
        models.setdefault(str(model.source_run_id), set()).update(files)
    runs = {}
    for run in client.search_runs([experiment.experiment_id]):
        run_id = run.info.run_id
        runs[run_id] = Logged(
            set(run.data.params),
            set(run.data.metrics),
            _tag_keys(run.data.tags),
            _mlflow_files(client, run_id) | models.get(run_id, set()),
            run.data.tags.get("mlflow.parentRunId"),
        )
    return runs


def _kiln_runs() -> dict[str, Logged]:
    models: dict[str, set[str]] = {}
    for model in kiln.search_logged_models(["0"], output_format="list"):
        folder = Path(urlparse(model.artifact_location).path)
        files = {f"{model.name}/{p.relative_to(folder)}" for p in folder.rglob("*") if p.is_file()}
        models.setdefault(str(model.source_run_id), set()).update(files)
    runs = {}
    for run in fluent.search_runs(experiment_ids=["0"], output_format="list"):
        runs[run.info.run_id] = Logged(
            set(run.data.params),
            set(run.data.metrics),
            _tag_keys(run.data.tags),
            _kiln_files(run.info.run_id) | models.get(run.info.run_id, set()),
            run.data.tags.get("mlflow.parentRunId"),
        )
    return runs


def _parent(runs: dict[str, Logged]) -> tuple[str, Logged]:
    (parent,) = [(run_id, logged) for run_id, logged in runs.items() if logged.parent is None]
    return parent


def _children(runs: dict[str, Logged]) -> list[Logged]:
    return [logged for logged in runs.values() if logged.parent is not None]


def _diabetes() -> tuple[Any, Any]:
    return load_diabetes(return_X_y=True)


def _iris() -> tuple[Any, Any]:
    return load_iris(return_X_y=True)


CASES: dict[str, tuple[Callable[[], Any], Callable[[], tuple[Any, Any]]]] = {
    "linear": (LinearRegression, _diabetes),
    "pipeline": (
        lambda: Pipeline([("scale", StandardScaler()), ("lr", LinearRegression())]),
        _diabetes,
    ),
    "logistic": (lambda: LogisticRegression(max_iter=500), _iris),
    "binary": (lambda: LogisticRegression(max_iter=500), lambda: tuple(a[:100] for a in _iris())),
    "grid": (
        lambda: GridSearchCV(
            LogisticRegression(max_iter=500),
            {"C": [0.1, 1.0, 10.0], "fit_intercept": [True, False]},
            cv=3,
        ),
        _iris,
    ),
}


def _fit_both(
    case: str, mlflow_store: MlflowClient, **options: Any
) -> tuple[dict[str, Logged], dict[str, Logged], Any]:
    make, data = CASES[case]
    X, y = data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.autolog(**options)
        mlflow_model = make().fit(X, y)
        mlflow.sklearn.autolog(disable=True)
    mlflow_runs = _mlflow_runs(mlflow_store)
    kiln.sklearn.autolog(**options)
    kiln_model = make().fit(X, y)
    kiln.sklearn.autolog(disable=True)
    np.testing.assert_allclose(kiln_model.predict(X), mlflow_model.predict(X))
    return mlflow_runs, _kiln_runs(), X


@pytest.mark.parametrize("case", ["linear", "pipeline", "logistic", "binary"])
def test_same_names_as_mlflow(case: str, mlflow_store: MlflowClient, kiln_store: str) -> None:
    mlflow_runs, kiln_runs, X = _fit_both(case, mlflow_store)
    assert len(mlflow_runs) == len(kiln_runs) == 1
    (expected,) = mlflow_runs.values()
    ((run_id, got),) = kiln_runs.items()
    assert got.params == expected.params
    assert got.metrics == expected.metrics
    assert got.tags == expected.tags
    assert got.artifacts == expected.artifacts
    assert "model/MLmodel" in got.artifacts

    folder = download_model(f"runs:/{run_id}/model")
    by_kiln = kiln.pyfunc.load_model(f"runs:/{run_id}/model").predict(X)
    by_mlflow = mlflow.pyfunc.load_model(str(folder)).predict(X)
    np.testing.assert_allclose(np.asarray(by_kiln), np.asarray(by_mlflow))
    run = fluent.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.autologging"] == "sklearn"
    assert fluent.active_run() is None


def test_input_example_and_frame_columns_match_mlflow(
    mlflow_store: MlflowClient, kiln_store: str
) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    CASES["frame"] = (LinearRegression, lambda: (X, y))
    try:
        mlflow_runs, kiln_runs, _ = _fit_both("frame", mlflow_store, log_input_examples=True)
    finally:
        del CASES["frame"]
    ((run_id, got),) = kiln_runs.items()
    (expected,) = mlflow_runs.values()
    assert got.artifacts == expected.artifacts
    assert "model/input_example.json" in got.artifacts
    signature = kiln.pyfunc.load_model(f"runs:/{run_id}/model").metadata.signature
    assert signature is not None
    assert [spec.name for spec in signature.inputs.inputs] == list(X.columns)


def test_fit_predict_of_a_clusterer_matches_mlflow(
    mlflow_store: MlflowClient, kiln_store: str
) -> None:
    from sklearn.cluster import KMeans

    X, _ = _iris()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.autolog()
        KMeans(n_clusters=3, n_init=2, random_state=0).fit_predict(X)
        mlflow.sklearn.autolog(disable=True)
    (expected,) = _mlflow_runs(mlflow_store).values()
    kiln.sklearn.autolog()
    KMeans(n_clusters=3, n_init=2, random_state=0).fit_predict(X)  # fit inside: one run
    (got,) = _kiln_runs().values()
    assert (got.params, got.metrics, got.tags) == (expected.params, expected.metrics, expected.tags)
    assert got.artifacts == expected.artifacts


def test_cross_validation_logs_no_runs_as_in_mlflow(
    mlflow_store: MlflowClient, kiln_store: str
) -> None:
    from sklearn import model_selection

    X, y = _diabetes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.autolog()
        model_selection.cross_val_score(LinearRegression(), X, y, cv=3)
        mlflow.sklearn.autolog(disable=True)
    assert _mlflow_runs(mlflow_store) == {}
    kiln.sklearn.autolog()
    scores = model_selection.cross_val_score(LinearRegression(), X, y, cv=3)
    assert len(scores) == 3
    assert _kiln_runs() == {}
    LinearRegression().fit(X, y)  # outside cross-validation fits log again
    assert len(_kiln_runs()) == 1


def _evaluate(model: Any, X_test: Any, y_test: Any) -> None:
    from sklearn import metrics

    predictions = model.predict(X_test)
    metrics.mean_squared_error(y_test, predictions)
    metrics.mean_squared_error(y_test, predictions)  # a second call: <name>-2_X_test
    metrics.r2_score(y_test, predictions)
    model.score(X_test, y_test)


def test_post_training_metrics_match_mlflow(mlflow_store: MlflowClient, kiln_store: str) -> None:
    X, y = _diabetes()
    X_train, X_test, y_train, y_test = X[:300], X[300:], y[:300], y[300:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.autolog()
        _evaluate(LinearRegression().fit(X_train, y_train), X_test, y_test)
        mlflow.sklearn.autolog(disable=True)
    (expected,) = _mlflow_runs(mlflow_store).values()
    kiln.sklearn.autolog()
    _evaluate(LinearRegression().fit(X_train, y_train), X_test, y_test)
    ((run_id, got),) = _kiln_runs().items()
    assert {
        "mean_squared_error_X_test",
        "mean_squared_error-2_X_test",
        "r2_score_X_test",
        "LinearRegression_score_X_test",
    } <= got.metrics
    assert got.metrics == expected.metrics
    assert got.artifacts == expected.artifacts
    assert "metric_info.json" in got.artifacts
    contexts = [
        tag.value
        for item in fluent.get_run(run_id).inputs.dataset_inputs
        for tag in item.tags
        if tag.key == "mlflow.data.context"
    ]
    assert sorted(contexts) == ["eval", "train"]


def test_grid_search_matches_mlflow(mlflow_store: MlflowClient, kiln_store: str) -> None:
    mlflow_runs, kiln_runs, X = _fit_both("grid", mlflow_store)
    _, expected = _parent(mlflow_runs)
    run_id, got = _parent(kiln_runs)
    assert got.params == expected.params
    assert {"best_C", "best_fit_intercept"} <= got.params
    assert got.metrics == expected.metrics
    assert "best_cv_score" in got.metrics
    assert got.tags == expected.tags
    assert got.artifacts == expected.artifacts
    assert {"cv_results.csv", "best_estimator/MLmodel", "model/MLmodel"} <= got.artifacts

    expected_children, got_children = _children(mlflow_runs), _children(kiln_runs)
    assert len(got_children) == len(expected_children) == 5  # max_tuning_runs of 6 candidates
    for child in got_children:
        assert child.parent == run_id
        assert child.params == expected_children[0].params
        assert child.metrics == expected_children[0].metrics
        assert child.tags == expected_children[0].tags
        assert child.artifacts == set()

    best = kiln.sklearn.load_model(f"runs:/{run_id}/best_estimator")
    folder = download_model(f"runs:/{run_id}/best_estimator")
    np.testing.assert_allclose(best.predict(X), mlflow.pyfunc.load_model(str(folder)).predict(X))


def test_max_tuning_runs_limits_child_runs(kiln_store: str) -> None:
    X, y = _iris()
    kiln.sklearn.autolog(max_tuning_runs=2, log_models=False)
    GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.1, 1.0, 10.0]}, cv=3).fit(X, y)
    runs = _kiln_runs()
    assert len(_children(runs)) == 2
    _, parent = _parent(runs)
    assert not any(path.startswith(("model/", "best_estimator/")) for path in parent.artifacts)


def test_fit_inside_a_user_run_logs_there_and_leaves_it_open(kiln_store: str) -> None:
    X, y = _diabetes()
    kiln.sklearn.autolog()
    with kiln.start_run() as run:
        LinearRegression().fit(X, y)
        assert fluent.active_run() is not None
    logged = fluent.get_run(run.info.run_id)
    assert "training_score" in logged.data.metrics
    assert "mlflow.autologging" not in logged.data.tags  # the run is the user's
    assert len(_kiln_runs()) == 1


def test_exclusive_leaves_a_user_run_alone(kiln_store: str) -> None:
    X, y = _diabetes()
    kiln.sklearn.autolog(exclusive=True)
    with kiln.start_run() as run:
        LinearRegression().fit(X, y)
    assert fluent.get_run(run.info.run_id).data.metrics == {}
    LinearRegression().fit(X, y)  # no user run: autolog starts its own
    assert len(_kiln_runs()) == 2


def test_failed_fit_ends_its_run_failed(kiln_store: str) -> None:
    kiln.sklearn.autolog()
    with pytest.raises(ValueError, match="Input X contains NaN"):
        LinearRegression().fit(np.array([[np.nan], [1.0]]), np.array([1.0, 2.0]))
    ((run_id, _),) = _kiln_runs().items()
    assert fluent.get_run(run_id).info.status == "FAILED"
    assert fluent.active_run() is None


def test_fit_still_runs_when_no_run_can_start(kiln_store: str, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    fluent.set_tracking_uri(f"sqlite:///{blocker / 'kiln.db'}")
    kiln.sklearn.autolog()
    X, y = _diabetes()
    model = LinearRegression().fit(X, y)
    assert model.predict(X[:2]).shape == (2,)
    assert fluent.active_run() is None


def test_disable_restores_the_estimators(kiln_store: str) -> None:
    from sklearn import model_selection

    original_fit = LinearRegression.fit
    pipeline_fit_transform = Pipeline.__dict__["fit_transform"].fn
    scaler_fit = StandardScaler.fit
    kiln.sklearn.autolog()
    assert LinearRegression.fit is not original_fit
    assert Pipeline.__dict__["fit_transform"].fn is not pipeline_fit_transform
    assert StandardScaler.fit is scaler_fit  # preprocessing is never patched
    assert not hasattr(Pipeline([("lr", LinearRegression())]), "fit_transform")
    kiln.sklearn.autolog(disable=True)
    assert LinearRegression.fit is original_fit
    assert not hasattr(model_selection.cross_val_score, "__kiln_autolog_original__")
    assert Pipeline.__dict__["fit_transform"].fn is pipeline_fit_transform
    X, y = _diabetes()
    LinearRegression().fit(X, y)
    assert _kiln_runs() == {}


def test_kiln_autolog_turns_on_sklearn(kiln_store: str) -> None:
    import kiln

    assert "sklearn" in kiln.autolog(log_models=False)
    X, y = _diabetes()
    LinearRegression().fit(X, y)
    ((_, logged),) = _kiln_runs().items()
    assert "training_r2_score" in logged.metrics
    assert not any(path.startswith("model/") for path in logged.artifacts)


def test_bad_arguments_are_refused(kiln_store: str) -> None:
    with pytest.raises(Exception, match="max_tuning_runs` must be non-negative"):
        kiln.sklearn.autolog(max_tuning_runs=-1)
    with pytest.raises(Exception, match="Unrecognized serialization format"):
        kiln.sklearn.autolog(serialization_format="json")


def test_importing_kiln_sklearn_does_not_import_scikit_learn(tmp_path: Path) -> None:
    import subprocess

    code = (
        "import sys, kiln.sklearn; kiln.sklearn.autolog; "
        "assert 'sklearn' not in sys.modules, 'sklearn imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
