"""MLflow's JSON endpoints answered in front of Starlette's middleware stack.

Every JSON ``ApiRoute`` of a fixed path (no ``{parameter}``) has the same shape
(the request's stores and fields in, JSON document out), so an exact-path
dictionary finds it, and one function resolves the stores (the app's
``StoresFor``, the same call the Starlette routes make), reads the fields, runs
the handler on a thread, writes the answer or the error envelope and records the
request metrics. Through Starlette, the same ``log-metric`` crossed three
middlewares, a linear scan of every route and a ``Request`` object, which cost
more server CPU than the database write.

The answers are the ones the Starlette routes give (``kiln.server.responses``
reads the fields, ``kiln.http_status`` maps errors to statuses): anything
the lane does not know -- another path, a method the path does not serve, a
trailing slash -- goes on to Starlette, whose routes stay registered (the
OpenAPI document is built from them).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.types import Receive, Scope, Send

from kiln.auth.principal import Principal
from kiln.errors import InvalidInput, KilnError, Unauthenticated
from kiln.http_status import status_for
from kiln.httpguard import RequestGuard, guarded
from kiln.server.errors import WWW_AUTHENTICATE
from kiln.server.gate import no_workspaces
from kiln.server.policy import GATE_KEY, PRINCIPAL_KEY, Gate, Policy, admitted_stores
from kiln.server.responses import JSON_MEDIA_TYPE, MAX_JSON_BODY, decode_json, encode_json
from kiln.server.routing import API_PREFIXES, ApiRoute, JsonHandler, json_handler
from kiln.server.stores import Stores, StoresFor
from kiln.server.telemetry import RequestMetrics
from kiln.store.sql.engine import WouldBlock, no_wait
from kiln.wire.errors import error_body
from kiln.wire.fields import JsonObject

_log = logging.getLogger("kiln.server.errors")

_INTERNAL = encode_json(
    {
        "error_code": "INTERNAL_ERROR",
        "message": "internal server error; see the server log for details",
    }
)
_CONTENT_TYPE = (b"content-type", JSON_MEDIA_TYPE.encode())
_CHALLENGE = (b"www-authenticate", WWW_AUTHENTICATE.encode())


# As many threads as Starlette's threadpool (anyio's default limiter) may run.
MAX_HANDLER_THREADS = 40


class _Workers:
    """The threads that run lane handlers: a lean hop off the event loop and back.

    A handler blocks (the store writes and commits), so it runs on a thread, as
    Starlette's ``run_in_threadpool`` would run it; anyio's machinery around that
    hop (cancel scopes, limiter tokens, its idle-worker bookkeeping) cost about a
    third of the server's Python time on a ``log-metric``. A plain executor does
    the hop with one queue put and one ``call_soon_threadsafe``: it reuses idle
    threads, starts new ones up to ``limit`` and queues the rest. A handler runs
    in a copy of the caller's context, as under anyio.
    """

    def __init__(self, limit: int = MAX_HANDLER_THREADS) -> None:
        self.pool = ThreadPoolExecutor(limit, thread_name_prefix="kiln-lane")

    def run(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        context = contextvars.copy_context()
        return asyncio.get_running_loop().run_in_executor(self.pool, context.run, fn, *args)


_workers = _Workers()


class _Disconnected(Exception):
    """The client went away before its request body arrived."""


@dataclass(frozen=True, slots=True)
class _Target:
    label: str  # the metrics label: the path below the API prefix
    handler: JsonHandler
    repeated: Collection[str]
    stores_for: StoresFor
    policy: Policy
    inline: bool = False  # tried on the event loop first (see INLINE_WRITES)

    def admitted(self, scope: Scope, fields: JsonObject) -> Any:
        """Admit the request, then run the handler (blocking: on a worker thread)."""
        return self.handler(admitted_stores(scope, self.policy, fields, self.stores_for), fields)


# Small writes whose handler only calls the tracking store's log_metric, log_param
# or set_tag. When the store commits them without waiting (SQLite's group commit,
# ``commits_without_waiting``), the lane runs them on the event loop inside
# ``no_wait()``: no thread hop there and back, which cost more than the write.
# A write that would wait (another one in progress, another process holding the
# lock, any other transaction) raises ``WouldBlock`` having written nothing, and
# the lane runs the handler on a thread as for every other route.
INLINE_WRITES = frozenset(
    {"/mlflow/runs/log-metric", "/mlflow/runs/log-parameter", "/mlflow/runs/set-tag"}
)


def lane_table(
    api_routes: Collection[ApiRoute], stores_for: StoresFor, inline: Collection[str] = ()
) -> dict[str, dict[str, _Target]]:
    """Full path -> method -> target, for every API prefix; HEAD is served as GET.

    Only JSON routes of fixed paths are taken; the rest stay with Starlette.
    ``inline``: route paths tried on the event loop first (``INLINE_WRITES``).
    """
    table: dict[str, dict[str, _Target]] = {}
    for route in api_routes:
        handler = json_handler(route)
        if handler is None or "{" in route.path:
            continue
        target = _Target(
            route.label, handler, route.repeated, stores_for, route.policy, route.path in inline
        )
        for prefix in API_PREFIXES:
            methods = table.setdefault(prefix + route.path, {})
            methods[route.method] = target
            if route.method == "GET":
                methods.setdefault("HEAD", methods["GET"])
    return table


class KilnStarlette(Starlette):
    """Starlette with a fast lane for the JSON API (see the module docstring).

    Auth on (``gate``): every request carries the gate in its scope and each route
    admits it under its policy (``kiln.server.policy``). Auth off: every request
    is ``anonymous`` in the server's one workspace, and one naming another is 404.
    """

    lane: Mapping[str, Mapping[str, _Target]] = {}
    metrics: RequestMetrics | None = None
    guard: RequestGuard | None = None
    gate: Gate | None = None
    anonymous: Principal | None = None
    auth: Any = None  # the AuthService when auth is on (Kiln's own API uses it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.guard is not None:
            checked = await guarded(self.guard, scope, receive, send)
            if checked is None:
                return
            send = checked
        if scope["type"] == "http":
            if self.gate is not None:
                scope[GATE_KEY] = self.gate
            elif self.anonymous is not None:
                scope[PRINCIPAL_KEY] = self.anonymous
                refusal = no_workspaces(scope, self.anonymous.tenant)
                if refusal is not None:
                    await _refuse(refusal, send)
                    return
        if scope["type"] == "http" and self.metrics is not None:
            methods = self.lane.get(scope["path"])
            if methods is not None and not scope.get("root_path"):
                target = methods.get(scope["method"])
                if target is not None:
                    await _answer(target, self.metrics, scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


async def _refuse(exc: KilnError, send: Send) -> None:
    body = encode_json(error_body(exc))
    headers = [(b"content-length", str(len(body)).encode()), _CONTENT_TYPE]
    if isinstance(exc, Unauthenticated):
        headers.append(_CHALLENGE)
    await send({"type": "http.response.start", "status": status_for(exc), "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _answer(
    target: _Target, metrics: RequestMetrics, scope: Scope, receive: Receive, send: Send
) -> None:
    start = time.perf_counter()
    status = 500
    headers = [_CONTENT_TYPE]
    try:
        try:
            gate: Gate | None = scope.get(GATE_KEY)
            if gate is None:  # auth off: no admission, as before
                stores = target.stores_for(scope)
                fields = await _read_fields(scope, receive, target.repeated)
                document = await _handle(target, stores, fields)
            else:
                gate.early(scope, target.policy)
                fields = await _read_fields(scope, receive, target.repeated)
                document = await _admit_and_handle(target, scope, fields)
            body, status = encode_json(document), 200
        except KilnError as exc:
            body, status = encode_json(error_body(exc)), status_for(exc)
            if isinstance(exc, Unauthenticated):
                headers.append(_CHALLENGE)
        except _Disconnected:
            return
        except Exception:
            _log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            body = _INTERNAL
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-length", str(len(body)).encode()), *headers],
            }
        )
        await send({"type": "http.response.body", "body": body})
    finally:
        metrics.observe(target.label, scope["method"], status, time.perf_counter() - start)


async def _handle(target: _Target, stores: Stores, fields: JsonObject) -> Any:
    """The handler's answer: on the event loop when it can commit at once, else on a thread."""
    if target.inline:
        try:
            with no_wait():
                return target.handler(stores, fields)
        except WouldBlock:
            pass  # nothing was written: the same call, on a thread
    return await _workers.run(target.handler, stores, fields)


