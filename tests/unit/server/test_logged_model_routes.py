"""Logged-model routes over a memory store: MLflow's paths, fields, answers and errors."""

from __future__ import annotations

import json
import math
from typing import Any

from kiln.entities.logged_model import LoggedModel, LoggedModelMetric, LoggedModelStatus
from kiln.wire.logged_model import logged_model_to_json

API = "/api/2.0/mlflow"
LM = f"{API}/logged-models"


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _experiment(client: Any, name: str = "exp") -> str:
    return str(_ok(client.post(f"{API}/experiments/create", json={"name": name}))["experiment_id"])


def _create(client: Any, experiment_id: str, **fields: Any) -> dict[str, Any]:
    body = {"experiment_id": experiment_id, **fields}
    model: dict[str, Any] = _ok(client.post(LM, json=body))["model"]
    return model


def test_wire_json_equals_mlflow_message_to_json() -> None:
    from mlflow import entities as mlflow_entities
    from mlflow.utils import proto_json_utils as proto_json

    model = LoggedModel(
        model_id="m-" + "a" * 32,
        experiment_id="1",
        name="model",
        artifact_location="mlflow-artifacts:/1/models/m-a/artifacts",
        creation_timestamp=5,
        last_updated_timestamp=6,
        status=LoggedModelStatus.READY,
        model_type="agent",
        source_run_id="b" * 32,
        tags={"t": "1"},
        params={"p": "2"},
        metrics=(LoggedModelMetric("acc", math.nan, 3, 4, "c" * 32, "train", "d1"),),
    )
    theirs = mlflow_entities.LoggedModel(
        experiment_id="1",
        model_id=model.model_id,
        name="model",
        artifact_location=model.artifact_location,
        creation_timestamp=5,
        last_updated_timestamp=6,
        model_type="agent",
        source_run_id="b" * 32,
        status=mlflow_entities.LoggedModelStatus.READY,
        tags={"t": "1"},
        params={"p": "2"},
        metrics=[
            mlflow_entities.Metric(
                "acc",
                math.nan,
                3,
                4,
                run_id="c" * 32,
                dataset_name="train",
                dataset_digest="d1",
                model_id=model.model_id,
            )
        ],
    )
    expected = json.loads(proto_json.message_to_json(theirs.to_proto()))
    assert logged_model_to_json(model) == expected


def test_create_get_finalize(client: Any) -> None:
    exp = _experiment(client)
    created = _create(
        client,
        exp,
        name="model",
        source_run_id="a" * 32,
        tags=[{"key": "t", "value": "1"}],
        params=[{"key": "p", "value": "2"}],
    )
    info = created["info"]
    model_id = info["model_id"]
    assert info["status"] == "LOGGED_MODEL_PENDING"
    assert info["artifact_uri"] == f"mlflow-artifacts:/{exp}/models/{model_id}/artifacts"
    assert created["data"] == {"params": [{"key": "p", "value": "2"}]}
    assert _ok(client.get(f"{LM}/{model_id}"))["model"] == created

    by_number = client.patch(f"{LM}/{model_id}", json={"model_id": model_id, "status": 2})
    assert _ok(by_number)["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    by_name = client.patch(
        f"{LM}/{model_id}", json={"model_id": model_id, "status": "LOGGED_MODEL_UPLOAD_FAILED"}
    )
    assert _ok(by_name)["model"]["info"]["status"] == "LOGGED_MODEL_UPLOAD_FAILED"
    bad = client.patch(f"{LM}/{model_id}", json={"model_id": model_id, "status": 9})
    assert bad.status_code == 400
    assert bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_create_refuses_unknown_and_deleted_experiments(client: Any) -> None:
    missing = client.post(LM, json={"experiment_id": "999"})
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    exp = _experiment(client, "doomed")
    _ok(client.post(f"{API}/experiments/delete", json={"experiment_id": exp}))
    deleted = client.post(LM, json={"experiment_id": exp})
    assert deleted.status_code == 400
    assert "active" in deleted.json()["message"]
    no_id = client.post(LM, json={})
    assert no_id.status_code == 400


