"""The builder of Kiln's own JSON endpoints (``/api/kiln/v1``, ``/api/v1/login``,
MLflow 3's workspace API): one ``Op`` per method, each with its policy.

MLflow's routes (``kiln.server.routing``) act on a tenant's stores; these act on
the auth service as a principal, so their handlers take ``(principal, fields)``
and run on a thread (the service hashes passwords and reads the database). The
fields are the query string, the JSON body (POST, PUT, PATCH) over it, and the
path parameters over both. A handler answers a JSON document (200) or an
``Answer`` (another status, headers, or no body).

The request is admitted under the method's policy (``kiln.server.policy
.policy_route``) before the handler runs, so a handler never decides who may
call it; the service checks the caller again for what the policy cannot see (a
project-admin granting above their own role). With auth off no gate runs and
every request acts as the anonymous admin of ``default`` (``acting``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from kiln.auth.principal import Principal, anonymous
from kiln.errors import Unauthenticated
from kiln.server.policy import GATE_KEY, Policy, PolicyRoute, policy_route, principal_of
from kiln.server.responses import MAX_JSON_BODY, decode_json, json_response, read_limited
from kiln.store.audit_context import current_actor
from kiln.wire.fields import JsonObject

# a DELETE may carry its fields in a JSON body too (``DELETE .../groups {"group"}``)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Answer:
    """A handler's answer other than a plain 200 JSON document; ``document`` None:
    no body (204)."""

    document: Any = None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Principal | None, JsonObject], Any]


@dataclass(frozen=True, slots=True)
class Op:
    method: str
    policy: Policy
    handler: Handler


def json_route(
    path: str, *ops: Op, name: str | None = None, max_body: int = MAX_JSON_BODY
) -> PolicyRoute:
    """One route serving ``ops`` (one per method) at ``path``; a body over ``max_body``
    bytes is refused (a public route takes far less than the API's 16 MiB)."""
    by_method = {op.method.upper(): op for op in ops}

    async def endpoint(request: Request) -> Response:
        op = by_method.get(request.method) or by_method["GET"]  # HEAD -> GET
        fields = await request_fields(request, max_body)
        principal = request_principal(request)
        result = await run_in_threadpool(op.handler, principal, fields)
        return respond(result)

    return policy_route(
        path,
        endpoint,
        methods=list(by_method),
        policy={m: op.policy for m, op in by_method.items()},
        name=name or path,
    )


def request_principal(request: Request) -> Principal | None:
    """The admitted principal; with auth off (no gate) the anonymous admin."""
    scope = request.scope
    if scope.get(GATE_KEY) is None:
        return principal_of(scope) or anonymous(current_actor())
    return principal_of(scope)


def acting(principal: Principal | None) -> Principal:
    """The caller of a route that needs one (a public route called without credentials
    has none)."""
    if principal is None:
        raise Unauthenticated("this needs credentials: a token, a password or a session")
    return principal


async def request_fields(request: Request, max_body: int = MAX_JSON_BODY) -> dict[str, Any]:
    """Query string, then the JSON body of a POST/PUT/PATCH/DELETE over it, then the path
    parameters (see the module docstring). The body is read as JSON whatever its
    Content-Type says (the request guard decides which paths may skip it)."""
    fields: dict[str, Any] = dict(request.query_params)
    if request.method in BODY_METHODS:
        raw = await read_limited(request, max_body)
        if raw.strip():
            fields.update(decode_json(raw))
    fields.update(request.path_params)
    return fields


def respond(result: Any) -> Response:
    if not isinstance(result, Answer):
        return json_response(result)
    if result.document is None:
        return Response(status_code=result.status, headers=dict(result.headers))
    response = json_response(result.document, status=result.status)
    response.headers.update(result.headers)
    return response


__all__ = ["Answer", "Handler", "Op", "acting", "json_route", "request_fields", "respond"]
