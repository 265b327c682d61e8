"""MLflow 3's ``examples/demos/mlflow-3/ml.py`` flow against ``kiln server`` and ``mlflow server``.

The official client logs a model, then ``log_metrics(model_id=..., dataset=...)`` on a
train and a test dataset: the logged model must list the same six metrics (with run id,
dataset name and digest) on both servers, and a dataset-restricted search must agree.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.testing.server_process import kiln_server_process, mlflow_server_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

import mlflow  # noqa: E402
import mlflow.data  # noqa: E402
import mlflow.sklearn  # noqa: E402
from mlflow.entities import LoggedModelInput  # noqa: E402
from sklearn import datasets as sklearn_datasets  # noqa: E402
from sklearn.linear_model import ElasticNet  # noqa: E402
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

SAVE_ARGS: dict[str, Any] = {
    "serialization_format": "cloudpickle",
    "pip_requirements": ["scikit-learn", "cloudpickle"],
}


@pytest.fixture
def tracking(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    previous = mlflow.get_tracking_uri()
    try:
        yield
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)


def _ml_py(url: str) -> dict[str, Any]:
    """ml.py's steps; returns what a user reads back about the logged model."""
    mlflow.set_tracking_uri(url)
    experiment = mlflow.set_experiment(f"ml-py-{uuid.uuid4().hex[:8]}")
    frame = sklearn_datasets.load_diabetes(as_frame=True).frame
    train, test = train_test_split(frame, test_size=0.2, random_state=42)
    params = {"alpha": 0.5, "l1_ratio": 0.5}
    with mlflow.start_run() as run:
        model = ElasticNet(**params, random_state=42)
        model.fit(train.drop(columns="target"), train["target"])
        info = mlflow.sklearn.log_model(
            model,
            name="elasticnet",
            params=params,
            input_example=train.drop(columns="target").head(3),
            **SAVE_ARGS,
        )
        for name, part in (("train", train), ("test", test)):
            dataset = mlflow.data.from_pandas(part, name=name, targets="target")
            predicted = model.predict(part.drop(columns="target"))
            metrics = {
                "rmse": float(mean_squared_error(part["target"], predicted) ** 0.5),
                "r2": float(r2_score(part["target"], predicted)),
                "mae": float(mean_absolute_error(part["target"], predicted)),
            }
            mlflow.log_metrics(metrics, model_id=info.model_id, dataset=dataset)
    logged = mlflow.get_logged_model(info.model_id)
    client = mlflow.MlflowClient()
    with mlflow.start_run() as consumer:  # a run that used the model
        client.log_inputs(consumer.info.run_id, models=[LoggedModelInput(info.model_id)])
    produced = client.get_run(run.info.run_id).outputs.model_outputs
    used = client.get_run(consumer.info.run_id).inputs.model_inputs
    found = mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id],
        filter_string="metrics.rmse > 1",
        datasets=[{"dataset_name": "test"}],
        output_format="list",
    )
    return {
        "metrics": sorted(
            (m.key, round(m.value, 9), m.step, m.dataset_name, m.dataset_digest, m.run_id)
            for m in logged.metrics
        ),
        "run_id": run.info.run_id,
        "params": logged.params,
        "found": [m.model_id == info.model_id for m in found],
        "run_metrics": sorted(mlflow.get_run(run.info.run_id).data.metrics),
        "outputs": [(o.model_id == info.model_id, o.step) for o in produced],
        "inputs": [i.model_id == info.model_id for i in used],
    }


def _same_run(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The metrics with the run id checked and dropped (ids differ between servers)."""
    assert {m[5] for m in result["metrics"]} == {result["run_id"]}
    return [m[:5] for m in result["metrics"]]


def test_log_metrics_with_a_model_id_reach_the_logged_model_as_on_mlflow(
    tmp_path: Path, tracking: None
) -> None:
    (tmp_path / "kiln").mkdir()
    (tmp_path / "mlflow").mkdir()
    with kiln_server_process(tmp_path / "kiln") as url:
        kiln = _ml_py(url)
    with mlflow_server_process(tmp_path / "mlflow") as url:
        reference = _ml_py(url)
    assert len(reference["metrics"]) == 6
    assert _same_run(kiln) == _same_run(reference)
    assert {m[3] for m in kiln["metrics"]} == {"train", "test"}
    assert kiln["params"] == reference["params"]
    # Not compared: mlflow server's REST search turns a dataset given by name only into
    # ``dataset_digest = NULL`` (handlers.py: ``d.dataset_digest or None``) and finds nothing;
    # its SQL store itself finds the model, as Kiln does.
    assert kiln["found"] == [True]
    assert kiln["run_metrics"] == reference["run_metrics"]
    # get-run lists the model a run produced and the models it used, as on mlflow server
    assert reference["outputs"] == [(True, 0)]
    assert reference["inputs"] == [True]
    assert (kiln["outputs"], kiln["inputs"]) == (reference["outputs"], reference["inputs"])
