"""Retried metric writes and ``log_batch`` limits: ``kiln server`` answers as ``mlflow server``.

The official client logs the same point twice (a retry after a lost response) and
reads one point back; its ``log_batch`` of 1,000 metrics, 100 params and 50 tags
succeeds; over-full raw ``log-batch`` requests get the very status, error code and
message that a real ``mlflow server`` gives.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kiln.testing.server_process import kiln_server_process, mlflow_server_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]

from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunTag  # noqa: E402

LOG_BATCH = "/api/2.0/mlflow/runs/log-batch"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Base URLs of a ``kiln server`` and an ``mlflow server``, each on its own SQLite."""
    kiln_root = tmp_path_factory.mktemp("kiln")
    mlflow_root = tmp_path_factory.mktemp("mlflow")
    with kiln_server_process(kiln_root) as kiln, mlflow_server_process(mlflow_root) as real:
        yield {"kiln": kiln, "mlflow": real}


@pytest.fixture
def no_client_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


def _new_run(client: MlflowClient) -> str:
    experiment_id = client.create_experiment(f"batches-{uuid.uuid4().hex[:8]}")
    return str(client.create_run(experiment_id).info.run_id)


@pytest.mark.parametrize("server", ["kiln", "mlflow"])
@pytest.mark.usefixtures("no_client_retries")
def test_a_retried_metric_is_stored_once(servers: dict[str, str], server: str) -> None:
    client = MlflowClient(tracking_uri=servers[server])
    run_id = _new_run(client)
    now = int(time.time() * 1000)
    client.log_metric(run_id, "loss", 0.5, timestamp=now, step=3)
    client.log_metric(run_id, "loss", 0.5, timestamp=now, step=3)  # the retry
    point = Metric("acc", 0.75, now, 1)
    client.log_batch(run_id, metrics=[point, point])  # a batch repeating itself
    client.log_batch(run_id, metrics=[point])  # and retried
    loss = client.get_metric_history(run_id, "loss")
    assert [(m.value, m.timestamp, m.step) for m in loss] == [(0.5, now, 3)]
    assert len(client.get_metric_history(run_id, "acc")) == 1
    assert client.get_run(run_id).data.metrics == {"loss": 0.5, "acc": 0.75}


@pytest.mark.usefixtures("no_client_retries")
def test_log_batch_of_1000_metrics_100_params_50_tags_succeeds(servers: dict[str, str]) -> None:
    client = MlflowClient(tracking_uri=servers["kiln"])
    run_id = _new_run(client)
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(f"m{i % 4}", float(i), now + i, i) for i in range(1000)],
        params=[Param(f"p{i}", str(i)) for i in range(100)],
        tags=[RunTag(f"t{i}", str(i)) for i in range(50)],
    )
    data = client.get_run(run_id).data
    assert data.params == {f"p{i}": str(i) for i in range(100)}
    assert {f"t{i}": str(i) for i in range(50)}.items() <= data.tags.items()
    assert data.metrics == {"m0": 996.0, "m1": 997.0, "m2": 998.0, "m3": 999.0}
    assert len(client.get_metric_history(run_id, "m0")) == 250


def _batch(run_id: str, metrics: int, params: int, tags: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "metrics": [
            {"key": "m", "value": float(i), "timestamp": i, "step": i} for i in range(metrics)
        ],
        "params": [{"key": f"p{i}", "value": "v"} for i in range(params)],
        "tags": [{"key": f"t{i}", "value": "v"} for i in range(tags)],
    }


@pytest.mark.parametrize(
    ("metrics", "params", "tags", "limit"),
    [
        (1001, 0, 0, "at most 1000 metrics."),
        (0, 101, 0, "at most 100 params."),
        (0, 0, 101, "at most 100 tags."),
        (900, 100, 1, "at most 1000 metrics, params, and tags."),
    ],
    ids=["1001-metrics", "101-params", "101-tags", "1001-in-all"],
)
def test_an_over_full_batch_is_refused_as_mlflow_does(
    servers: dict[str, str], metrics: int, params: int, tags: int, limit: str
) -> None:
    answers = {}
    for server, url in servers.items():
        run_id = _new_run(MlflowClient(tracking_uri=url))
        response = httpx.post(url + LOG_BATCH, json=_batch(run_id, metrics, params, tags))
        body = response.json()
        answers[server] = (response.status_code, body["error_code"], body["message"])
        stored = httpx.get(url + "/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()
        assert "metrics" not in stored["run"]["data"], server
        assert "params" not in stored["run"]["data"], server
    assert answers["kiln"] == answers["mlflow"]
    status, code, message = answers["kiln"]
    assert (status, code) == (400, "INVALID_PARAMETER_VALUE")
    assert limit in message
