"""``/openapi.json``: every mounted route is documented with its request fields."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from kiln.server.openapi import REQUEST_FIELDS, openapi_document, undocumented_routes
from kiln.server.ui.core import PageRoute


def test_openapi_is_served_and_lists_every_api_route(client: Any) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    routes = client.app.routes
    listed = {
        (route.path.replace(":path", ""), method.lower())
        for route in routes
        if isinstance(route, Route)
        and not route.path.startswith("/ajax-api/")
        # the web UI's pages and static files are for the browser, not the API
        and not isinstance(route, PageRoute)
        and not route.path.startswith("/ui/static/")
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert documented == listed
    assert not any(path.startswith("/ajax-api/") for path in document["paths"])


def test_every_route_has_a_request_field_table_entry(client: Any) -> None:
    assert undocumented_routes(client.app.routes) == []


def test_get_fields_are_query_parameters_and_repeated_fields_explode(client: Any) -> None:
    document = openapi_document(client.app.routes)
    bulk = document["paths"]["/api/2.0/mlflow/metrics/get-history-bulk-interval"]["get"]
    run_ids = next(p for p in bulk["parameters"] if p["name"] == "run_ids")
    assert run_ids == {
        "name": "run_ids",
        "in": "query",
        "schema": {"type": "array", "items": {"type": "string"}},
        "required": True,
        "style": "form",
        "explode": True,
    }
    assert "requestBody" not in bulk


def test_post_fields_are_a_json_body_with_required_fields(client: Any) -> None:
    document = openapi_document(client.app.routes)
    log_metric = document["paths"]["/api/2.0/mlflow/runs/log-metric"]["post"]
    schema = log_metric["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"key", "value", "timestamp"}
    assert schema["properties"]["value"]["type"] == "number"
    assert schema["properties"]["timestamp"]["type"] == "integer"
    assert set(schema["properties"]) == set(REQUEST_FIELDS["/mlflow/runs/log-metric"])


def test_path_parameters_and_method_specific_fields(client: Any) -> None:
    document = openapi_document(client.app.routes)
    upload = document["paths"]["/api/2.0/mlflow-artifacts/artifacts/{path}"]["put"]
    assert upload["parameters"][0]["in"] == "path"
    assert "application/octet-stream" in upload["requestBody"]["content"]
    alias = document["paths"]["/api/2.0/mlflow/registered-models/alias"]
    post_schema = alias["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "version" in post_schema["required"]
    assert {p["name"] for p in alias["get"]["parameters"]} == {"name", "alias"}
