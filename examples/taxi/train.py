"""NYC taxi trip duration: gradient boosting on synthetic trips, tracked with Kiln.

The trips come from Kiln's seeded generator (``kiln.examples.taxi``): real TLC
zones, weekday and weekend hour profiles, rush-hour congestion, 2019 fares. The
model predicts the trip's duration in minutes from what is known at pickup: hour,
weekday, pickup and dropoff zone, passenger count and distance. It trains on
January-May and is tested on June, and is compared with two baselines: the mean
duration, and the distance times the typical minutes per mile.

Run it as a project (``kiln run examples/taxi -P rows=100000``) or directly
(``python train.py``).
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

import kiln
from kiln.examples.taxi import TARGET, generate_trips, model_features
from kiln.models.signature import infer_signature
from kiln.tracking.datasets import dataset_from

ZONE_COLUMNS = ["pickup_zone", "dropoff_zone"]


def build_model(max_iter: int, learning_rate: float, seed: int) -> Pipeline:
    """Zones become categories (the encoder numbers them 0..47, unknown zones -1 =
    missing); the other inputs pass through as numbers."""
    zones = ColumnTransformer(
        [
            (
                "zones",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                ZONE_COLUMNS,
            )
        ],
        remainder="passthrough",
    )
    boosting = HistGradientBoostingRegressor(
        max_iter=max_iter,
        learning_rate=learning_rate,
        categorical_features=[0, 1],
        random_state=seed,
    )
    return Pipeline([("zones", zones), ("boosting", boosting)])


def rmse(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(mean_squared_error(truth, predicted)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    args = parser.parse_args()

    trips = generate_trips(args.rows, seed=args.seed)
    x = model_features(trips)
    y = trips[TARGET].to_numpy()
    is_train = (trips["pickup_datetime"].dt.month < 6).to_numpy()
    x_train, y_train, x_test, y_test = x[is_train], y[is_train], x[~is_train], y[~is_train]

    with kiln.start_run():
        kiln.log_params(vars(args) | {"train_rows": len(x_train), "test_rows": len(x_test)})
        kiln.log_input(
            dataset_from(trips, name=f"synthetic-nyc-taxi-seed{args.seed}"), context="training"
        )

        model = build_model(args.max_iter, args.learning_rate, args.seed)
        model.fit(x_train, y_train)
        predicted = model.predict(x_test)
        minutes_per_mile = np.median(y_train / x_train["trip_distance"].to_numpy())
        metrics = {
            "rmse": rmse(y_test, predicted),
            "mae": float(mean_absolute_error(y_test, predicted)),
            "r2": float(r2_score(y_test, predicted)),
            # What the numbers mean: two models anyone would try first.
            "baseline_mean_rmse": rmse(y_test, np.full_like(y_test, y_train.mean())),
            "baseline_distance_rmse": rmse(
                y_test, x_test["trip_distance"].to_numpy() * minutes_per_mile
            ),
        }
        kiln.log_metrics(metrics)

        example = x_train.head(5)
        kiln.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
        )
        print(" ".join(f"{key}={value:.3f}" for key, value in metrics.items()))


if __name__ == "__main__":
    main()
