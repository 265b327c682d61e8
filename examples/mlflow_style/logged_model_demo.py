"""MLflow 3's logged models: a training run logs a model with its parameters and gets a
model id back; an evaluation run loads the model by id and logs test metrics linked to the
model and the test data set; the model is then looked up, searched and registered."""

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

import kiln as mlflow


def scores(actual, predicted):
    return {
        "rmse": float(np.sqrt(mean_squared_error(actual, predicted))),
        "mae": float(mean_absolute_error(actual, predicted)),
        "r2": float(r2_score(actual, predicted)),
    }


if __name__ == "__main__":
    data = load_diabetes(as_frame=True).frame
    train, test = train_test_split(data, test_size=0.25, random_state=42)
    alpha, l1_ratio = 0.05, 0.5

    with mlflow.start_run(run_name="training"):
        train_dataset = mlflow.data.from_pandas(train, name="train_dataset", targets="target")
        train_x, train_y = train.drop(columns=["target"]), train["target"]
        model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=42).fit(train_x, train_y)

        mlflow.log_metrics(scores(train_y, model.predict(train_x)), dataset=train_dataset)
        model_info = mlflow.sklearn.log_model(
            model, name="elasticnet", params={"alpha": alpha, "l1_ratio": l1_ratio}
        )
        model_id = model_info.model_id
        print(f"logged model {model_id}")

    with mlflow.start_run(run_name="evaluation"):
        test_dataset = mlflow.data.from_pandas(test, name="test_dataset", targets="target")
        test_x, test_y = test.drop(columns=["target"]), test["target"]
        loaded = mlflow.sklearn.load_model(f"models:/{model_id}")
        mlflow.log_metrics(
            scores(test_y, loaded.predict(test_x)), dataset=test_dataset, model_id=model_id
        )

    logged = mlflow.get_logged_model(model_id)
    print(f"{logged.name}: params {logged.params}")
    linked = sorted(f"{m.key} ({m.dataset_name or 'no data set'})" for m in logged.metrics)
    print("metrics:", linked)

    found = mlflow.search_logged_models(filter_string="params.alpha = '0.05'", output_format="list")
    assert [m.model_id for m in found] == [model_id], found

    version = mlflow.register_model(f"models:/{model_id}", "registered_elasticnet")
    print(f"registered {version.name} version {version.version}")
