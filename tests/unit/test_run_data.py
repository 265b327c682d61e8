"""``RunData`` has MLflow's shape: float metrics, str params and tags, Metric objects kept."""

from __future__ import annotations

import math
import pickle

import mlflow.entities as mle

from kiln.entities import Metric, Param, RunData, RunTag


def test_metrics_are_floats_that_user_code_can_compare() -> None:
    data = RunData(metrics=[Metric("rmse", 0.7, 10, 2)], params={"lr": "0.1"}, tags={"t": "x"})
    assert data.metrics["rmse"] < 0.8
    assert data.metrics == {"rmse": 0.7}
    assert data.params == {"lr": "0.1"}
    assert data.tags == {"t": "x"}


def test_the_same_mapping_as_mlflow_run_data() -> None:
    points = [Metric("m", 1.5, 7, 2), Metric("n", math.nan, 8, 0), Metric("i", 3.0, 9, 1)]
    ours = RunData(metrics=points, params=[Param("p", "v")], tags=[RunTag("t", "x")])
    theirs = mle.RunData(
        metrics=[mle.Metric(m.key, m.value, m.timestamp, m.step) for m in points],
        params=[mle.Param("p", "v")],
        tags=[mle.RunTag("t", "x")],
    )
    mine, expected = ours.to_dictionary(), theirs.to_dictionary()
    assert mine.keys() == expected.keys()
    assert mine["params"] == expected["params"]
    assert mine["tags"] == expected["tags"]
    assert repr(mine["metrics"]) == repr(expected["metrics"])  # NaN compares by its text
    assert type(RunData(metrics=[Metric("i", 3, 9, 1)]).metrics["i"]) is float
    assert [(m.key, m.step, m.timestamp) for m in ours._metric_objs] == [
        (m.key, m.step, m.timestamp) for m in theirs._metric_objs
    ]


def test_a_list_of_points_keeps_the_latest_of_each_key() -> None:
    data = RunData(
        metrics=[
            Metric("loss", 0.9, 30, 1),
            Metric("loss", 0.5, 20, 2),  # the highest step wins over a later time
            Metric("loss", 0.7, 10, 0),
        ]
    )
    assert data.metrics == {"loss": 0.5}
    assert data.metric_objects == {"loss": Metric("loss", 0.5, 20, 2)}


def test_equality_and_pickling_follow_the_contents() -> None:
    data = RunData(metrics={"m": Metric("m", 1.0, 1, 0)}, params={"p": "1"}, tags={"t": "2"})
    same = RunData(metrics=[Metric("m", 1.0, 1, 0)], params=[Param("p", "1")], tags={"t": "2"})
    assert data == same
    assert data != RunData(metrics=[Metric("m", 1.0, 2, 0)], params={"p": "1"}, tags={"t": "2"})
    assert pickle.loads(pickle.dumps(data)) == data
    assert "metrics={'m': 1.0}" in repr(data)
