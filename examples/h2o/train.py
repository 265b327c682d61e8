"""An H2O gradient-boosting model of wine quality, tracked with Kiln.

Trains an ``H2OGradientBoostingEstimator`` on the 11 physico-chemical measurements of
the UCI wine-quality data (the same features and column names as the ``wine`` example,
so it answers the same reference request). H2O runs in a Java process: the script
starts a private local cluster (``kiln.models.h2o_cluster.ensure``), which stops when
the script exits.

Run it as a project (``kiln run examples/h2o``) or directly (``python train.py``). It
logs its parameters, the held-out RMSE, MAE and R² (and a baseline), the data set, and
the model as an ``h2o`` model with a signature and an input example.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import kiln
from kiln.models import h2o_cluster
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
    parser.add_argument("--ntrees", type=int, default=100)
    parser.add_argument("--max-depth", type=int, default=5)
    parser.add_argument("--learn-rate", type=float, default=0.1)
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    h2o = h2o_cluster.ensure()
    from h2o.estimators import H2OGradientBoostingEstimator

    frame = pd.read_csv(DATA)
    x = frame[FEATURES].astype("float64")
    y = frame[TARGET].astype("float64")
    order = np.random.default_rng(args.seed).permutation(len(frame))
    cut = int(len(order) * args.test_size)
    test, train = order[:cut], order[cut:]
    train_frame = h2o.H2OFrame(x.iloc[train].assign(quality=y.iloc[train]))
    test_frame = h2o.H2OFrame(x.iloc[test].assign(quality=y.iloc[test]))

    with kiln.start_run():
        kiln.log_params(
            {
                "ntrees": args.ntrees,
                "max_depth": args.max_depth,
                "learn_rate": args.learn_rate,
                "test_size": args.test_size,
                "seed": args.seed,
            }
        )
        kiln.log_input(
            dataset_from(frame, name="uci-wine-quality", source=DATA), context="training"
        )
        model = H2OGradientBoostingEstimator(
            ntrees=args.ntrees,
            max_depth=args.max_depth,
            learn_rate=args.learn_rate,
            seed=args.seed,
        )
        model.train(x=FEATURES, y=TARGET, training_frame=train_frame)
        performance = model.model_performance(test_frame)
        metrics = {
            "rmse": float(performance.rmse()),
            "mae": float(performance.mae()),
            "r2": float(performance.r2()),
            # What the numbers mean: always predicting the training mean.
            "baseline_rmse": float(np.sqrt(np.mean((y.iloc[test] - y.iloc[train].mean()) ** 2))),
        }
        kiln.log_metrics(metrics)
        kiln.h2o.log_model(model, name="model", input_example=x.iloc[train].head(5))
        print(" ".join(f"{key}={value:.4f}" for key, value in metrics.items()))


if __name__ == "__main__":
    main()
