"""``import kiln as mlflow`` logging an MLflow 3 logged model to ``kiln server`` and to
``mlflow server``: the model, its params, its dataset metrics (once on the run), loading
from ``models:/m-<id>`` and ``runs:/`` and registering from it behave the same on both."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import kiln
from kiln.entities.logged_model import LoggedModelStatus
from kiln.testing.server_process import kiln_server_process, mlflow_server_process
from kiln.tracking import fluent

pytestmark = [pytest.mark.integration, pytest.mark.slow]

X = np.random.default_rng(1).normal(size=(30, 3))
Y = (X[:, 0] > 0).astype("int64")


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    start = kiln_server_process if request.param == "kiln" else mlflow_server_process
    with start(tmp_path) as url:
        fluent.reset_state()
        fluent.set_tracking_uri(url)
        try:
            yield url
        finally:
            with contextlib.suppress(Exception):
                while fluent.active_run() is not None:
                    fluent.end_run()
            fluent.reset_state()


def _flow() -> dict[str, Any]:
    kiln.set_experiment("over-http")
    fitted = LogisticRegression().fit(X, Y)
    with kiln.start_run() as run:
        kiln.log_param("solver", "lbfgs")
        info = kiln.sklearn.log_model(
            fitted, name="clf", params={"C": 1}, registered_model_name="http-model"
        )
        data = kiln.data.from_numpy(X, targets=Y, name="eval")
        kiln.log_metrics({"acc": 0.8}, model_id=info.model_id, dataset=data)
        kiln.log_metric("f1", 0.7, model_id=info.model_id, dataset=data)
    with contextlib.closing(kiln.MlflowClient()) as client:
        return _read_back(client, info, run.info.run_id, fitted.predict(X[:4]))


def _read_back(client: Any, info: Any, run_id: str, expected: np.ndarray) -> dict[str, Any]:
    model = kiln.get_logged_model(str(info.model_id))
    for uri in (info.model_uri, f"runs:/{run_id}/clf", "models:/http-model/1"):
        np.testing.assert_array_equal(kiln.pyfunc.load_model(uri).predict(X[:4]), expected)
    version = client.get_model_version("http-model", 1)
    found = kiln.search_logged_models(filter_string="metrics.acc > 0.5", output_format="list")
    return {
        "uri": info.model_uri == f"models:/{info.model_id}",
        "location": info.artifact_path.endswith(f"/models/{info.model_id}/artifacts"),
        "version": info.registered_model_version,
        "status": model.status,
        "params": model.params,
        "tags": sorted(k for k in model.tags if not k.startswith("mlflow.source.git")),
        "metrics": sorted(
            (m.key, m.value, m.dataset_name, m.run_id == run_id) for m in model.metrics
        ),
        "history": [len(client.get_metric_history(run_id, k)) for k in ("acc", "f1")],
        "run_files": client.list_artifacts(run_id),
        "source": (version.source == info.model_uri, version.run_id == run_id),
        "found": [m.model_id == info.model_id for m in found],
    }


@pytest.mark.parametrize("server", ["kiln", "mlflow"], indirect=True)
def test_log_model_over_http(server: str) -> None:
    assert _flow() == {
        "uri": True,
        "location": True,
        "version": 1,
        "status": LoggedModelStatus.READY,
        "params": {"C": "1", "solver": "lbfgs"},
        "tags": ["mlflow.modelVersions", "mlflow.source.name", "mlflow.source.type", "mlflow.user"],
        "metrics": [("acc", 0.8, "eval", True), ("f1", 0.7, "eval", True)],
        "history": [1, 1],  # each point once on the run, though it is on the model too
        "run_files": [],
        "source": (True, True),
        "found": [True],
    }
