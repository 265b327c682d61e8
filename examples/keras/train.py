"""A Keras regressor on 13 numeric inputs, all named "features", tracked with Kiln.

Predicts the UCI wine-quality score from 13 positional inputs: the 11 physico-chemical
measurements (in the alphabetical order of the MLflow 1.x reference request), whether
the wine is red (0/1) and the share of free sulfur dioxide in the total. Every column
is called "features", as in the reference request a Keras model was served with.

Run it as a project (``kiln run examples/keras``) or directly (``python train.py``).
It logs its parameters, the held-out RMSE and MAE (and a baseline), the data set, and
the network (normalisation + two hidden layers) as a ``keras`` model whose signature is
a ``[-1, 13]`` float64 tensor, with an input example of columns named "features".
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter

import keras
import numpy as np
import pandas as pd

import kiln
from kiln.tracking.datasets import dataset_from

DATA = Path(__file__).resolve().parent / "data" / "winequality.csv.gz"
TARGET = "quality"
MEASUREMENTS = [  # the order of the reference request
    "alcohol",
    "chlorides",
    "citric acid",
    "density",
    "fixed acidity",
    "free sulfur dioxide",
    "pH",
    "residual sugar",
    "sulphates",
    "total sulfur dioxide",
    "volatile acidity",
]
COLUMNS = ["features"] * 13


def inputs(frame: pd.DataFrame) -> np.ndarray:
    """The 13 positional inputs: 11 measurements, is-red, free/total sulfur dioxide."""
    red = (frame["color"] == "red").astype("float64")
    share = frame["free sulfur dioxide"] / frame["total sulfur dioxide"].clip(lower=1.0)
    return np.column_stack([frame[MEASUREMENTS].to_numpy("float64"), red, share])


def build(x_train: np.ndarray, hidden: int, learning_rate: float) -> keras.Model:
    normalize = keras.layers.Normalization()
    normalize.adapt(x_train)
    model = keras.Sequential(
        [
            keras.Input((13,)),
            normalize,
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(hidden // 2, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=0.003)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    frame = pd.read_csv(DATA)
    x = inputs(frame)
    y = frame[TARGET].to_numpy("float64")
    order = np.random.default_rng(args.seed).permutation(len(frame))
    test = order[: len(order) // 5]
    train = order[len(order) // 5 :]

    with kiln.start_run():
        kiln.log_params(
            {
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "hidden": args.hidden,
                "learning_rate": args.learning_rate,
                "seed": args.seed,
            }
        )
        kiln.log_input(
            dataset_from(frame, name="uci-wine-quality", source=DATA), context="training"
        )
        model = build(x[train], args.hidden, args.learning_rate)
        history = model.fit(
            x[train], y[train], epochs=args.epochs, batch_size=args.batch_size, verbose=0
        )
        predicted = model.predict(x[test], verbose=0).reshape(-1)
        error = predicted - y[test]
        metrics = {
            "rmse": float(np.sqrt(np.mean(error**2))),
            "mae": float(np.mean(np.abs(error))),
            "train_loss": float(history.history["loss"][-1]),
            # What the numbers mean: always predicting the training mean.
            "baseline_rmse": float(np.sqrt(np.mean((y[test] - y[train].mean()) ** 2))),
        }
        kiln.log_metrics(metrics)
        kiln.keras.log_model(
            model, name="model", input_example=pd.DataFrame(x[train][:5], columns=COLUMNS)
        )
        print(" ".join(f"{key}={value:.4f}" for key, value in metrics.items()))


if __name__ == "__main__":
    main()
