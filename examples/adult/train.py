"""XGBoost on the UCI Adult census-income data, tracked with Kiln.

Predicts whether a person earns more than $50K a year from 14 census attributes.
The 8 categorical attributes are label-encoded the way the reference scoring
request expects (``encode``): a category's code is its position in the sorted
list of the categories found in the test split (``adult.test``), so for example
``education`` "11th" is 1 and ``native-country`` "United-States" is 38. The one
training row whose category never occurs in the test split (``native-country``
"Holand-Netherlands") is dropped.

Run it as a project (``kiln run examples/adult -P max_depth=4``) or directly
(``python train.py``). Logs parameters, test accuracy / AUC / log loss, the data
set, and the classifier as an ``xgboost`` model with a signature.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from xgboost import XGBClassifier

import kiln
from kiln.models.signature import infer_signature
from kiln.tracking.datasets import dataset_from

DATA = Path(__file__).resolve().parent / "data" / "adult.csv.gz"
TARGET = "income"
POSITIVE = ">50K"
CATEGORICAL = [
    "education",
    "marital-status",
    "native-country",
    "occupation",
    "race",
    "relationship",
    "sex",
    "workclass",
]
# The columns of the reference request, in its order.
FEATURES = [
    "age",
    "capital-gain",
    "capital-loss",
    "education",
    "education-num",
    "fnlwgt",
    "hours-per-week",
    "marital-status",
    "native-country",
    "occupation",
    "race",
    "relationship",
    "sex",
    "workclass",
]


def load() -> pd.DataFrame:
    """All 48,842 rows, with the UCI column names and a ``split`` column (train/test)."""
    return pd.read_csv(DATA)


def vocabularies(frame: pd.DataFrame) -> dict[str, list[str]]:
    """For each categorical column, its sorted categories in the test split."""
    test = frame[frame["split"] == "test"]
    return {column: sorted(test[column].unique()) for column in CATEGORICAL}


def encode(frame: pd.DataFrame, vocabulary: dict[str, list[str]]) -> pd.DataFrame:
    """The model's inputs: ``FEATURES`` with each category replaced by its code.

    Rows with a category outside ``vocabulary`` are dropped.
    """
    encoded = frame[FEATURES].copy()
    keep = pd.Series(True, index=frame.index)
    for column in CATEGORICAL:
        codes = {category: code for code, category in enumerate(vocabulary[column])}
        mapped = frame[column].map(codes)
        keep &= mapped.notna()
        encoded[column] = mapped
    return encoded[keep].astype("int64")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-estimators", type=int, default=200)
    parser.add_argument("--max-depth", type=int, default=6)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    frame = load()
    x = encode(frame, vocabularies(frame))
    y = (frame.loc[x.index, TARGET] == POSITIVE).astype("int64")
    is_train = frame.loc[x.index, "split"] == "train"
    x_train, y_train = x[is_train], y[is_train]
    x_test, y_test = x[~is_train], y[~is_train]

    with kiln.start_run():
        kiln.log_params(vars(args))
        kiln.log_input(dataset_from(frame, name="uci-adult", source=DATA), context="training")

        model = XGBClassifier(
            n_estimators=args.n_estimators,
            max_depth=args.max_depth,
            learning_rate=args.learning_rate,
            tree_method="hist",
            n_jobs=2,
            random_state=args.seed,
        )
        model.fit(x_train, y_train)
        probability = model.predict_proba(x_test)[:, 1]
        metrics = {
            "accuracy": float(accuracy_score(y_test, probability > 0.5)),
            "auc": float(roc_auc_score(y_test, probability)),
            "logloss": float(log_loss(y_test, probability)),
            # What the numbers mean: always answering the majority class.
            "baseline_accuracy": float(max(y_test.mean(), 1 - y_test.mean())),
        }
        kiln.log_metrics(metrics)

        example = x_train.head(5)
        kiln.xgboost.log_model(
            model,
            name="model",
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
        )
        print(" ".join(f"{key}={value:.4f}" for key, value in metrics.items()))


if __name__ == "__main__":
    main()
