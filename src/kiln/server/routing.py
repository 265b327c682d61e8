"""The route vocabulary of the tracking server: one declaration, one builder.

An ``ApiRoute`` names one MLflow endpoint relative to its API prefix and its
handler, which takes the request's ``Stores`` first (``kiln.server.stores``):

* a plain function ``(stores, fields) -> JSON document`` is a JSON route: the
  builder reads the fields (a GET's query string, else the JSON body; path
  parameters join them), runs the function in the threadpool and writes the answer;
* an ``async`` function ``(stores, request) -> Response`` reads the request and
  answers itself (artifact uploads and downloads).

``mount`` turns every route into Starlette routes under each of ``API_PREFIXES``
(``/api/2.0`` for the Python client, ``/ajax-api/2.0`` for MLflow's web UI, as
``mlflow server`` does), calling the app's one ``StoresFor`` per request. The fast
lane (``kiln.server.fastlane``) serves the JSON routes of fixed paths from the
same declarations.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kiln.server.policy import GATE_KEY, Policy, PolicyRoute, admit, admitted_stores
from kiln.server.responses import json_response, read_fields
from kiln.server.stores import Stores, StoresFor
from kiln.wire.fields import JsonObject

API_PREFIXES = ("/api/2.0", "/ajax-api/2.0")

JsonHandler = Callable[[Stores, JsonObject], Any]
RequestHandler = Callable[[Stores, Request], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class ApiRoute:
    """``path`` below the API prefix, e.g. ``/mlflow/runs/get``.

    ``repeated``: fields read as lists from a query string. ``name``: the route's
    label in ``/metrics`` and the OpenAPI document; the path unless given.
    ``policy`` (required, keyword): who may call it (``kiln.server.policy``).
    """

    path: str
    method: str
    handler: JsonHandler | RequestHandler
    repeated: Collection[str] = ()
    name: str | None = None
    policy: Policy = field(kw_only=True)

    @property
    def label(self) -> str:
        return self.name or self.path


def json_handler(route: ApiRoute) -> JsonHandler | None:
    """The handler when the builder reads the fields and writes the answer; None for
    an ``async`` handler, which reads the request itself (see the module docstring)."""
    if inspect.iscoroutinefunction(route.handler):
        return None
    return cast(JsonHandler, route.handler)


def mount(api_routes: Iterable[ApiRoute], stores_for: StoresFor) -> list[Route]:
    """Starlette routes for every API route under every prefix (one route per path);
    each request is admitted under its route's policy before the handler runs."""
    by_path: dict[str, dict[str, ApiRoute]] = {}
    for api_route in api_routes:
        by_path.setdefault(api_route.path, {})[api_route.method] = api_route
    routes: list[Route] = []
    for path, methods in by_path.items():
        dispatch = _dispatcher(methods, stores_for)
        name = next(iter(methods.values())).label
        policies = {m: r.policy for m, r in methods.items()}
        for prefix in API_PREFIXES:
            routes.append(PolicyRoute(prefix + path, dispatch, policies=policies, name=name))
    return routes


def _endpoint(route: ApiRoute, stores_for: StoresFor) -> Endpoint:
    handler = json_handler(route)
    policy = route.policy
    if handler is None:
        answer = cast(RequestHandler, route.handler)

        async def respond(request: Request) -> Response:
            await admit(request.scope, policy)
            return await answer(stores_for(request.scope), request)

        return respond
    repeated = route.repeated

    def admitted(scope: Any, fields: JsonObject) -> Any:
        return handler(admitted_stores(scope, policy, fields, stores_for), fields)

    async def json_route(request: Request) -> Response:
        gate = request.scope.get(GATE_KEY)
        if gate is None:  # auth off: as before, no admission
            stores = stores_for(request.scope)
            fields = await read_fields(request, repeated)
            if request.path_params:
                fields = {**fields, **request.path_params}
            return json_response(await run_in_threadpool(handler, stores, fields))
        gate.early(request.scope, policy)
        fields = await read_fields(request, repeated)
        if request.path_params:
            fields = {**fields, **request.path_params}
        return json_response(await run_in_threadpool(admitted, request.scope, fields))

    return json_route


def _dispatcher(methods: dict[str, ApiRoute], stores_for: StoresFor) -> Endpoint:
    endpoints = {m: _endpoint(r, stores_for) for m, r in methods.items()}
    if len(endpoints) == 1:
        return next(iter(endpoints.values()))

    async def dispatch(request: Request) -> Response:
        handler = endpoints.get(request.method) or endpoints["GET"]  # HEAD -> GET
        return await handler(request)

    return dispatch


__all__ = [
    "API_PREFIXES",
    "ApiRoute",
    "JsonHandler",
    "RequestHandler",
    "json_handler",
    "mount",
]
