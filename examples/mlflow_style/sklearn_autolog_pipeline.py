"""Autolog a scikit-learn Pipeline: every step's parameters are logged, prefixed by the
step's name. No ``start_run``: autolog starts a run for the fit and ends it after."""

from pprint import pprint

from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import kiln as mlflow

if __name__ == "__main__":
    mlflow.sklearn.autolog()
    X, y = load_diabetes(return_X_y=True)
    pipeline = Pipeline([("scaler", StandardScaler()), ("ridge", Ridge(alpha=0.5))])
    pipeline.fit(X, y)

    run = mlflow.last_active_run()
    print(f"Logged run {run.info.run_id}")
    pprint(sorted(run.data.params))
    pprint(run.data.metrics)
