"""kiln.xgboost/kiln.lightgbm autolog on its own: runs, disable, kiln.autolog(), registry.

The comparisons with the real mlflow are in test_boosting_autolog.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import lightgbm as lgb
import pytest
import xgboost as xgb
from boosting_cases import iris, lgb_sklearn, lgb_train, xgb_sklearn, xgb_train
from sklearn.datasets import load_diabetes

import kiln
import kiln.lightgbm
import kiln.sklearn
import kiln.xgboost
from kiln.errors import InvalidInput
from kiln.tracking import fluent


@pytest.fixture
def kiln_store(tracking_uri: str) -> Iterator[str]:
    yield tracking_uri
    kiln.xgboost.autolog(disable=True)
    kiln.lightgbm.autolog(disable=True)
    kiln.sklearn.autolog(disable=True)


def test_training_in_a_user_run_logs_there_and_leaves_it_open(kiln_store: str) -> None:
    kiln.lightgbm.autolog(extra_tags={"team": "a"})
    with kiln.start_run() as run:
        lgb_train()
        assert fluent.active_run() is not None
    logged = fluent.get_run(run.info.run_id)
    assert "train-multi_logloss" in logged.data.metrics
    assert "mlflow.autologging" not in logged.data.tags  # the run is the user's
    assert "team" not in logged.data.tags  # extra tags go on autolog's own runs
    lgb_train()
    runs = fluent.search_runs(experiment_ids=["0"], output_format="list")
    assert len(runs) == 2
    own = next(r for r in runs if r.info.run_id != run.info.run_id)
    assert own.data.tags["mlflow.autologging"] == "lightgbm"
    assert own.data.tags["team"] == "a"


def test_exclusive_leaves_a_user_run_alone(kiln_store: str) -> None:
    kiln.xgboost.autolog(exclusive=True, log_models=False)
    with kiln.start_run() as run:
        xgb_train()
    logged = fluent.get_run(run.info.run_id)
    assert (logged.data.metrics, logged.data.params) == ({}, {})


def test_failed_training_ends_its_run_failed(kiln_store: str) -> None:
    kiln.xgboost.autolog()
    X, y = iris()
    with pytest.raises(xgb.core.XGBoostError, match="objective"):
        xgb.train({"objective": "no-such-objective"}, xgb.DMatrix(X, label=y), 2)
    (run,) = fluent.search_runs(experiment_ids=["0"], output_format="list")
    assert run.info.status == "FAILED"
    assert fluent.active_run() is None


def test_disable_restores_the_libraries(kiln_store: str) -> None:
    before = (
        xgb.train,
        xgb.sklearn.train,
        xgb.DMatrix.__init__,
        xgb.XGBClassifier.fit,
        lgb.train,
        lgb.sklearn.train,
        lgb.Dataset.__init__,
        lgb.LGBMRegressor.fit,
    )
    kiln.xgboost.autolog()
    kiln.lightgbm.autolog()
    assert xgb.train is not before[0]
    assert lgb.LGBMRegressor.fit is not before[7]
    kiln.xgboost.autolog(disable=True)
    kiln.lightgbm.autolog(disable=True)
    after = (
        xgb.train,
        xgb.sklearn.train,
        xgb.DMatrix.__init__,
        xgb.XGBClassifier.fit,
        lgb.train,
        lgb.sklearn.train,
        lgb.Dataset.__init__,
        lgb.LGBMRegressor.fit,
    )
    assert after == before
    assert "fit" not in xgb.XGBRegressor.__dict__  # inherited again, not set
    xgb_train()
    lgb_sklearn()
    assert fluent.search_runs(experiment_ids=["0"], output_format="list") == []


def test_kiln_autolog_turns_on_both(kiln_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only these two flavors (importing torch and tensorflow would take half a minute)."""
    from kiln.models import autolog

    mine = {name: autolog.FLAVORS[name] for name in ("xgboost", "lightgbm")}
    monkeypatch.setattr(autolog, "FLAVORS", mine)
    configured = kiln.autolog(log_models=False)
    try:
        assert {"xgboost", "lightgbm"} <= set(configured)
        lgb_train()
        xgb_sklearn()
    finally:
        kiln.autolog(disable=True)
    runs = fluent.search_runs(experiment_ids=["0"], output_format="list")
    flavors = sorted(run.data.tags["mlflow.autologging"] for run in runs)
    assert flavors == ["lightgbm", "xgboost"]
    assert xgb.train is xgb.sklearn.train  # patches gone: the same original again


def test_unknown_model_format_is_refused() -> None:
    with pytest.raises(InvalidInput, match="Unrecognized model format"):
        kiln.xgboost.autolog(model_format="zip")


def test_registered_model_name_registers_each_model(kiln_store: str) -> None:
    from kiln.tracking.mlflow_client import MlflowClient as KilnMlflowClient

    kiln.lightgbm.autolog(registered_model_name="boosted")
    lgb_train()
    lgb_sklearn()
    versions = KilnMlflowClient().search_model_versions("name = 'boosted'")
    assert sorted(int(v.version) for v in versions) == [1, 2]


def test_post_training_metrics_alongside_sklearn_autolog(kiln_store: str) -> None:
    """Both autologs wrap sklearn.metrics; each model's metric goes to its own run."""
    from sklearn import metrics
    from sklearn.linear_model import LinearRegression

    original = metrics.mean_squared_error
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = X[:300], X[300:], y[:300], y[300:]
    kiln.sklearn.autolog(log_models=False)
    kiln.xgboost.autolog(log_models=False)
    linear = LinearRegression().fit(X_train, y_train)
    boosted = xgb.XGBRegressor(n_estimators=2).fit(X_train, y_train)
    by_linear = linear.predict(X_test)
    by_boosted = boosted.predict(X_test)
    metrics.mean_squared_error(y_test, by_linear)
    metrics.mean_squared_error(y_test, by_boosted)
    kiln.xgboost.autolog(disable=True)
    kiln.sklearn.autolog(disable=True)
    assert metrics.mean_squared_error is original
    runs = fluent.search_runs(experiment_ids=["0"], output_format="list")
    by_flavor = {run.data.tags["mlflow.autologging"]: run.data.metrics for run in runs}
    assert set(by_flavor) == {"sklearn", "xgboost"}
    for logged in by_flavor.values():
        assert "mean_squared_error_X_test" in logged
        assert "mean_squared_error-2_X_test" not in logged


@pytest.mark.parametrize("silent", [False, True])
def test_silent_hides_autolog_warnings(
    silent: bool, kiln_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    X, y = iris()
    built_before = xgb.DMatrix(X, label=y)  # before autolog: no input example kept
    kiln.xgboost.autolog(log_input_examples=True, silent=silent)
    with caplog.at_level("WARNING", logger="kiln.autolog.xgboost"):
        xgb.train({"objective": "multi:softprob", "num_class": 3}, built_before, 2)
    warned = [r for r in caplog.records if r.name == "kiln.autolog.xgboost"]
    assert bool(warned) is not silent
    assert all("input example" in r.getMessage() for r in warned)