async def _admit_and_handle(target: _Target, scope: Scope, fields: JsonObject) -> Any:
    """With auth on: the admission and the handler together, inline or in one hop.

    An inline write with a token is tried on the event loop inside ``no_wait()``:
    the SQLite auth store reads the token on its own connection, which never waits
    (``kiln.store.sql.loop_reader``), and the role is read again on every request.
    Anything that might wait -- a password, a session, PostgreSQL, that connection
    in use, a tenant's stores not open yet, a write that would queue -- raises
    ``WouldBlock`` having written nothing, and the admission and the handler run
    on a thread. Measured in-process on SQLite (a busy 2-core machine): a token's
    ``log-metric`` cost ~250 us of server CPU through the thread, ~60 us with auth
    off; inline, ~120 us.
    """
    if target.inline:
        try:
            with no_wait():
                return target.admitted(scope, fields)
        except WouldBlock:
            pass  # nothing was written: the same call, on a thread
    return await _workers.run(target.admitted, scope, fields)


async def _read_fields(scope: Scope, receive: Receive, repeated: Collection[str]) -> JsonObject:
    """As ``kiln.server.responses.read_fields``: a GET's query string, else the JSON body."""
    query = scope.get("query_string", b"")
    if scope["method"] in ("GET", "HEAD") and query:
        params = QueryParams(query)
        if params:
            return {k: params.getlist(k) if k in repeated else params[k] for k in params}
    raw = await _read_body(receive)
    if not raw.strip():
        return {}
    return decode_json(raw)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_JSON_BODY:
            raise InvalidInput(f"request body is larger than {MAX_JSON_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


__all__ = ["INLINE_WRITES", "KilnStarlette", "lane_table"]
