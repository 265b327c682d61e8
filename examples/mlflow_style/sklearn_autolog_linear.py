"""Autolog a plain LinearRegression fit, then read back what it logged."""

from pprint import pprint

from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression

import kiln as mlflow
from kiln import MlflowClient


def fetch_logged_data(run_id):
    """The run's params, metrics and user tags (system tags start with 'mlflow.')."""
    data = MlflowClient().get_run(run_id).data
    tags = {key: value for key, value in data.tags.items() if not key.startswith("mlflow.")}
    return data.params, data.metrics, tags


if __name__ == "__main__":
    mlflow.sklearn.autolog()
    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression()
    with mlflow.start_run() as run:
        model.fit(X, y)

    params, metrics, tags = fetch_logged_data(run.info.run_id)
    pprint(params)
    pprint(metrics)
    pprint(tags)
