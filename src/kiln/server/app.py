"""The tracking server: ``create_app(settings)`` builds the Starlette app.

Stores are opened here, from explicit settings, never at import time (where they
live: ``kiln.server.stores``). Every route module declares its ``ApiRoute``s
(``kiln.server.routing``); ``mount`` serves them all under every API prefix and
the fast lane serves the JSON ones of fixed paths. Handlers get their stores per
request from the app's one resolver, which today answers every request with the
stores of ``settings.workspace``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute
from starlette.types import Scope

from kiln._version import __version__
from kiln.auth.principal import anonymous
from kiln.config import Settings
from kiln.entities.auth import DEFAULT_TENANT
from kiln.errors import InvalidInput, KilnError
from kiln.httpguard import RequestGuard
from kiln.server import (
    artifacts,
    experiments,
    logged_models,
    metric_history,
    registry_routes,
    runs,
)
from kiln.server.errors import http_error_handler, internal_error_handler, kiln_error_handler
from kiln.server.fastlane import INLINE_WRITES, KilnStarlette, lane_table
from kiln.server.gate import AuthGate
from kiln.server.kiln_routes import kiln_routes, server_audit_log
from kiln.server.openapi import OPENAPI_PATH, openapi_endpoint
from kiln.server.policy import PRINCIPAL_KEY, PUBLIC, PolicyRoute, check_policies, policy_route
from kiln.server.responses import json_response
from kiln.server.routing import ApiRoute, mount
from kiln.server.stores import (
    PROXY_ARTIFACT_ROOT,
    Stores,
    artifacts_destination,
    backend_store_uri,
    open_stores,
)
from kiln.server.telemetry import MetricsMiddleware, RequestMetrics, pool_collectors
from kiln.server.tenancy import TenantStores
from kiln.server.ui.core import UiContext
from kiln.server.ui.pages import ui_routes
from kiln.server.ui.render import Templates
from kiln.store.audit_context import current_actor
from kiln.store.open import close_store, new_engine_pool, open_audit_log, open_auth_store
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.store.protocols.registry import RegistryStore
from kiln.store.protocols.tracking import TrackingStore

if TYPE_CHECKING:
    from kiln.auth.service import AuthService
    from kiln.store.sql.engine import EnginePool

# Every API route the server serves, in matching order.
API_ROUTES: tuple[ApiRoute, ...] = (
    *experiments.ROUTES,
    *runs.ROUTES,
    *metric_history.ROUTES,
    *artifacts.ROUTES,
    *logged_models.ROUTES,
    *registry_routes.ROUTES,
)


def create_app(
    settings: Settings,
    *,
    store: TrackingStore | None = None,
    destination: ArtifactStore | None = None,
    registry: RegistryStore | None = None,
    logged_models: LoggedModelStore | None = None,
    auth: AuthService | None = None,
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
        auth: the auth service when auth is on; else, with ``settings.auth``, one on
            the backend store's users and audit log (``open_auth_store``).

    Raises:
        InvalidInput: auth on with a tracking store passed in (each tenant's stores
            are opened from ``settings``) or a server workspace other than ``default``.
    """
    if (auth is not None or settings.auth) and (
        store is not None or settings.workspace != DEFAULT_TENANT
    ):
        raise InvalidInput(
            "auth serves every tenant from the backend store URI: pass no tracking store "
            f"and keep the workspace {DEFAULT_TENANT!r}"
        )
    # The server owns the engines of the stores it opens; its lifespan closes them.
    engines = new_engine_pool(backend_store_uri(settings)) if store is None else None
    stores = open_stores(
        settings,
        settings.workspace,
        engines=engines,
        tracking=store,
        destination=destination,
        registry=registry,
        logged_models=logged_models,
    )

    owned_auth = auth is None and settings.auth
    if owned_auth:
        auth = _open_auth(settings, engines)
    tenants = None
    if auth is not None:
        tenants = TenantStores(settings, stores, engines=engines, auth_store=auth.store)
        auth.tenant_listeners.append(tenants.forget)
        tenant_stores = tenants.get

        def stores_for(scope: Scope) -> Stores:
            principal = scope.get(PRINCIPAL_KEY)
            return tenant_stores(principal.tenant if principal is not None else DEFAULT_TENANT)

    else:

        def stores_for(scope: Scope) -> Stores:
            return stores

    audit_log, owned_audit = server_audit_log(
        auth, backend_store_uri(settings) if store is None else None, engines
    )
    tracking = stores.tracking
    metrics = RequestMetrics(collectors=pool_collectors(tracking))
    routes: list[BaseRoute] = [
        policy_route("/health", _health, policy=PUBLIC),
        policy_route("/version", _version, policy=PUBLIC),
        # request counts and latencies by route template: no tenant's data
        policy_route("/metrics", _metrics_endpoint(metrics), policy=PUBLIC),
        policy_route(
            SERVER_INFO_PATH, _server_info(auth is not None), policy=PUBLIC, name="/server-info"
        ),
        policy_route(OPENAPI_PATH, openapi_endpoint, policy=PUBLIC),
        *kiln_routes(auth, audit_log),
        *mount(API_ROUTES, stores_for),
        # the web UI (kiln.server.ui): the same stores, under the same policy table
        *ui_routes(UiContext(auth, audit_log, stores_for, Templates())),
    ]
    names = {id(r.endpoint): r.name for r in routes if isinstance(r, PolicyRoute)}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        close_store(tracking)
        for opened in tenants.opened() if tenants is not None else ():
            close_store(opened.tracking)
        if owned_auth and auth is not None:
            close_store(auth.store)
            close_store(auth.audit)
        if owned_audit:
            close_store(audit_log)
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
    inline = INLINE_WRITES if getattr(tracking, "commits_without_waiting", False) else ()
    app.lane = lane_table(API_ROUTES, stores_for, inline)
    app.metrics = metrics
    app.guard = RequestGuard.for_server(
        settings.host, settings.allowed_hosts, settings.cors_allowed_origins
    )
    if auth is not None:
        app.gate = AuthGate(auth)
    else:
        app.anonymous = anonymous(current_actor(), settings.workspace)
    app.auth = auth
    check_policies(app)  # fail closed: a route without a policy is never served
    return app


