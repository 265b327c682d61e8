"""The small trainings the boosting autolog tests run (XGBoost and LightGBM, native and
scikit-learn API), shared by test_boosting_autolog.py and test_boosting_autolog_kiln.py."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import xgboost as xgb
from sklearn.datasets import load_diabetes, load_iris


def iris() -> tuple[Any, Any]:
    return load_iris(return_X_y=True)


def xgb_train() -> Any:
    X, y = iris()
    train = xgb.DMatrix(X[:120], label=y[:120])
    valid = xgb.DMatrix(X[120:], label=y[120:])
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 2}
    evals = [(train, "train"), (valid, "valid")]
    return xgb.train(params, train, 4, evals=evals, early_stopping_rounds=2, verbose_eval=False)


def xgb_sklearn() -> Any:
    X, y = iris()
    return xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(
        X, y, eval_set=[(X[100:], y[100:])], verbose=False
    )


def lgb_train() -> Any:
    X, y = iris()
    train = lgb.Dataset(X[:120], label=y[:120])
    valid = lgb.Dataset(X[120:], label=y[120:])
    params = {"objective": "multiclass", "num_class": 3, "verbose": -1, "num_leaves": 4}
    return lgb.train(
        params,
        train,
        4,
        valid_sets=[train, valid],
        valid_names=["train", "valid"],
        callbacks=[lgb.early_stopping(2, verbose=False)],
    )


def lgb_sklearn() -> Any:
    X, y = load_diabetes(return_X_y=True)
    return lgb.LGBMRegressor(n_estimators=3, num_leaves=4, verbose=-1).fit(
        X, y, eval_X=(X[300:],), eval_y=(y[300:],)
    )


def frame() -> tuple[Any, Any]:
    return load_iris(return_X_y=True, as_frame=True)


def lgb_frame() -> Any:
    X, y = frame()
    return lgb.LGBMClassifier(n_estimators=2, num_leaves=4, verbose=-1).fit(X, y)


def xgb_frame() -> Any:
    X, y = frame()
    train = xgb.DMatrix(X, label=y)
    return xgb.train({"objective": "multi:softprob", "num_class": 3}, train, 2)
