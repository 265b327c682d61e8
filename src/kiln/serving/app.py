"""``create_scoring_app``: the scoring server's ASGI app around one loaded model.

Routes (health routes never need the token; the others do when one is set):

    GET  /ping  /health  /version  /metrics  /v2/health/live  /v2/health/ready
    GET  /v2/models/{name}[/versions/{v}]/ready
    POST /invocations                               MLflow 1.x/2.x/3.x bodies
    GET  /v2                                        server metadata
    GET  /v2/models/{name}[/versions/{v}]           model metadata
    POST /v2/models/{name}[/versions/{v}]/infer     Open Inference Protocol

Small requests are parsed and predicted on the event loop (a thread hop costs more
than a one-row sklearn predict); bodies over ``inline_body_bytes`` go to the thread
pool so one large batch does not stall the other connections, and hold their size
in a ``BodyBudget`` (``max_inflight_bytes``) until answered: beyond it, 503 with
Retry-After. A body with a Content-Length is read into one buffer of that size (no
chunk list joined into a second copy). A client that hangs up mid-body is counted
as ``status="499"``, ``error="ClientAbort"`` (no traceback: nothing failed here).
No middleware: each handler times itself into ``ScoringMetrics``.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from kiln._version import __version__
from kiln.errors import (
    BadInput,
    KilnError,
    Overloaded,
    PredictionFailed,
    Unauthenticated,
    UnknownModel,
)
from kiln.http_status import status_for
from kiln.httpguard import WILDCARD_BINDS, RequestGuard, guarded
from kiln.serving import encoding, v2
from kiln.serving.budget import (
    DEFAULT_MAX_INFLIGHT_BYTES,
    RETRY_AFTER_S,
    BodyBudget,
    Held,
    read_body,
)
from kiln.serving.direct import direct_path
from kiln.serving.invocations import parse_invocation
from kiln.serving.metrics import ScoringMetrics
from kiln.serving.model import ModelInterface, ScoringModel, describe_model

DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024
DEFAULT_INLINE_BODY_BYTES = 64 * 1024
CLIENT_ABORT = 499  # nginx's "client closed request": counted, never sent
JSON = "application/json"
_log = logging.getLogger("kiln.serving")

Handler = Callable[[Request], Awaitable[Response]]


class _Scorer:
    """The model, its interface and the per-process state the handlers share."""

    def __init__(
        self,
        model: ScoringModel,
        name: str,
        version: str | None,
        auth_token: str | None,
        max_body_bytes: int,
        inline_body_bytes: int,
        max_inflight_bytes: int,
    ) -> None:
        self.model = model
        self.interface: ModelInterface = describe_model(model)
        self.direct = direct_path(model)
        self.name = name
        self.version = version
        self.expected = f"Bearer {auth_token}".encode() if auth_token else None
        self.max_body_bytes = max_body_bytes
        self.inline_body_bytes = inline_body_bytes
        self.budget = BodyBudget(max_inflight_bytes, exempt_bytes=inline_body_bytes)
        self.metrics = ScoringMetrics(model_name=name, model_version=version or "")

    # request plumbing ---------------------------------------------------------
    def check_auth(self, request: Request) -> None:
        if self.expected is None:
            return
        given = request.headers.get("authorization", "").encode("latin-1", "replace")
        if not hmac.compare_digest(given, self.expected):
            raise Unauthenticated(
                "Missing or wrong bearer token (send Authorization: Bearer <token>)"
            )

    async def body(self, request: Request, held: Held) -> bytes:
        """The whole body, its size held in the budget (``held``): ``read_body``."""
        return await read_body(request, held, self.max_body_bytes, self.inline_body_bytes)

    def check_model(self, request: Request) -> None:
        name = request.path_params["name"]
        version = request.path_params.get("version")
        if name != self.name:
            raise UnknownModel(
                f"Model '{name}' is not served here; this server serves '{self.name}'"
            )
        if version is not None and version != self.version:
            served = f"version {self.version}" if self.version else "no numbered version"
            raise UnknownModel(f"Model '{name}' version '{version}' is not served here ({served})")

    def predict(self, data: Any, params: dict[str, Any] | None, *, direct: bool = False) -> Any:
        try:
            if direct and self.direct is not None:
                return self.direct.predict(data)
            if params:
                return self.model.predict(data, params=params)
            return self.model.predict(data)
        except KilnError as error:  # the model's own: a failed prediction, with its code
            failed = PredictionFailed(str(error))
            failed.error_code = error.error_code
            raise failed from None
        except Exception as error:
            _log.exception("the model raised while predicting")
            raise PredictionFailed(
                "Encountered an unexpected error while evaluating the model. Verify that the "
                f"input is compatible with the model for inference. Error: "
                f"{type(error).__name__}: {error}"
            ) from None

    # the work of the scoring routes -------------------------------------------
    # Both return (response body, rows predicted); the caller counts the rows on the
    # event loop, so metrics are only ever touched from one thread.
    def invocations(self, body: bytes, content_type: str | None) -> tuple[bytes, int]:
        parsed = parse_invocation(body, content_type, self.interface, self.direct)
        predictions = self.predict(parsed.data, parsed.params, direct=parsed.direct)
        return encoding.dumps_predictions(predictions, wrap=parsed.wrap), parsed.rows

    def infer(self, body: bytes) -> tuple[bytes, int]:
        try:
            payload = encoding.loads(body)
        except ValueError as error:
            raise BadInput(f"The infer request is not valid JSON: {error}") from None
        request = v2.parse_infer(payload, self.interface)
        predictions = self.predict(request.data, request.params)
        answer = v2.infer_response(predictions, request, self.interface, self.name, self.version)
        return encoding.dumps(answer), request.rows


def _mlflow_error(error: KilnError) -> Response:
    content = encoding.dumps({"error_code": error.error_code, "message": str(error)})
    return _error_response(error, content)


def _v2_error(error: KilnError) -> Response:
    return _error_response(error, encoding.dumps({"error": str(error)}))


def _error_response(error: KilnError, content: bytes) -> Response:
    """The status is the one both servers give the error's class (``kiln.http_status``);
    only the two headers below are the scoring server's own."""
    headers: dict[str, str] | None = None
    if isinstance(error, Unauthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(error, Overloaded):
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    return Response(content, status_code=status_for(error), media_type=JSON, headers=headers)


def _measured(
    scorer: _Scorer,
    route: str,
    handler: Handler,
    render_error: Callable[[KilnError], Response],
    *,
    protected: bool,
) -> Handler:
    metrics = scorer.metrics
    clock = time.perf_counter

    async def endpoint(request: Request) -> Response:
        start = clock()
        try:
            if protected:
                scorer.check_auth(request)
            response = await handler(request)
        except KilnError as error:
            metrics.error(route, type(error).__name__)
            response = render_error(error)
        except ClientDisconnect:  # the client hung up mid-body: nobody to answer
            metrics.error(route, "ClientAbort")
            response = Response(b"", status_code=CLIENT_ABORT)
        except Exception as error:  # a bug of ours: say so, stay up
            _log.exception("scoring route %s failed", route)
            metrics.error(route, "InternalError")
            body = {"error_code": "INTERNAL_ERROR", "message": f"{type(error).__name__}: {error}"}
            response = Response(encoding.dumps(body), status_code=500, media_type=JSON)
        metrics.observe(route, response.status_code, clock() - start)
        return response

    return endpoint


def create_scoring_app(
    model: ScoringModel,
    *,
    name: str,
    version: str | None = None,
    auth_token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    inline_body_bytes: int = DEFAULT_INLINE_BODY_BYTES,
    max_inflight_bytes: int = DEFAULT_MAX_INFLIGHT_BYTES,
    guard: RequestGuard | None = None,
) -> Starlette:
    """The scoring app for one loaded model.

    Args:
        model: anything with ``predict(data, params=None)`` and ``metadata``.
        name: the model name the V2 routes answer to.
        version: the model version the V2 routes report (None for a plain folder).
        auth_token: when set, scoring and metadata routes need
            ``Authorization: Bearer <auth_token>``; health routes stay open.
        max_body_bytes: larger request bodies are answered 413.
        inline_body_bytes: bodies up to this size are predicted on the event loop.
        max_inflight_bytes: the budget of larger bodies held at once (503 beyond it).
        guard: cross-site checks run before any route (``scoring_guard``); None for none.

    Returns:
        A Starlette app; build one per process (it holds the process's metrics).
    """
    scorer = _Scorer(
        model, name, version, auth_token, max_body_bytes, inline_body_bytes, max_inflight_bytes
    )
    interface = scorer.interface
    ok = b"\n"

    async def ping(request: Request) -> Response:
        return Response(ok, media_type=JSON)

    async def version_route(request: Request) -> Response:
        return Response(__version__, media_type=JSON)

    async def metrics_route(request: Request) -> Response:
        return Response(scorer.metrics.render(), media_type="text/plain; version=0.0.4")

    async def invocations(request: Request) -> Response:
        held = Held(scorer.budget)
        try:
            body = await scorer.body(request, held)
            content_type = request.headers.get("content-type")
            if len(body) > scorer.inline_body_bytes:
                content, rows = await run_in_threadpool(scorer.invocations, body, content_type)
            else:
                content, rows = scorer.invocations(body, content_type)
        finally:
            held.release()
        scorer.metrics.add_rows(rows)
        return Response(content, media_type=JSON)

    async def live(request: Request) -> Response:
        return Response(b'{"live":true}', media_type=JSON)

    async def ready(request: Request) -> Response:
        return Response(b'{"ready":true}', media_type=JSON)

    async def model_ready(request: Request) -> Response:
        scorer.check_model(request)
        return Response(encoding.dumps({"name": scorer.name, "ready": True}), media_type=JSON)

    async def server_meta(request: Request) -> Response:
        return Response(encoding.dumps(v2.server_metadata(__version__)), media_type=JSON)

    async def model_meta(request: Request) -> Response:
        scorer.check_model(request)
        body = v2.model_metadata(interface, scorer.name, scorer.version)
        return Response(encoding.dumps(body), media_type=JSON)

    async def infer(request: Request) -> Response:
        scorer.check_model(request)
        held = Held(scorer.budget)
        try:
            body = await scorer.body(request, held)
            if len(body) > scorer.inline_body_bytes:
                content, rows = await run_in_threadpool(scorer.infer, body)
            else:
                content, rows = scorer.infer(body)
        finally:
            held.release()
        scorer.metrics.add_rows(rows)
        return Response(content, media_type=JSON)

    def route(
        path: str, handler: Handler, method: str, *, v2_style: bool = False, protected: bool = False
    ) -> Route:
        render = _v2_error if v2_style else _mlflow_error
        wrapped = _measured(scorer, path, handler, render, protected=protected)
        return Route(path, wrapped, methods=[method])

    models = "/v2/models/{name}"
    versioned = "/v2/models/{name}/versions/{version}"
    scoring = route("/invocations", invocations, "POST", protected=True)
    routes = [
        scoring,
        route("/ping", ping, "GET"),
        route("/health", ping, "GET"),
        route("/version", version_route, "GET"),
        route("/metrics", metrics_route, "GET"),
        route("/v2/health/live", live, "GET", v2_style=True),
        route("/v2/health/ready", ready, "GET", v2_style=True),
        route("/v2", server_meta, "GET", v2_style=True, protected=True),
        route(f"{models}/ready", model_ready, "GET", v2_style=True),
        route(f"{versioned}/ready", model_ready, "GET", v2_style=True),
        route(f"{models}/infer", infer, "POST", v2_style=True, protected=True),
        route(f"{versioned}/infer", infer, "POST", v2_style=True, protected=True),
        route(models, model_meta, "GET", v2_style=True, protected=True),
        route(versioned, model_meta, "GET", v2_style=True, protected=True),
    ]
    app = _ScoringApp(scoring.endpoint, routes=routes, guard=guard)
    app.state.metrics = scorer.metrics
    app.state.budget = scorer.budget
    return app


class _ScoringApp(Starlette):
    """Starlette, with ``POST /invocations`` handed straight to its endpoint.

    The scoring route's endpoint already answers every error itself (``_measured``),
    so Starlette's error middlewares and its router add nothing to it but time:
    for a one-row request they cost about as much as parsing it. Every other
    route, and ``/invocations`` under a ``root_path``, goes through Starlette.
    """

    def __init__(
        self, invocations: Handler, routes: list[Route], guard: RequestGuard | None
    ) -> None:
        super().__init__(routes=routes)
        self._invocations = invocations
        self._guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._guard is not None:
            checked = await guarded(self._guard, scope, receive, send)
            if checked is None:
                return
            send = checked
        if (
            scope["type"] == "http"
            and scope["path"] == "/invocations"
            and scope["method"] == "POST"
            and not scope.get("root_path")
        ):
            scope["app"] = self
            response = await self._invocations(Request(scope, receive, send))
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


# Probed by load balancers and Kubernetes by IP or service name: no Host check.
HEALTH_PATHS = frozenset({"/ping", "/health", "/version", "/v2/health/live", "/v2/health/ready"})


def scoring_guard(
    bind_host: str, extra_hosts: tuple[str, ...] = (), origins: tuple[str, ...] = ()
) -> RequestGuard:
    """The scoring server's cross-site checks.

    Bound to loopback (the default), only loopback Host headers are served, so a
    DNS-rebinding page cannot read predictions; bound to every interface (a
    container, a deployment) the server is reached by service names no one can
    list in advance, so the Host check is off unless ``extra_hosts`` are given.
    Cross-origin POSTs are refused either way unless ``origins`` allow them.
    """
    if bind_host.strip() in WILDCARD_BINDS and not extra_hosts:
        extra_hosts = ("*",)
    return RequestGuard.for_server(bind_host, extra_hosts, origins, HEALTH_PATHS)


__all__ = [
    "DEFAULT_INLINE_BODY_BYTES",
    "DEFAULT_MAX_BODY_BYTES",
    "HEALTH_PATHS",
    "create_scoring_app",
    "scoring_guard",
]
