"""The ``mlflow.datasets`` tag ``kiln.models.evaluate`` writes: MLflow's data set hash
(pinned against mlflow's own ``EvaluationDataset``), the data set's name, the model's uuid."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import kiln
import kiln.models
from kiln.models import sklearn as kiln_sklearn
from kiln.models.evaluation.dataset_tag import TAG, dataset_hash, tag_value
from kiln.tracking import fluent

sklearn_linear = pytest.importorskip("sklearn.linear_model")

_RNG = np.random.default_rng(7)


def _frame(rows: int) -> pd.DataFrame:
    frame = pd.DataFrame(_RNG.normal(size=(rows, 3)), columns=["a", "b", "c"])
    frame["label"] = _RNG.integers(0, 2, size=rows)
    return frame


CASES: dict[str, tuple[Any, Any, list[str] | None]] = {
    "frame, 30 rows": (_frame(30), "label", None),
    "frame, 6 rows": (_frame(6), "label", None),
    "frame, chosen features": (_frame(12), "label", ["c", "a"]),
    "frame, text and list cells": (
        pd.DataFrame({"t": list("abcdefghijkl"), "l": [[i, i] for i in range(12)], "y": 1}),
        "y",
        None,
    ),
    "array with feature names": (_RNG.normal(size=(25, 3)), _RNG.normal(size=25), ["x", "y", "z"]),
    "array, 12 columns": (_RNG.normal(size=(4, 12)), np.arange(4), None),
    "lists": ([[1.0, 2.0], [3.0, 4.0]], [0, 1], None),
}


@pytest.mark.parametrize("case", CASES)
def test_the_hash_is_mlflows(case: str) -> None:
    from mlflow.data.evaluation_dataset import EvaluationDataset

    data, targets, feature_names = CASES[case]
    expected = EvaluationDataset(data, targets=targets, feature_names=feature_names).hash
    assert dataset_hash(data, targets, None, feature_names) == expected
    other = np.asarray(targets).copy() if not isinstance(targets, str) else targets
    if not isinstance(targets, str):
        other[0] = other[0] + 1
        assert dataset_hash(data, other, None, feature_names) != expected


def test_an_entry_is_appended_once() -> None:
    entry = {"name": "dataset", "hash": "h", "model": "m"}
    first = tag_value(None, entry)
    assert first is not None
    assert json.loads(first) == [entry]
    assert tag_value(first, dict(entry)) is None
    second = tag_value(first, {**entry, "model": "n"})
    assert second is not None
    assert [e["model"] for e in json.loads(second)] == ["m", "n"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[None]:
    fluent.reset_state()
    kiln.set_tracking_uri(f"sqlite:///{tmp_path / 'kiln.db'}")
    yield
    fluent.reset_state()


def test_evaluate_tags_the_run_as_mlflow_does(store: None) -> None:
    from mlflow.data.evaluation_dataset import EvaluationDataset

    frame = _frame(40)
    model = sklearn_linear.LogisticRegression().fit(frame[["a", "b", "c"]], frame["label"])
    with fluent.start_run() as run:
        info = kiln_sklearn.log_model(model, name="model")
        for path in (None, None, "s3://bucket/eval.parquet"):
            kiln.models.evaluate(
                info.model_uri,
                frame,
                targets="label",
                model_type="classifier",
                dataset_path=path,
            )
    tag = json.loads(fluent.get_run(run.info.run_id).data.tags[TAG])
    digest = EvaluationDataset(frame, targets="label").hash
    uuid = info.metadata.model_uuid
    # MLflow keys an entry by (name, hash, model): evaluating again, with a path or
    # not, adds nothing
    assert tag == [{"name": "dataset", "hash": digest, "model": uuid}]


def test_a_callable_model_gets_no_tag(store: None) -> None:
    frame = _frame(12)
    with fluent.start_run() as run:
        kiln.models.evaluate(
            lambda features: np.zeros(len(features)),
            frame,
            targets="label",
            model_type="regressor",
        )
    assert TAG not in fluent.get_run(run.info.run_id).data.tags
