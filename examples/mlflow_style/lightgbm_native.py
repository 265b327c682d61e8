"""LightGBM's native API with autolog: parameters, the per-iteration validation metric,
feature importance and the model; two metrics logged by hand."""

import lightgbm as lgb
from sklearn.datasets import load_iris
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split

import kiln as mlflow
import kiln.lightgbm

if __name__ == "__main__":
    iris = load_iris(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        iris.data, iris.target, test_size=0.2, random_state=42
    )

    mlflow.lightgbm.autolog()
    train_set = lgb.Dataset(X_train, label=y_train)

    with mlflow.start_run():
        params = {
            "objective": "multiclass",
            "num_class": 3,
            "learning_rate": 0.1,
            "metric": "multi_logloss",
            "num_leaves": 8,
            "seed": 42,
            "num_threads": 1,
            "verbose": -1,
        }
        booster = lgb.train(
            params, train_set, num_boost_round=10, valid_sets=[train_set], valid_names=["train"]
        )

        y_proba = booster.predict(X_test)
        mlflow.log_metrics(
            {
                "log_loss": float(log_loss(y_test, y_proba)),
                "accuracy": float(accuracy_score(y_test, y_proba.argmax(axis=1))),
            }
        )
