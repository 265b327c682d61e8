"""The JSON API's fast lane answers as the Starlette routes behind it would."""

from __future__ import annotations

import math
from typing import Any

from starlette.types import Scope

from kiln.server.app import API_ROUTES
from kiln.server.fastlane import lane_table
from kiln.server.routing import json_handler
from kiln.server.stores import Stores
from kiln.store.memory.tracking import MemoryTrackingStore

API = "/api/2.0/mlflow"


def _run_id(client: Any) -> str:
    response = client.post(f"{API}/runs/create", json={"experiment_id": "0"})
    assert response.status_code == 200
    run_id: str = response.json()["run"]["info"]["run_id"]
    return run_id


def _no_stores(scope: Scope) -> Stores:
    raise AssertionError("building the table resolves no stores")


def test_every_json_route_of_a_fixed_path_is_in_the_lane_under_both_prefixes() -> None:
    table = lane_table(API_ROUTES, _no_stores)
    assert set(table[f"{API}/runs/log-metric"]) == {"POST"}
    assert set(table["/ajax-api/2.0/mlflow/runs/get"]) == {"GET", "HEAD"}
    assert set(table[f"{API}/registered-models/alias"]) == {"POST", "DELETE", "GET", "HEAD"}
    fixed_json = {
        (prefix + route.path, route.method)
        for route in API_ROUTES
        if json_handler(route) is not None and "{" not in route.path
        for prefix in ("/api/2.0", "/ajax-api/2.0")
    }
    served = {(path, method) for path, methods in table.items() for method in methods}
    # Streaming handlers and paths with parameters stay with Starlette.
    assert served - {(path, "HEAD") for path, _ in served} == fixed_json
    # The proxy's listing reads only its query string, with Starlette, as before.
    assert f"{API}-artifacts/artifacts" not in table
    assert not any("{" in path or path.endswith("/artifacts/files") for path in table)


def test_a_nan_literal_in_the_body_is_read_as_json_reads_it(
    client: Any, store: MemoryTrackingStore
) -> None:
    run_id = _run_id(client)
    body = f'{{"run_id": "{run_id}", "key": "m", "value": NaN, "timestamp": 1}}'
    response = client.post(
        f"{API}/runs/log-metric", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    (point,) = store.get_metric_history(run_id, "m")
    assert math.isnan(point.value)


def test_head_answers_like_get_without_a_body(client: Any) -> None:
    run_id = _run_id(client)
    get = client.get(f"{API}/runs/get", params={"run_id": run_id})
    head = client.head(f"{API}/runs/get", params={"run_id": run_id})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]


def test_lane_requests_and_errors_are_counted(client: Any) -> None:
    run_id = _run_id(client)
    client.post(
        f"{API}/runs/log-metric", json={"run_id": run_id, "key": "m", "value": 1, "timestamp": 1}
    )
    client.post(
        f"{API}/runs/log-metric",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    text = client.get("/metrics").text
    ok = 'kiln_http_requests_total{route="/mlflow/runs/log-metric",method="POST",status="200"} 1'
    assert ok in text
    assert (
        'kiln_http_errors_total{route="/mlflow/runs/log-metric",method="POST",kind="4xx"} 1' in text
    )
