"""Experiment, run and metric-history endpoints: MLflow's fields in, MLflow's JSON out."""

from __future__ import annotations

from typing import Any

import pytest

from kiln.entities import Metric

API = "/api/2.0/mlflow"


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _experiment(client: Any, name: str = "exp") -> str:
    return str(_ok(client.post(f"{API}/experiments/create", json={"name": name}))["experiment_id"])


def _run(client: Any, experiment_id: str, **fields: Any) -> dict[str, Any]:
    body = {"experiment_id": experiment_id, **fields}
    run: dict[str, Any] = _ok(client.post(f"{API}/runs/create", json=body))["run"]
    return run


def test_experiment_lifecycle(client: Any) -> None:
    created = _ok(
        client.post(
            f"{API}/experiments/create",
            json={"name": "churn", "tags": [{"key": "team", "value": "a"}]},
        )
    )
    exp_id = created["experiment_id"]
    got = _ok(client.get(f"{API}/experiments/get", params={"experiment_id": exp_id}))
    assert got["experiment"]["name"] == "churn"
    assert got["experiment"]["artifact_location"] == f"mlflow-artifacts:/{exp_id}"
    assert got["experiment"]["tags"] == [{"key": "team", "value": "a"}]
    assert isinstance(got["experiment"]["creation_time"], int)

    by_name = _ok(client.get(f"{API}/experiments/get-by-name", params={"experiment_name": "churn"}))
    assert by_name["experiment"]["experiment_id"] == exp_id

    _ok(client.post(f"{API}/experiments/update", json={"experiment_id": exp_id, "new_name": "c2"}))
    _ok(
        client.post(
            f"{API}/experiments/set-experiment-tag",
            json={"experiment_id": exp_id, "key": "k", "value": "v"},
        )
    )
    _ok(
        client.post(
            f"{API}/experiments/delete-experiment-tag",
            json={"experiment_id": exp_id, "key": "team"},
        )
    )
    got = _ok(client.get(f"{API}/experiments/get", params={"experiment_id": exp_id}))
    assert got["experiment"]["name"] == "c2"
    assert got["experiment"]["tags"] == [{"key": "k", "value": "v"}]

    _ok(client.post(f"{API}/experiments/delete", json={"experiment_id": exp_id}))
    deleted = _ok(client.post(f"{API}/experiments/search", json={"view_type": "DELETED_ONLY"}))
    assert [e["experiment_id"] for e in deleted["experiments"]] == [exp_id]
    _ok(client.post(f"{API}/experiments/restore", json={"experiment_id": exp_id}))
    got = _ok(client.get(f"{API}/experiments/get", params={"experiment_id": exp_id}))
    assert got["experiment"]["lifecycle_stage"] == "active"


def test_search_experiments_get_and_post_page_the_same_way(client: Any) -> None:
    for name in ("a", "b", "c"):
        _experiment(client, name)
    first = _ok(
        client.get(
            f"{API}/experiments/search",
            params={"max_results": "2", "order_by": ["name ASC"], "filter": "name != 'Default'"},
        )
    )
    assert [e["name"] for e in first["experiments"]] == ["a", "b"]
    second = _ok(
        client.post(
            f"{API}/experiments/search",
            json={
                "max_results": 2,
                "order_by": ["name ASC"],
                "filter": "name != 'Default'",
                "page_token": first["next_page_token"],
            },
        )
    )
    assert [e["name"] for e in second["experiments"]] == ["c"]
    assert "next_page_token" not in second


def test_duplicate_experiment_is_resource_already_exists(client: Any) -> None:
    _experiment(client, "dup")
    response = client.post(f"{API}/experiments/create", json={"name": "dup"})
    assert response.status_code == 400
    assert response.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"


