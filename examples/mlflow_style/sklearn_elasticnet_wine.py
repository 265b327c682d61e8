"""Wine regression with ElasticNet: hyperparameters from the command line, three test-set
metrics, and the model logged with its signature and an input example.

    python sklearn_elasticnet_wine.py [alpha] [l1_ratio]

The model is registered as ``ElasticnetWineModel`` unless runs go to a local mlruns folder.
"""

import sys
from urllib.parse import urlparse

import numpy as np
from sklearn.datasets import load_wine
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

import kiln as mlflow
from kiln.models import infer_signature


def eval_metrics(actual, predicted):
    rmse = float(np.sqrt(mean_squared_error(actual, predicted)))
    mae = float(mean_absolute_error(actual, predicted))
    r2 = float(r2_score(actual, predicted))
    return rmse, mae, r2


if __name__ == "__main__":
    # The cultivar (0, 1, 2) stands in for a quality score: 13 chemical measurements each.
    wine = load_wine(as_frame=True).frame
    train, test = train_test_split(wine, test_size=0.25, random_state=40)
    train_x, test_x = train.drop(columns=["target"]), test.drop(columns=["target"])
    train_y, test_y = train["target"], test["target"]

    alpha = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
    l1_ratio = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5

    with mlflow.start_run():
        model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=42)
        model.fit(train_x, train_y)

        rmse, mae, r2 = eval_metrics(test_y, model.predict(test_x))
        print(f"ElasticNet (alpha={alpha:f}, l1_ratio={l1_ratio:f}):")
        print(f"  RMSE: {rmse:.4f}  MAE: {mae:.4f}  R2: {r2:.4f}")

        mlflow.log_param("alpha", alpha)
        mlflow.log_param("l1_ratio", l1_ratio)
        mlflow.log_metric("rmse", rmse)
        mlflow.log_metric("r2", r2)
        mlflow.log_metric("mae", mae)

        signature = infer_signature(train_x, model.predict(train_x))
        # A model registry needs a database or a server; a plain mlruns folder has none.
        registered = None
        if urlparse(mlflow.get_tracking_uri()).scheme != "file":
            registered = "ElasticnetWineModel"
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=train_x.head(3),
            registered_model_name=registered,
        )
