"""Bad input is always a 4xx with MLflow's envelope; real bugs are a bare 500; ops endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiln._version import __version__
from kiln.config import Settings
from kiln.server.app import create_app
from kiln.store.artifacts.local import LocalArtifactStore
from kiln.store.memory.tracking import MemoryTrackingStore, open_memory_store
from kiln.testing.server import asgi_client

API = "/api/2.0/mlflow"
MISSING_RUN = "f" * 32


def _envelope(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}
    assert body["error_code"] == code
    message: str = body["message"]
    return message


@pytest.mark.parametrize(
    ("path", "content", "message"),
    [
        ("/experiments/create", b"{not json", "malformed JSON"),
        ("/experiments/create", b"[1, 2]", "must be a JSON object"),
        ("/experiments/create", b'{"name": 5}', "field 'name' must be a string"),
        ("/experiments/create", b"{}", "experiment name must be a non-empty string"),
        ("/runs/create", b'{"experiment_id": "0", "start_time": "soon"}', "'start_time'"),
        ("/runs/create", b'{"experiment_id": "0", "tags": {"a": 1}}', "'tags' must be a list"),
        ("/runs/log-batch", b'{"run_id": "x", "metrics": [5]}', r"metrics[0] must be a JSON"),
        ("/runs/update", b'{"run_id": "x", "status": "DONE"}', "must be one of"),
        ("/runs/search", b'{"experiment_ids": "0"}', "'experiment_ids' must be a list"),
        ("/runs/search", b'{"max_results": 50001}', "at most 50000"),
        ("/experiments/search", b'{"view_type": true}', "'view_type' must be one of"),
    ],
)
def test_malformed_requests_are_400_with_the_envelope(
    client: Any, path: str, content: bytes, message: str
) -> None:
    response = client.post(
        API + path, content=content, headers={"Content-Type": "application/json"}
    )
    assert message in _envelope(response, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize(
    ("method", "path", "fields"),
    [
        ("GET", "/runs/get", {"run_id": MISSING_RUN}),
        (
            "POST",
            "/runs/log-metric",
            {"run_id": MISSING_RUN, "key": "m", "value": 1, "timestamp": 1},
        ),
        ("POST", "/runs/delete", {"run_id": MISSING_RUN}),
        ("GET", "/experiments/get", {"experiment_id": "424242"}),
        ("GET", "/experiments/get-by-name", {"experiment_name": "nope"}),
        ("GET", "/metrics/get-history", {"run_id": MISSING_RUN, "metric_key": "m"}),
        ("GET", "/artifacts/list", {"run_id": MISSING_RUN}),
    ],
)
def test_unknown_ids_are_404(client: Any, method: str, path: str, fields: dict[str, Any]) -> None:
    if method == "GET":
        response = client.get(API + path, params=fields)
    else:
        response = client.post(API + path, json=fields)
    _envelope(response, 404, "RESOURCE_DOES_NOT_EXIST")


def test_oversized_batch_is_400_and_writes_nothing(client: Any, store: MemoryTrackingStore) -> None:
    run_id = store.create_run("0").info.run_id
    metrics = [{"key": f"m{i}", "value": i, "timestamp": 1} for i in range(1001)]
    response = client.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
    assert "1000" in _envelope(response, 400, "INVALID_PARAMETER_VALUE")
    assert store.get_run(run_id).data.metrics == {}


def test_unknown_endpoint_and_wrong_method(client: Any) -> None:
    _envelope(client.get(f"{API}/nothing-here"), 404, "ENDPOINT_NOT_FOUND")
    _envelope(client.get(f"{API}/runs/create"), 405, "BAD_REQUEST")


class _BrokenStore(MemoryTrackingStore):
    def get_run(self, run_id: str) -> Any:
        raise RuntimeError("secret internals /etc/kiln")


def test_a_bug_is_a_500_without_traceback(tmp_path: Path) -> None:
    app = create_app(
        Settings(home=tmp_path, tracking_uri="unused"),
        store=_BrokenStore(workspace="default"),
        destination=LocalArtifactStore(str(tmp_path / "a")),
    )
    with asgi_client(app, raise_server_exceptions=False) as client:
        response = client.get(f"{API}/runs/get", params={"run_id": MISSING_RUN})
    message = _envelope(response, 500, "INTERNAL_ERROR")
    assert "secret" not in message
    assert "Traceback" not in response.text


def test_health_version_and_server_info(client: Any) -> None:
    assert client.get("/health").text == "OK"
    assert client.get("/version").text == __version__
    info = client.get("/api/3.0/mlflow/server-info").json()
    assert info["multipart_uploads_enabled"] is False


def test_prometheus_metrics_count_routes_statuses_and_errors(client: Any) -> None:
    client.get(f"{API}/experiments/get", params={"experiment_id": "0"})
    client.get(f"{API}/experiments/get", params={"experiment_id": "999"})
    client.get(f"{API}/runs/get", params={"run_id": "x" * 32})
    text = client.get("/metrics").text
    assert (
        'kiln_http_requests_total{route="/mlflow/experiments/get",method="GET",status="200"} 1'
        in text
    )
    assert (
        'kiln_http_requests_total{route="/mlflow/experiments/get",method="GET",status="404"} 1'
        in text
    )
    assert 'kiln_http_errors_total{route="/mlflow/runs/get",method="GET",kind="4xx"} 1' in text
    assert (
        'kiln_http_request_duration_seconds_count{route="/mlflow/experiments/get",method="GET"} 2'
        in text
    )
    assert 'le="+Inf"' in text


def test_settings_pick_the_stores(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        tracking_uri="http://elsewhere:5000",
        backend_store_uri="memory://",
        artifacts_destination=str(tmp_path / "dest"),
    )
    with asgi_client(create_app(settings)) as client:
        exp = client.post(f"{API}/experiments/create", json={"name": "e"}).json()
        run = client.post(
            f"{API}/runs/create", json={"experiment_id": exp["experiment_id"]}
        ).json()["run"]
        assert run["info"]["artifact_uri"].startswith("mlflow-artifacts:/")
        rel = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
        put = client.put(f"/api/2.0/mlflow-artifacts/artifacts/{rel}/x.txt", content=b"abc")
        assert put.status_code == 200
    assert (tmp_path / "dest" / rel / "x.txt").read_bytes() == b"abc"


def test_memory_store_factory_is_reachable() -> None:
    assert open_memory_store(workspace="default").get_experiment("0").name == "Default"


def test_oversized_json_body_is_400(client: Any) -> None:
    from kiln.server.responses import MAX_JSON_BODY

    body = b'{"name": "' + b"x" * (MAX_JSON_BODY + 1) + b'"}'
    response = client.post(
        f"{API}/experiments/create", content=body, headers={"Content-Type": "application/json"}
    )
    assert "larger than" in _envelope(response, 400, "INVALID_PARAMETER_VALUE")


def test_get_without_query_may_send_a_json_body(client: Any) -> None:
    response = client.request("GET", f"{API}/experiments/get", content=b'{"experiment_id": "0"}')
    assert response.json()["experiment"]["name"] == "Default"
