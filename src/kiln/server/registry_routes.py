"""MLflow model registry endpoints over a ``RegistryService``.

``/mlflow/registered-models/*`` and ``/mlflow/model-versions/*`` under both
``/api/2.0`` and ``/ajax-api/2.0``, with the request fields, defaults and answers
of ``mlflow/server/handlers.py``. Handlers raise ``KilnError``s; the app's one
exception handler turns them into MLflow's ``{"error_code", "message"}``.

The service is looked up per request (``get_registry(request)``), so the app
decides how a request maps to a workspace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kiln.errors import InvalidInput
from kiln.registry.service import RegistryService
from kiln.server.responses import json_response, read_fields
from kiln.server.routing import API_PREFIXES
from kiln.store.query.registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
)
from kiln.wire.fields import JsonObject, opt_int, opt_str, req_str, str_list
from kiln.wire.registry import (
    model_version_to_json,
    registered_model_to_json,
    registry_tags_from_json,
)

Handler = Callable[[RegistryService, JsonObject], dict[str, Any]]
RM = "/mlflow/registered-models"
MV = "/mlflow/model-versions"


def _max_results(fields: JsonObject, default: int, threshold: int) -> int:
    value = opt_int(fields, "max_results")
    if value is None:
        return default
    if value > threshold:
        raise InvalidInput(
            f"Invalid value {value} for parameter 'max_results' supplied. "
            f"It must be at most {threshold}"
        )
    return value


def _bool(fields: JsonObject, name: str) -> bool:
    value = fields.get(name)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidInput(f"field {name!r} must be a boolean, got {value!r:.60}")


def _version(fields: JsonObject) -> str:
    value = fields.get("version")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return req_str(fields, "version")


# registered models -----------------------------------------------------------
def create_registered_model(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    model = svc.create_registered_model(
        req_str(f, "name"), registry_tags_from_json(f), opt_str(f, "description")
    )
    return {"registered_model": registered_model_to_json(model)}


def get_registered_model(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    return {
        "registered_model": registered_model_to_json(svc.get_registered_model(req_str(f, "name")))
    }


def rename_registered_model(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    model = svc.rename_registered_model(req_str(f, "name"), req_str(f, "new_name"))
    return {"registered_model": registered_model_to_json(model)}


def update_registered_model(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    model = svc.update_registered_model(req_str(f, "name"), opt_str(f, "description"))
    return {"registered_model": registered_model_to_json(model)}


def delete_registered_model(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    svc.delete_registered_model(req_str(f, "name"))
    return {}


def search_registered_models(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    page = svc.search_registered_models(
        opt_str(f, "filter") or None,
        _max_results(
            f,
            SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
            SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
        ),
        str_list(f, "order_by"),
        opt_str(f, "page_token") or None,
    )
    answer: dict[str, Any] = {}
    if page.items:
        answer["registered_models"] = [registered_model_to_json(m) for m in page]
    if page.next_page_token:
        answer["next_page_token"] = page.next_page_token
    return answer


def get_latest_versions(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    versions = svc.get_latest_versions(req_str(f, "name"), str_list(f, "stages"))
    return {"model_versions": [model_version_to_json(mv) for mv in versions]} if versions else {}


def set_registered_model_tag(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    svc.set_registered_model_tag(req_str(f, "name"), req_str(f, "key"), opt_str(f, "value") or "")
    return {}


def delete_registered_model_tag(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    svc.delete_registered_model_tag(req_str(f, "name"), req_str(f, "key"))
    return {}


def set_alias(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    svc.set_registered_model_alias(req_str(f, "name"), req_str(f, "alias"), _version(f))
    return {}


def delete_alias(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    svc.delete_registered_model_alias(req_str(f, "name"), req_str(f, "alias"))
    return {}


def get_by_alias(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    mv = svc.get_model_version_by_alias(req_str(f, "name"), req_str(f, "alias"))
    return {"model_version": model_version_to_json(mv)}


# model versions --------------------------------------------------------------
def create_model_version(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    mv = svc.create_model_version(
        req_str(f, "name"),
        req_str(f, "source"),
        run_id=opt_str(f, "run_id") or None,
        tags=registry_tags_from_json(f),
        run_link=opt_str(f, "run_link") or None,
        description=opt_str(f, "description"),
        model_id=opt_str(f, "model_id") or None,
    )
    return {"model_version": model_version_to_json(mv)}


def get_model_version(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    return {
        "model_version": model_version_to_json(
            svc.get_model_version(req_str(f, "name"), _version(f))
        )
    }


def update_model_version(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    mv = svc.update_model_version(req_str(f, "name"), _version(f), opt_str(f, "description"))
    return {"model_version": model_version_to_json(mv)}


def transition_stage(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    mv = svc.transition_model_version_stage(
        req_str(f, "name"),
        _version(f),
        req_str(f, "stage"),
        _bool(f, "archive_existing_versions"),
    )
    return {"model_version": model_version_to_json(mv)}


def delete_model_version(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    svc.delete_model_version(req_str(f, "name"), _version(f))
    return {}


def get_download_uri(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    return {"artifact_uri": svc.get_model_version_download_uri(req_str(f, "name"), _version(f))}


def search_model_versions(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    page = svc.search_model_versions(
        opt_str(f, "filter") or None,
        _max_results(
            f, SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD
        ),
        str_list(f, "order_by"),
        opt_str(f, "page_token") or None,
    )
    answer: dict[str, Any] = {}
    if page.items:
        answer["model_versions"] = [model_version_to_json(mv) for mv in page]
    if page.next_page_token:
        answer["next_page_token"] = page.next_page_token
    return answer


def set_model_version_tag(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    svc.set_model_version_tag(
        req_str(f, "name"), _version(f), req_str(f, "key"), opt_str(f, "value") or ""
    )
    return {}


def delete_model_version_tag(svc: RegistryService, f: JsonObject) -> dict[str, Any]:
    svc.delete_model_version_tag(req_str(f, "name"), _version(f), req_str(f, "key"))
    return {}


# path -> {method: handler}; repeated fields read as lists from a query string.
REGISTRY_ENDPOINTS: dict[str, dict[str, Handler]] = {
    f"{RM}/create": {"POST": create_registered_model},
    f"{RM}/get": {"GET": get_registered_model},
    f"{RM}/rename": {"POST": rename_registered_model},
    f"{RM}/update": {"PATCH": update_registered_model},
    f"{RM}/delete": {"DELETE": delete_registered_model},
    f"{RM}/search": {"GET": search_registered_models},
    f"{RM}/get-latest-versions": {"GET": get_latest_versions, "POST": get_latest_versions},
    f"{RM}/set-tag": {"POST": set_registered_model_tag},
    f"{RM}/delete-tag": {"DELETE": delete_registered_model_tag},
    f"{RM}/alias": {"POST": set_alias, "DELETE": delete_alias, "GET": get_by_alias},
    f"{MV}/create": {"POST": create_model_version},
    f"{MV}/get": {"GET": get_model_version},
    f"{MV}/update": {"PATCH": update_model_version},
    f"{MV}/transition-stage": {"POST": transition_stage},
    f"{MV}/delete": {"DELETE": delete_model_version},
    f"{MV}/get-download-uri": {"GET": get_download_uri},
    f"{MV}/search": {"GET": search_model_versions},
    f"{MV}/set-tag": {"POST": set_model_version_tag},
    f"{MV}/delete-tag": {"DELETE": delete_model_version_tag},
}
REPEATED_FIELDS: Collection[str] = ("order_by", "stages")


def _endpoint(
    methods: dict[str, Handler], get_registry: Callable[[Request], RegistryService]
) -> Callable[[Request], Awaitable[Response]]:
    async def route(request: Request) -> Response:
        handler = methods.get(request.method) or methods["GET"]  # HEAD -> GET
        fields = await read_fields(request, REPEATED_FIELDS)
        service = get_registry(request)
        document = await run_in_threadpool(handler, service, fields)
        return json_response(document)

    return route


def registry_routes(get_registry: Callable[[Request], RegistryService]) -> list[Route]:
    """Starlette routes for every registry endpoint under both API prefixes."""
    routes: list[Route] = []
    for path, methods in REGISTRY_ENDPOINTS.items():
        route = _endpoint(methods, get_registry)
        for prefix in API_PREFIXES:
            routes.append(Route(prefix + path, route, methods=list(methods), name=path))
    return routes


__all__ = ["REGISTRY_ENDPOINTS", "registry_routes"]