def test_tags_params_and_delete(client: Any) -> None:
    model_id = _create(client, _experiment(client))["info"]["model_id"]
    tags = [{"key": "a", "value": "1"}, {"key": "dir/k", "value": "2"}]
    _ok(client.patch(f"{LM}/{model_id}/tags", json={"tags": tags}))
    _ok(client.delete(f"{LM}/{model_id}/tags/dir/k"))
    missing_tag = client.delete(f"{LM}/{model_id}/tags/nope")
    assert missing_tag.status_code == 404
    params = {"model_id": model_id, "params": [{"key": "lr", "value": "0.1"}]}
    _ok(client.post(f"{LM}/{model_id}/params", json=params))
    clash = {"model_id": model_id, "params": [{"key": "lr", "value": "0.2"}]}
    assert client.post(f"{LM}/{model_id}/params", json=clash).status_code == 400
    info = _ok(client.get(f"{LM}/{model_id}"))["model"]
    assert info["info"]["tags"] == [{"key": "a", "value": "1"}]
    assert info["data"]["params"] == [{"key": "lr", "value": "0.1"}]

    body = json.dumps({"model_id": model_id})
    _ok(client.request("DELETE", f"{LM}/{model_id}", content=body))
    assert client.get(f"{LM}/{model_id}").status_code == 404
    deleted = _ok(client.get(f"{LM}/{model_id}", params={"allow_deleted": "true"}))
    assert deleted["model"]["info"]["model_id"] == model_id


def test_search_filter_order_paging(client: Any) -> None:
    exp = _experiment(client)
    for name in ("b", "a", "c"):
        _create(
            client, exp, name=name, params=[{"key": "kind", "value": "x" if name != "c" else "y"}]
        )
    body = {
        "experiment_ids": [exp],
        "filter": "params.kind = 'x'",
        "order_by": [{"field_name": "name", "ascending": True}],
        "max_results": 1,
    }
    first = _ok(client.post(f"{LM}/search", json=body))
    assert [m["info"]["name"] for m in first["models"]] == ["a"]
    second = _ok(client.post(f"{LM}/search", json={**body, "page_token": first["next_page_token"]}))
    assert [m["info"]["name"] for m in second["models"]] == ["b"]
    assert "next_page_token" not in second
    datasets = {"experiment_ids": [exp], "datasets": [{"dataset_name": "none"}]}
    assert _ok(client.post(f"{LM}/search", json=datasets)) == {}


def test_search_errors(client: Any) -> None:
    exp = _experiment(client)
    assert client.post(f"{LM}/search", json={"experiment_ids": ["999"]}).status_code == 404
    assert client.post(f"{LM}/search", json={}).status_code == 400
    bad = client.post(f"{LM}/search", json={"experiment_ids": [exp], "filter": "x.y = 'z'"})
    assert bad.status_code == 400
    assert "invalid entity type" in bad.json()["message"]


def test_run_outputs_need_an_existing_run_and_model(client: Any) -> None:
    exp = _experiment(client)
    run = _ok(client.post(f"{API}/runs/create", json={"experiment_id": exp}))["run"]
    run_id = run["info"]["run_id"]
    model_id = _create(client, exp, source_run_id=run_id)["info"]["model_id"]
    outputs = {"run_id": run_id, "models": [{"model_id": model_id, "step": 0}]}
    assert _ok(client.post(f"{API}/runs/outputs", json=outputs)) == {}
    unknown_model = {"run_id": run_id, "models": [{"model_id": "m-" + "0" * 32}]}
    assert client.post(f"{API}/runs/outputs", json=unknown_model).status_code == 404
    unknown_run = {"run_id": "f" * 32, "models": [{"model_id": model_id}]}
    assert client.post(f"{API}/runs/outputs", json=unknown_run).status_code == 404


