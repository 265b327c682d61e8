"""The route vocabulary of the tracking server.

An ``ApiRoute`` names one MLflow endpoint relative to its API prefix; the app
mounts each under both ``/api/2.0`` (the Python client) and ``/ajax-api/2.0``
(MLflow's web UI), as ``mlflow server`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from starlette.routing import Route

from kiln.server.responses import endpoint
from kiln.wire.fields import JsonObject

API_PREFIXES = ("/api/2.0", "/ajax-api/2.0")


@dataclass(frozen=True, slots=True)
class ApiRoute:
    """``path`` below the API prefix, e.g. ``/mlflow/runs/get``."""

    path: str
    method: str
    handler: Callable[[JsonObject], Any]
    repeated: Collection[str] = ()


def mount(api_routes: Collection[ApiRoute]) -> list[Route]:
    """Starlette routes for every API route under every prefix (one route per path)."""
    by_path: dict[str, dict[str, ApiRoute]] = {}
    for api_route in api_routes:
        by_path.setdefault(api_route.path, {})[api_route.method] = api_route
    routes: list[Route] = []
    for path, methods in by_path.items():
        dispatch = _dispatcher(methods)
        for prefix in API_PREFIXES:
            routes.append(Route(prefix + path, dispatch, methods=list(methods), name=path))
    return routes


def _dispatcher(methods: dict[str, ApiRoute]) -> Any:
    endpoints = {m: endpoint(r.handler, r.repeated) for m, r in methods.items()}
    if len(endpoints) == 1:
        return next(iter(endpoints.values()))

    async def dispatch(request: Any) -> Any:
        handler = endpoints.get(request.method) or endpoints["GET"]  # HEAD -> GET
        return await handler(request)

    return dispatch


__all__ = ["API_PREFIXES", "ApiRoute", "mount"]