def test_run_logging_and_reading(client: Any) -> None:
    exp_id = _experiment(client)
    run = _run(
        client,
        exp_id,
        start_time=1000,
        user_id="ann",
        tags=[{"key": "mlflow.runName", "value": "r1"}],
    )
    run_id = run["info"]["run_id"]
    assert run["info"]["run_uuid"] == run_id
    assert run["info"]["run_name"] == "r1"
    assert run["info"]["status"] == "RUNNING"
    assert run["info"]["artifact_uri"] == f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"

    _ok(
        client.post(
            f"{API}/runs/log-metric",
            json={"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 0},
        )
    )
    _ok(
        client.post(
            f"{API}/runs/log-metric",
            json={"run_uuid": run_id, "key": "loss", "value": "NaN", "timestamp": "2", "step": 1},
        )
    )
    _ok(
        client.post(
            f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "lr", "value": "0.1"}
        )
    )
    _ok(client.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "t", "value": "x"}))
    _ok(client.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "gone", "value": "x"}))
    _ok(client.post(f"{API}/runs/delete-tag", json={"run_id": run_id, "key": "gone"}))
    _ok(
        client.post(
            f"{API}/runs/log-batch",
            json={
                "run_id": run_id,
                "metrics": [{"key": "acc", "value": 0.9, "timestamp": 3, "step": 2}],
                "params": [{"key": "depth", "value": "4"}],
                "tags": [{"key": "b", "value": "1"}],
            },
        )
    )
    updated = _ok(
        client.post(
            f"{API}/runs/update", json={"run_id": run_id, "status": "FINISHED", "end_time": 2000}
        )
    )
    assert updated["run_info"]["status"] == "FINISHED"
    assert updated["run_info"]["end_time"] == 2000

    got = _ok(client.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
    metrics = {m["key"]: m for m in got["data"]["metrics"]}
    assert metrics["loss"] == {"key": "loss", "value": "NaN", "timestamp": 2, "step": 1}
    assert metrics["acc"]["value"] == 0.9
    assert {p["key"]: p["value"] for p in got["data"]["params"]} == {"lr": "0.1", "depth": "4"}
    tags = {t["key"]: t["value"] for t in got["data"]["tags"]}
    assert tags["t"] == "x"
    assert tags["b"] == "1"
    assert "gone" not in tags


def test_changing_a_param_is_rejected(client: Any) -> None:
    run_id = _run(client, _experiment(client))["info"]["run_id"]
    _ok(client.post(f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "1"}))
    response = client.post(
        f"{API}/runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "2"}
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_search_runs_filters_orders_and_pages(client: Any) -> None:
    exp_id = _experiment(client)
    ids = []
    for i in range(5):
        run_id = _run(client, exp_id, start_time=1000 + i)["info"]["run_id"]
        ids.append(run_id)
        _ok(
            client.post(
                f"{API}/runs/log-metric",
                json={"run_id": run_id, "key": "m", "value": i, "timestamp": 1},
            )
        )
    body = {
        "experiment_ids": [exp_id],
        "filter": "metrics.m >= 1",
        "order_by": ["metrics.m DESC"],
        "max_results": 3,
    }
    first = _ok(client.post(f"{API}/runs/search", json=body))
    assert [r["info"]["run_id"] for r in first["runs"]] == [ids[4], ids[3], ids[2]]
    second = _ok(
        client.post(f"{API}/runs/search", json={**body, "page_token": first["next_page_token"]})
    )
    assert [r["info"]["run_id"] for r in second["runs"]] == [ids[1]]
    assert "next_page_token" not in second


def test_deleted_runs_leave_default_search_and_come_back(client: Any) -> None:
    exp_id = _experiment(client)
    run_id = _run(client, exp_id)["info"]["run_id"]
    _ok(client.post(f"{API}/runs/delete", json={"run_id": run_id}))
    assert _ok(client.post(f"{API}/runs/search", json={"experiment_ids": [exp_id]})) == {}
    deleted = _ok(
        client.post(
            f"{API}/runs/search", json={"experiment_ids": [exp_id], "run_view_type": "DELETED_ONLY"}
        )
    )
    assert deleted["runs"][0]["info"]["lifecycle_stage"] == "deleted"
    _ok(client.post(f"{API}/runs/restore", json={"run_id": run_id}))
    got = _ok(client.get(f"{API}/runs/get", params={"run_id": run_id}))
    assert got["run"]["info"]["lifecycle_stage"] == "active"


def test_metric_history_pages_with_tokens(client: Any, store: Any) -> None:
    run_id = _run(client, _experiment(client))["info"]["run_id"]
    store.log_batch(run_id, metrics=[Metric("m", float(i), 100 + i, i) for i in range(5)])
    everything = _ok(
        client.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"})
    )
    assert [m["step"] for m in everything["metrics"]] == [0, 1, 2, 3, 4]
    assert "next_page_token" not in everything

    steps: list[int] = []
    token = None
    for _ in range(5):
        params = {"run_id": run_id, "metric_key": "m", "max_results": "2"}
        if token:
            params["page_token"] = token
        page = _ok(client.get(f"{API}/metrics/get-history", params=params))
        steps += [m["step"] for m in page["metrics"]]
        token = page.get("next_page_token")
        if token is None:
            break
    assert steps == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"metric_key": "m", "max_results": "0"}, "must be a positive integer"),
        ({"metric_key": "m", "page_token": "garbage!"}, "invalid page token"),
        ({}, "required field 'metric_key'"),
    ],
)
def test_metric_history_rejects_bad_paging(
    client: Any, params: dict[str, str], message: str
) -> None:
    run_id = _run(client, _experiment(client))["info"]["run_id"]
    response = client.get(f"{API}/metrics/get-history", params={"run_id": run_id, **params})
    assert response.status_code == 400
    assert message in response.json()["message"]


