"""Autolog a grid search: the parent run holds the best parameters, the best estimator and
the full cv_results table; the best candidates become child runs."""

from pprint import pprint

from sklearn import svm
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV

import kiln as mlflow

if __name__ == "__main__":
    mlflow.sklearn.autolog()
    iris = load_iris()
    grid = {"kernel": ("linear", "rbf"), "C": [1, 10]}
    search = GridSearchCV(svm.SVC(), grid, cv=3)

    with mlflow.start_run() as run:
        search.fit(iris.data, iris.target)

    parent = mlflow.get_run(run.info.run_id)
    print("best params:")
    pprint({k: v for k, v in parent.data.params.items() if k.startswith("best_")})

    children = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    print(f"{len(children)} child runs:")
    print(children[["params.kernel", "params.C", "metrics.mean_test_score"]].to_string())
