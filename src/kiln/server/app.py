"""The tracking server: ``create_app(settings)`` builds the Starlette app.

Stores are opened here, from explicit settings, never at import time:

* tracking: ``settings.backend_store_uri``, else the embedded default
  ``sqlite:///$KILN_HOME/kiln.db`` (never ``settings.tracking_uri``, which may
  point at this very server);
* artifacts: the proxy serves ``settings.artifacts_destination``, else
  ``settings.artifact_root``, else ``$KILN_HOME/artifacts``. New experiments get
  ``settings.default_artifact_root``, else ``mlflow-artifacts:/`` (proxied, as
  ``mlflow server`` does by default).

Requests act in the default workspace until auth assigns one per request.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from kiln._version import __version__
from kiln.config import Settings, default_tracking_uri
from kiln.errors import KilnError
from kiln.httpguard import RequestGuard
from kiln.registry.service import RegistryService
from kiln.server.artifacts import ArtifactApi
from kiln.server.errors import http_error_handler, internal_error_handler, kiln_error_handler
from kiln.server.experiments import ExperimentApi
from kiln.server.fastlane import INLINE_WRITES, KilnStarlette, lane_table
from kiln.server.logged_models import LoggedModelApi
from kiln.server.metric_history import MetricHistoryApi
from kiln.server.openapi import OPENAPI_PATH, openapi_endpoint
from kiln.server.registry_routes import registry_routes
from kiln.server.responses import json_response
from kiln.server.routing import API_PREFIXES, mount
from kiln.server.runs import RunApi
from kiln.server.telemetry import MetricsMiddleware, RequestMetrics, pool_collectors
from kiln.store.open import (
    new_engine_pool,
    open_artifact_store,
    open_logged_model_store,
    open_registry_store,
    open_tracking_store,
)
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.store.protocols.registry import RegistryStore
from kiln.store.protocols.tracking import TrackingStore

PROXY_ARTIFACT_ROOT = "mlflow-artifacts:/"


def backend_store_uri(settings: Settings) -> str:
    return settings.backend_store_uri or default_tracking_uri(settings.home)


def artifacts_destination(settings: Settings) -> str:
    return (
        settings.artifacts_destination or settings.artifact_root or str(settings.home / "artifacts")
    )


def create_app(
    settings: Settings,
    *,
    store: TrackingStore | None = None,
    destination: ArtifactStore | None = None,
    registry: RegistryStore | None = None,
    logged_models: LoggedModelStore | None = None,
) -> Starlette:
    """Build the tracking server.

    Args:
        settings: where the stores live (see the module docstring).
        store: an already open tracking store to serve instead of opening one.
        destination: an already open artifact store for the proxy.
        registry: an already open registry store; else the one at the backend URI
            (an in-process one for ``memory://`` backends and when ``store`` is given).
        logged_models: an already open logged-model store; else the backend URI's
            (in-process under the same conditions).
    """
    # Stores passed in (tests, embedding) get in-process companions unless given too.
    opened_here = store is None
    # The server owns the engines of the stores it opens; its lifespan closes them.
    engines = new_engine_pool(backend_store_uri(settings)) if opened_here else None
    if store is None:
        store = open_tracking_store(
            backend_store_uri(settings),
            workspace=settings.workspace,
            artifact_root=settings.default_artifact_root or PROXY_ARTIFACT_ROOT,
            engines=engines,
        )
    if destination is None:
        destination = open_artifact_store(artifacts_destination(settings))
    uri = backend_store_uri(settings) if opened_here else "memory://"
    if registry is None:
        registry = open_registry_store(uri, workspace=settings.workspace, engines=engines)
    if logged_models is None:
        logged_models = open_logged_model_store(uri, workspace=settings.workspace, engines=engines)
    artifacts = ArtifactApi(store, destination)
    registry_service = RegistryService(
        registry, tracking=store, logged_models=_locator(logged_models)
    )
    metrics = RequestMetrics(collectors=pool_collectors(store))

    api = [
        *ExperimentApi(store).routes(),
        *RunApi(store, logged_models).routes(),
        *MetricHistoryApi(store).routes(),
        *artifacts.api_routes(),
    ]
    routes: list[BaseRoute] = [
        Route("/health", _health, methods=["GET"], name="/health"),
        Route("/version", _version, methods=["GET"], name="/version"),
        Route("/metrics", _metrics_endpoint(metrics), methods=["GET"], name="/metrics"),
        Route("/api/3.0/mlflow/server-info", _server_info, methods=["GET"], name="/server-info"),
        Route(OPENAPI_PATH, openapi_endpoint, methods=["GET"], name=OPENAPI_PATH),
        *mount(api),
        *LoggedModelApi(store, logged_models, destination).routes(),
        *registry_routes(lambda request: registry_service),
    ]
    for prefix in API_PREFIXES:
        routes.extend(artifacts.proxy_routes(prefix))
    names = {id(r.endpoint): r.name for r in routes if isinstance(r, Route)}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        close = getattr(store, "close", None)
        if callable(close):
            close()
        if engines is not None:
            engines.close()

    app = KilnStarlette(
        routes=routes,
        middleware=[Middleware(MetricsMiddleware, metrics=metrics, names=names)],
        exception_handlers={
            KilnError: kiln_error_handler,
            HTTPException: http_error_handler,
            Exception: internal_error_handler,
        },
        lifespan=lifespan,
    )
    # The JSON API skips the middleware stack; it records the same request metrics.
    inline = INLINE_WRITES if getattr(store, "commits_without_waiting", False) else ()
    app.lane = lane_table(api, inline)
    app.metrics = metrics
    app.guard = RequestGuard.for_server(
        settings.host, settings.allowed_hosts, settings.cors_allowed_origins
    )
    return app


def _locator(models: LoggedModelStore) -> Any:
    """A ``LoggedModelLocator``: model id -> (artifact location, source run id)."""

    def locate(model_id: str) -> tuple[str, str | None]:
        model = models.get_logged_model(model_id)
        return model.artifact_location, model.source_run_id

    return locate


def app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` and worker processes: settings from the environment."""
    return create_app(Settings.from_env())


async def _health(request: Request) -> Response:
    return PlainTextResponse("OK")


async def _version(request: Request) -> Response:
    return PlainTextResponse(__version__)


async def _server_info(request: Request) -> Response:
    info: dict[str, Any] = {
        "store_type": None,
        "workspaces_enabled": False,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
    }
    return json_response(info)


def _metrics_endpoint(metrics: RequestMetrics) -> Any:
    async def metrics_endpoint(request: Request) -> Response:
        return PlainTextResponse(
            metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return metrics_endpoint


__all__ = [
    "PROXY_ARTIFACT_ROOT",
    "app_from_env",
    "artifacts_destination",
    "backend_store_uri",
    "create_app",
]