def test_artifact_routes_read_what_the_proxy_stored(client: Any) -> None:
    exp = _experiment(client)
    model = _create(client, exp)
    model_id = model["info"]["model_id"]
    root = model["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    proxy = f"/api/2.0/mlflow-artifacts/artifacts/{root}"
    assert client.put(f"{proxy}/MLmodel", content=b"flavors: {}\n").status_code == 200
    assert client.put(f"{proxy}/data/model.pkl", content=b"\x80\x04").status_code == 200

    listing = _ok(client.get(f"{LM}/{model_id}/artifacts/directories"))
    assert listing["root_uri"] == model["info"]["artifact_uri"]
    assert {(f["path"], f["is_dir"]) for f in listing["files"]} == {
        ("MLmodel", False),
        ("data", True),
    }
    inner = client.get(
        f"{LM}/{model_id}/artifacts/directories", params={"artifact_directory_path": "data"}
    )
    assert [f["path"] for f in _ok(inner)["files"]] == ["data/model.pkl"]

    files = "/ajax-api/2.0/mlflow/logged-models"
    got = client.get(
        f"{files}/{model_id}/artifacts/files", params={"artifact_file_path": "MLmodel"}
    )
    assert (got.status_code, got.content) == (200, b"flavors: {}\n")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"] == 'attachment; filename="MLmodel"'
    escape = client.get(
        f"{files}/{model_id}/artifacts/files", params={"artifact_file_path": "../../etc/passwd"}
    )
    assert escape.status_code == 400
    assert client.get(f"{files}/{model_id}/artifacts/files").status_code == 400


def test_registry_resolves_logged_model_sources(client: Any) -> None:
    model = _create(client, _experiment(client), source_run_id="a" * 32)
    model_id, location = model["info"]["model_id"], model["info"]["artifact_uri"]
    _ok(client.post(f"{API}/registered-models/create", json={"name": "wine"}))
    created = client.post(
        f"{API}/model-versions/create", json={"name": "wine", "source": f"models:/{model_id}"}
    )
    version = _ok(created)["model_version"]
    assert (version["model_id"], version["run_id"]) == (model_id, "a" * 32)
    uri = client.get(
        f"{API}/model-versions/get-download-uri", params={"name": "wine", "version": 1}
    )
    assert _ok(uri)["artifact_uri"] == location
    unknown = client.post(
        f"{API}/model-versions/create",
        json={"name": "wine", "source": "models:/m-" + "0" * 32},
    )
    assert unknown.status_code == 404


def test_run_metrics_with_a_model_id_are_the_models_metrics_too(
    store: Any, artifact_dir: Any, tmp_path: Any
) -> None:
    """MLflow 3's ``log_metrics(model_id=..., dataset=...)``: log-batch and log-metric."""
    from kiln.config import Settings
    from kiln.server.app import create_app
    from kiln.store.artifacts.local import LocalArtifactStore
    from kiln.store.memory.logged_models import MemoryLoggedModelStore
    from kiln.testing.server import asgi_client

    models = MemoryLoggedModelStore(workspace="default")
    app = create_app(
        Settings(home=tmp_path, tracking_uri="unused"),
        store=store,
        destination=LocalArtifactStore(str(artifact_dir)),
        logged_models=models,
    )
    with asgi_client(app, raise_server_exceptions=False) as client:
        exp = _experiment(client)
        run_id = _ok(client.post(f"{API}/runs/create", json={"experiment_id": exp}))["run"]["info"][
            "run_id"
        ]
        model_id = _create(client, exp, source_run_id=run_id)["info"]["model_id"]
        on_model = {"model_id": model_id, "dataset_name": "train", "dataset_digest": "d1"}
        batch = {
            "run_id": run_id,
            "metrics": [
                {"key": "rmse", "value": 0.5, "timestamp": 7, "step": 0, **on_model},
                {"key": "plain", "value": 1.0, "timestamp": 7},
            ],
        }
        _ok(client.post(f"{API}/runs/log-batch", json=batch))
        _ok(client.post(f"{API}/runs/log-batch", json=batch))  # a retry adds nothing
        single = {"run_id": run_id, "key": "r2", "value": 0.9, "timestamp": 8, **on_model}
        _ok(client.post(f"{API}/runs/log-metric", json=single))
        got = _ok(client.get(f"{LM}/{model_id}"))["model"]["data"]["metrics"]
        assert [(m["key"], m["dataset_name"], m["run_id"]) for m in got] == [
            ("rmse", "train", run_id),
            ("r2", "train", run_id),
        ]
        run = _ok(client.get(f"{API}/runs/get", params={"run_id": run_id}))["run"]
        assert {m["key"] for m in run["data"]["metrics"]} == {"rmse", "plain", "r2"}
        unknown = {**batch, "metrics": [{**batch["metrics"][0], "model_id": "m-" + "0" * 32}]}
        missing = client.post(f"{API}/runs/log-batch", json=unknown)
        assert missing.status_code == 404, missing.text
        inputs = {"run_id": run_id, "models": [{"model_id": model_id}]}
        _ok(client.post(f"{API}/runs/log-inputs", json=inputs))
        assert models.get_model_inputs(run_id) == [model_id]
        bad = client.post(f"{API}/runs/log-inputs", json={"run_id": run_id, "models": [{}]})
        assert bad.status_code == 400, bad.text