def app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` and worker processes: settings from the environment."""
    return create_app(Settings.from_env())


SERVER_INFO_PATH = "/api/3.0/mlflow/server-info"


async def _health(request: Request) -> Response:
    return PlainTextResponse("OK")


async def _version(request: Request) -> Response:
    return PlainTextResponse(__version__)


def _server_info(workspaces: bool) -> Any:
    """MLflow 3's server-info: workspaces are on exactly when auth is."""
    info: dict[str, Any] = {
        "store_type": None,
        "workspaces_enabled": workspaces,
        "multipart_uploads_enabled": False,
        "multipart_downloads_enabled": False,
    }

    async def server_info(request: Request) -> Response:
        return json_response(info)

    return server_info


def _open_auth(settings: Settings, engines: EnginePool | None) -> AuthService:
    """The auth service on the backend store's users and audit log (same engines)."""
    from kiln.auth.service import AuthService

    uri = backend_store_uri(settings)
    return AuthService(
        open_auth_store(uri, engines=engines),
        open_audit_log(uri, engines=engines),
        settings.auth_settings,
        directory=_directory(settings),
    )


def _directory(settings: Settings) -> Any:
    ldap = settings.auth_settings.ldap
    if ldap is None:
        return None
    from kiln.auth.ldap import LdapDirectory

    return LdapDirectory(ldap)


def _metrics_endpoint(metrics: RequestMetrics) -> Any:
    async def metrics_endpoint(request: Request) -> Response:
        return PlainTextResponse(
            metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return metrics_endpoint


__all__ = [
    "API_ROUTES",
    "PROXY_ARTIFACT_ROOT",
    "app_from_env",
    "artifacts_destination",
    "backend_store_uri",
    "create_app",
]
