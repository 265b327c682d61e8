"""An OpenAPI 3 document for the server's MLflow REST API, built from its route table.

``openapi_document(routes)`` walks the app's Starlette routes (so every mounted
route is documented, whoever mounted it) and describes each one's request from
``REQUEST_FIELDS``: field name -> JSON schema and whether it is required, by the
route's name (its path below the API prefix, e.g. ``/mlflow/runs/get``). A GET
takes its fields as query parameters (repeated fields as repeated parameters),
every other method as a JSON object body, as ``kiln.server.responses.read_fields``
reads them. Only ``/api/...`` and the service routes are listed; ``/ajax-api/2.0``
mirrors ``/api/2.0`` for MLflow's web UI.

A route with no entry in the table is still listed, with a free-form object body,
so the document never hides an endpoint; ``undocumented_routes`` names them.

Types follow protobuf's JSON mapping as the server reads it (``kiln.wire.fields``):
int64 fields are integers, doubles numbers, enums strings by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kiln._version import __version__
from kiln.server.responses import json_response
from kiln.server.ui.core import PageRoute
from kiln.server.ui.render import STATIC_PREFIX

OPENAPI_PATH = "/openapi.json"
_UI_PREFIX = "/ajax-api/"
_PATH_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
_BODYLESS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Field:
    """One request field: its JSON schema and whether the server requires it."""

    schema: Mapping[str, Any]
    required: bool = False

    def req(self) -> Field:
        return Field(self.schema, required=True)


def _array(items: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": dict(items)}


def _object(fields: Mapping[str, Field]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: dict(f.schema) for name, f in fields.items()},
    }
    required = [name for name, f in fields.items() if f.required]
    if required:
        schema["required"] = required
    return schema


STR = Field({"type": "string"})
INT = Field({"type": "integer", "format": "int64"})
NUM = Field({"type": "number", "format": "double"})
BOOL = Field({"type": "boolean"})
STRS = Field(_array({"type": "string"}))
_KEY_VALUE = _object({"key": STR, "value": STR})
TAGS = Field(_array(_KEY_VALUE))
METRICS = Field(
    _array(_object({"key": STR, "value": NUM.req(), "timestamp": INT.req(), "step": INT}))
)
OBJECTS = Field(_array({"type": "object"}))
_DATASET = _object(
    {
        "name": STR.req(),
        "digest": STR.req(),
        "source_type": STR.req(),
        "source": STR.req(),
        "schema": STR,
        "profile": STR,
    }
)
DATASET_INPUTS = Field(_array(_object({"dataset": Field(_DATASET, True), "tags": TAGS})))
RUN_STATUS = Field(
    {"type": "string", "enum": ["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"]}
)
LOGGED_MODEL_STATUS = Field(
    {
        "type": "string",
        "enum": ["LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"],
    }
)
VIEW_TYPE = Field({"type": "string", "enum": ["ACTIVE_ONLY", "DELETED_ONLY", "ALL"]})

Fields = Mapping[str, Field]
_RUN: Fields = {"run_id": STR, "run_uuid": STR}
_SEARCH: Fields = {"filter": STR, "max_results": INT, "order_by": STRS, "page_token": STR}
_MODEL: Fields = {"name": STR.req()}
_VERSION: Fields = {"name": STR.req(), "version": STR.req()}

_EXP = "/mlflow/experiments"
_RUNS = "/mlflow/runs"
_RM = "/mlflow/registered-models"
_MV = "/mlflow/model-versions"
_LM = "/mlflow/logged-models"
_KILN = "/api/kiln/v1"
_TENANT = f"{_KILN}/admin/tenants/{{tenant}}"
ROLE = Field({"type": "string", "enum": ["viewer", "member", "project-admin"]})
_SPACE: Fields = {"description": STR, "default_artifact_root": STR}  # a tenant's settings
_PAGE: Fields = {"max_results": INT, "page_token": STR}

# Route name -> request fields; "<METHOD> <name>" overrides for one method.
REQUEST_FIELDS: dict[str, Fields] = {
    # service routes
    "/health": {},
    "/version": {},
    "/metrics": {},
    "/server-info": {},
    OPENAPI_PATH: {},
    # experiments
    f"{_EXP}/create": {"name": STR.req(), "artifact_location": STR, "tags": TAGS},
    f"{_EXP}/get": {"experiment_id": STR.req()},
    f"{_EXP}/get-by-name": {"experiment_name": STR.req()},
    f"{_EXP}/search": {**_SEARCH, "view_type": VIEW_TYPE},
    f"{_EXP}/update": {"experiment_id": STR.req(), "new_name": STR},
    f"{_EXP}/delete": {"experiment_id": STR.req()},
    f"{_EXP}/restore": {"experiment_id": STR.req()},
    f"{_EXP}/set-experiment-tag": {
        "experiment_id": STR.req(),
        "key": STR.req(),
        "value": STR.req(),
    },
    f"{_EXP}/delete-experiment-tag": {"experiment_id": STR.req(), "key": STR.req()},
    # runs
    f"{_RUNS}/create": {
        "experiment_id": STR.req(),
        "user_id": STR,
        "run_name": STR,
        "start_time": INT,
        "tags": TAGS,
    },
    f"{_RUNS}/get": _RUN,
    f"{_RUNS}/update": {**_RUN, "status": RUN_STATUS, "end_time": INT, "run_name": STR},
    f"{_RUNS}/delete": {"run_id": STR.req()},
    f"{_RUNS}/restore": {"run_id": STR.req()},
    f"{_RUNS}/log-metric": {
        **_RUN,
        "key": STR.req(),
        "value": NUM.req(),
        "timestamp": INT.req(),
        "step": INT,
    },
    f"{_RUNS}/log-parameter": {**_RUN, "key": STR.req(), "value": STR.req()},
    f"{_RUNS}/set-tag": {**_RUN, "key": STR.req(), "value": STR.req()},
    f"{_RUNS}/delete-tag": {"run_id": STR.req(), "key": STR.req()},
    f"{_RUNS}/log-batch": {
        **_RUN,
        "metrics": METRICS,
        "params": TAGS,
        "tags": TAGS,
    },
    f"{_RUNS}/log-inputs": {"run_id": STR.req(), "datasets": DATASET_INPUTS, "models": OBJECTS},
    f"{_RUNS}/search": {**_SEARCH, "experiment_ids": STRS, "run_view_type": VIEW_TYPE},
    # metric history
    "/mlflow/metrics/get-history": {
        **_RUN,
        "metric_key": STR.req(),
        "max_results": INT,
        "page_token": STR,
    },
    "/mlflow/metrics/get-history-bulk-interval": {
        "run_ids": Field(STRS.schema, required=True),
        "metric_key": STR.req(),
        "start_step": INT,
        "end_step": INT,
        "max_results": INT,
    },
    # MLflow 3 logged models
    f"{_LM}/search": {
        "experiment_ids": Field(STRS.schema, required=True),
        "filter": STR,
        "datasets": OBJECTS,
        "max_results": INT,
        "order_by": OBJECTS,
        "page_token": STR,
    },
    _LM: {
        "experiment_id": STR.req(),
        "name": STR,
        "model_type": STR,
        "source_run_id": STR,
        "params": TAGS,
        "tags": TAGS,
    },
    f"GET {_LM}/{{model_id}}": {"allow_deleted": BOOL},
    f"PATCH {_LM}/{{model_id}}": {"status": LOGGED_MODEL_STATUS.req()},
    f"DELETE {_LM}/{{model_id}}": {},
    f"{_LM}/{{model_id}}/tags": {"tags": TAGS},
    f"{_LM}/{{model_id}}/tags/{{tag_key:path}}": {},
    f"{_LM}/{{model_id}}/params": {"params": TAGS},
    f"{_LM}/{{model_id}}/artifacts/directories": {"artifact_directory_path": STR},
    f"{_LM}/{{model_id}}/artifacts/files": {"artifact_file_path": STR.req()},
    f"{_RUNS}/outputs": {
        "run_id": STR.req(),
        "models": Field(_array(_object({"model_id": STR.req(), "step": INT}))),
    },
    # artifacts: the run-level listing and the proxy
    "/mlflow/artifacts/list": {**_RUN, "path": STR, "page_token": STR},
    "/mlflow-artifacts/artifacts": {"path": STR},
    "/mlflow-artifacts/artifacts/*": {},
    # registered models
    f"{_RM}/create": {**_MODEL, "tags": TAGS, "description": STR},
    f"{_RM}/get": _MODEL,
    f"{_RM}/rename": {**_MODEL, "new_name": STR.req()},
    f"{_RM}/update": {**_MODEL, "description": STR},
    f"{_RM}/delete": _MODEL,
    f"{_RM}/search": {
        "filter": STR,
        "max_results": INT,
        "order_by": STRS,
        "page_token": STR,
    },
    f"{_RM}/get-latest-versions": {**_MODEL, "stages": STRS},
    f"{_RM}/set-tag": {**_MODEL, "key": STR.req(), "value": STR.req()},
    f"{_RM}/delete-tag": {**_MODEL, "key": STR.req()},
    f"{_RM}/alias": {**_MODEL, "alias": STR.req()},
    f"POST {_RM}/alias": {**_MODEL, "alias": STR.req(), "version": STR.req()},
    # model versions
    f"{_MV}/create": {
        **_MODEL,
        "source": STR.req(),
        "run_id": STR,
        "tags": TAGS,
        "run_link": STR,
        "description": STR,
        "model_id": STR,
    },
    f"{_MV}/get": _VERSION,
    f"{_MV}/update": {**_VERSION, "description": STR},
    f"{_MV}/transition-stage": {
        **_VERSION,
        "stage": STR.req(),
        "archive_existing_versions": BOOL.req(),
    },
    f"{_MV}/delete": _VERSION,
    f"{_MV}/get-download-uri": _VERSION,
    f"{_MV}/search": {"filter": STR, "max_results": INT, "order_by": STRS, "page_token": STR},
    f"{_MV}/set-tag": {**_VERSION, "key": STR.req(), "value": STR.req()},
    f"{_MV}/delete-tag": {**_VERSION, "key": STR.req()},
    # Kiln's own API (kiln.server.auth_routes, audit_routes, session_routes)
    f"{_KILN}/whoami": {},
    f"GET {_KILN}/admin/tenants": {},
    f"POST {_KILN}/admin/tenants": {"name": STR.req(), **_SPACE},
    f"GET {_TENANT}": {},
    f"PATCH {_TENANT}": _SPACE,
    f"DELETE {_TENANT}": {"force": BOOL},
    f"{_TENANT}/members": {},
    f"PUT {_TENANT}/members/{{user}}": {"role": ROLE.req()},
    f"DELETE {_TENANT}/members/{{user}}": {},
    f"GET {_TENANT}/quota": {},
    f"PUT {_TENANT}/quota": {"cpus": NUM, "gpus": NUM, "memory_mb": INT},
    f"GET {_TENANT}/groups": {},
    f"PUT {_TENANT}/groups": {"group": STR.req(), "role": ROLE.req()},
    f"DELETE {_TENANT}/groups": {"group": STR.req()},
    f"GET {_KILN}/admin/users": {},
    f"POST {_KILN}/admin/users": {"name": STR.req(), "admin": BOOL, "password": STR},
    f"{_KILN}/admin/users/{{user}}/password": {"password": STR},
    f"{_KILN}/admin/users/{{user}}/disable": {"disabled": BOOL},
    f"GET {_KILN}/tokens": {"all": BOOL},
    f"POST {_KILN}/tokens": {"name": STR, "tenant": STR, "role": ROLE, "expires_in_days": INT},
    f"{_KILN}/tokens/{{token_id}}": {},
    f"{_KILN}/audit": {**dict.fromkeys(("tenant", "resource", "actor", "action"), STR), **_PAGE},
    f"{_KILN}/audit/verify": {},
    "/api/v1/login": {"name": STR.req(), "password": STR.req(), "tenant": STR},
    "/api/v1/session/{session_id}": {},
    # MLflow 3's workspace API (kiln.server.workspace_routes)
    "GET /mlflow/workspaces": {},
    "POST /mlflow/workspaces": {"name": STR.req(), **_SPACE},
    "GET /mlflow/workspaces/{workspace_name}": {},
    "PATCH /mlflow/workspaces/{workspace_name}": _SPACE,
    "DELETE /mlflow/workspaces/{workspace_name}": {
        "mode": Field({"type": "string", "enum": ["RESTRICT", "CASCADE", "SET_DEFAULT"]})
    },
}

_ERROR_SCHEMA = _object({"error_code": STR.req(), "message": STR.req()})


def _documented(route: BaseRoute) -> bool:
    return (
        isinstance(route, Route)
        and not route.path.startswith(_UI_PREFIX)
        and not isinstance(route, PageRoute)
        and not route.path.startswith(STATIC_PREFIX)
    )


def undocumented_routes(routes: Iterable[BaseRoute]) -> list[str]:
    """``"<METHOD> <name>"`` of listed operations that ``REQUEST_FIELDS`` does not describe."""
    return sorted(
        {
            f"{method} {route.name}"
            for route in routes
            if isinstance(route, Route) and _documented(route)
            for method in route.methods or ()
            if method != "HEAD" and _fields_for(route.name, method) is None
        }
    )


def _fields_for(name: str, method: str) -> Fields | None:
    return REQUEST_FIELDS.get(f"{method} {name}", REQUEST_FIELDS.get(name))


def _openapi_path(route: Route) -> str:
    return _PATH_PARAM.sub(r"{\1}", route.path)


def _operation(route: Route, method: str) -> dict[str, Any]:
    path_params = _PATH_PARAM.findall(route.path)
    fields = _fields_for(route.name, method)
    parameters: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for p in path_params
    ]
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}{_openapi_path(route)}",
        "responses": {
            "200": {"description": "Success."},
            "default": {
                "description": "An MLflow error envelope.",
                "content": {"application/json": {"schema": _ERROR_SCHEMA}},
            },
        },
    }
    if method in _BODYLESS:
        for name, f in (fields or {}).items():
            parameter: dict[str, Any] = {"name": name, "in": "query", "schema": dict(f.schema)}
            if f.required:
                parameter["required"] = True
            if f.schema.get("type") == "array":
                parameter |= {"style": "form", "explode": True}
            parameters.append(parameter)
    elif path_params and not fields and method == "PUT":
        operation["requestBody"] = {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            }
        }
    elif fields or fields is None:
        schema = _object(fields) if fields is not None else {"type": "object"}
        operation["requestBody"] = {
            "required": bool(schema.get("required")),
            "content": {"application/json": {"schema": schema}},
        }
    if parameters:
        operation["parameters"] = parameters
    return operation


def openapi_document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.0 document of ``routes`` (an app's route table)."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route) or not _documented(route):
            continue
        path = _openapi_path(route)
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            paths.setdefault(path, {})[method.lower()] = _operation(route, method)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Kiln tracking server (MLflow REST API)",
            "version": __version__,
            "description": "MLflow's tracking, model registry and artifact proxy endpoints. "
            "Every path under /api/2.0 is also served under /ajax-api/2.0.",
        },
        "paths": paths,
    }


async def openapi_endpoint(request: Request) -> Response:
    """``GET /openapi.json``: the document of the serving app's own routes."""
    return json_response(openapi_document(request.app.routes))


__all__ = [
    "OPENAPI_PATH",
    "REQUEST_FIELDS",
    "Field",
    "openapi_document",
    "openapi_endpoint",
    "undocumented_routes",
]