def test_bulk_interval_samples_steps_across_runs(client: Any, store: Any) -> None:
    exp_id = _experiment(client)
    run_a = _run(client, exp_id)["info"]["run_id"]
    run_b = _run(client, exp_id)["info"]["run_id"]
    store.log_batch(run_a, metrics=[Metric("m", float(i), 1, i) for i in range(100)])
    store.log_batch(run_b, metrics=[Metric("m", 1.0, 1, 50)])
    answer = _ok(
        client.get(
            f"{API}/metrics/get-history-bulk-interval",
            params={"run_ids": [run_a, run_b], "metric_key": "m", "max_results": "10"},
        )
    )
    by_run: dict[str, list[int]] = {}
    for point in answer["metrics"]:
        by_run.setdefault(point["run_id"], []).append(point["step"])
    assert len(by_run[run_a]) <= 10
    assert by_run[run_a][0] == 0
    assert by_run[run_a][-1] == 99
    assert by_run[run_a] == sorted(by_run[run_a])

    ranged = _ok(
        client.get(
            f"{API}/metrics/get-history-bulk-interval",
            params={"run_ids": [run_a], "metric_key": "m", "start_step": "10", "end_step": "12"},
        )
    )
    assert [p["step"] for p in ranged["metrics"]] == [10, 11, 12]

    response = client.get(
        f"{API}/metrics/get-history-bulk-interval",
        params={"run_ids": [run_a], "metric_key": "m", "start_step": "10"},
    )
    assert response.status_code == 400
    assert "both must be specified" in response.json()["message"]


def _mlflow_log_inputs_body(run_id: str) -> dict[str, Any]:
    """The JSON ``mlflow.log_input`` sends, made by mlflow's own proto code."""
    import json

    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.protos.service_pb2 import LogInputs
    from mlflow.utils.proto_json_utils import message_to_json

    dataset = Dataset(
        "wine", "3d4f1a2b", "local", '{"uri": "/data/wine.csv"}',
        '{"mlflow_colspec": [{"type": "double", "name": "x", "required": true}]}',
        '{"num_rows": 2, "num_elements": 2}',
    )  # fmt: skip
    item = DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])
    message = LogInputs(run_id=run_id, datasets=[item.to_proto()])
    body: dict[str, Any] = json.loads(message_to_json(message))
    return body


def test_log_inputs_stores_datasets_as_mlflow_sends_them(client: Any) -> None:
    from mlflow.entities import Run as MlflowRun
    from mlflow.protos.service_pb2 import Run as ProtoRun
    from mlflow.utils.proto_json_utils import parse_dict

    exp_id = _experiment(client)
    run_id = _run(client, exp_id)["info"]["run_id"]
    body = _mlflow_log_inputs_body(run_id)
    _ok(client.post(f"{API}/runs/log-inputs", json={**body, "models": []}))
    _ok(client.post(f"{API}/runs/log-inputs", json=body))  # again: no second input
    run_json = _ok(client.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
    assert run_json["inputs"] == {"dataset_inputs": body["datasets"]}
    proto = ProtoRun()
    parse_dict(run_json, proto)  # type: ignore[no-untyped-call]
    inputs = MlflowRun.from_proto(proto).inputs
    assert inputs is not None
    (item,) = inputs.dataset_inputs
    assert (item.dataset.name, item.dataset.digest) == ("wine", "3d4f1a2b")
    assert [(t.key, t.value) for t in item.tags] == [("mlflow.data.context", "training")]
    found = _ok(
        client.post(
            f"{API}/runs/search",
            json={"experiment_ids": [exp_id], "filter": "datasets.context = 'training'"},
        )
    )
    assert [r["inputs"] for r in found["runs"]] == [run_json["inputs"]]


def test_log_inputs_refuses_bad_datasets(client: Any) -> None:
    run_id = _run(client, _experiment(client))["info"]["run_id"]
    response = client.post(
        f"{API}/runs/log-inputs",
        json={"run_id": run_id, "datasets": [{"dataset": {"name": "d", "digest": "x" * 37}}]},
    )
    assert response.status_code == 400
    assert "dataset digest is 37 characters" in response.json()["message"]
    response = client.post(
        f"{API}/runs/log-inputs", json={"run_id": run_id, "datasets": [{"tags": []}]}
    )
    assert response.status_code == 400
    assert "datasets[0].dataset" in response.json()["message"]


def test_logged_model_search_is_empty_for_known_experiments(client: Any) -> None:
    exp_id = _experiment(client)
    found = client.post(f"{API}/logged-models/search", json={"experiment_ids": [exp_id]})
    assert _ok(found) == {}
    missing = client.post(f"{API}/logged-models/search", json={"experiment_ids": ["999"]})
    assert missing.status_code == 404


def test_ajax_prefix_serves_the_same_api(client: Any) -> None:
    exp_id = _experiment(client)
    got = _ok(client.get("/ajax-api/2.0/mlflow/experiments/get", params={"experiment_id": exp_id}))
    assert got["experiment"]["experiment_id"] == exp_id
