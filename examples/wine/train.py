"""ElasticNet on the UCI wine-quality data, tracked with Kiln.

Run it as a project (``kiln run examples/wine -P alpha=0.5``) or directly
(``python train.py --alpha 0.5``). It logs its parameters, the held-out RMSE, MAE
and R², the data set it read, and the fitted pipeline (scaler + ElasticNet) as an
``sklearn`` model with a signature and an input example.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import kiln
from kiln.models.signature import infer_signature
from kiln.tracking.datasets import dataset_from

DATA = Path(__file__).resolve().parent / "data" / "winequality.csv.gz"
TARGET = "quality"
FEATURES = [
    "fixed acidity",
    "volatile acidity",
    "citric acid",
    "residual sugar",
    "chlorides",
    "free sulfur dioxide",
    "total sulfur dioxide",
    "density",
    "pH",
    "sulphates",
    "alcohol",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--l1-ratio", type=float, default=0.5)
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    frame = pd.read_csv(DATA)
    x = frame[FEATURES].astype("float64")
    y = frame[TARGET].astype("float64")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=args.test_size, random_state=args.seed
    )

    with kiln.start_run():
        kiln.log_params(
            {
                "alpha": args.alpha,
                "l1_ratio": args.l1_ratio,
                "test_size": args.test_size,
                "seed": args.seed,
            }
        )
        kiln.log_input(
            dataset_from(frame, name="uci-wine-quality", source=DATA), context="training"
        )

        model = Pipeline(
            [
                ("scale", StandardScaler()),
                (
                    "elasticnet",
                    ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, random_state=args.seed),
                ),
            ]
        )
        model.fit(x_train, y_train)
        predicted = model.predict(x_test)
        metrics = {
            "rmse": float(np.sqrt(mean_squared_error(y_test, predicted))),
            "mae": float(mean_absolute_error(y_test, predicted)),
            "r2": float(r2_score(y_test, predicted)),
            # What the numbers mean: always predicting the training mean.
            "baseline_rmse": float(np.sqrt(np.mean((y_test - y_train.mean()) ** 2))),
        }
        kiln.log_metrics(metrics)

        example = x_train.head(5)
        kiln.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
        )
        print(" ".join(f"{key}={value:.4f}" for key, value in metrics.items()))


if __name__ == "__main__":
    main()
