"""The stores a request acts on: one ``Stores`` per workspace, found per request.

Every route handler takes a ``Stores`` as its first argument and never holds one:
the route builder (``kiln.server.routing.mount``) and the fast lane
(``kiln.server.fastlane``) call the app's one ``StoresFor`` resolver with the
request's ASGI scope and pass what it returns. So a handler cannot reach a store
without a request, and serving several workspaces only changes the resolver
(read the workspace from the scope, return that workspace's ``Stores``).

The resolver takes the scope rather than a Starlette ``Request`` because the fast
lane answers without building one. Today ``create_app`` opens the stores of
``settings.workspace`` once and its resolver returns them: one call per request,
no lookup.

Where the stores live (``create_app`` opens them here, from explicit settings):

* tracking: ``settings.backend_store_uri``, else the embedded default
  ``sqlite:///$KILN_HOME/kiln.db`` (never ``settings.tracking_uri``, which may
  point at this very server);
* artifacts: the proxy serves ``settings.artifacts_destination``, else
  ``settings.artifact_root``, else ``$KILN_HOME/artifacts``. New experiments get
  ``settings.default_artifact_root``, else ``mlflow-artifacts:/`` (proxied, as
  ``mlflow server`` does by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.types import Scope

from kiln.config import Settings, default_tracking_uri
from kiln.registry.service import LoggedModelLocator, RegistryService
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.open import (
    open_artifact_store,
    open_logged_model_store,
    open_registry_store,
    open_tracking_store,
)
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.store.protocols.registry import RegistryStore
from kiln.store.protocols.tracking import TrackingStore

if TYPE_CHECKING:
    from kiln.store.sql.engine import EnginePool

PROXY_ARTIFACT_ROOT = "mlflow-artifacts:/"


@dataclass(frozen=True, slots=True)
class Stores:
    """What one workspace's requests act on; ``destination`` is the artifact proxy's store,
    ``artifact_options`` how to reach the other artifact stores runs and models name.
    ``location_check`` (auth on: ``kiln.server.tenancy``) refuses an experiment's
    ``artifact_location`` outside the workspace's artifact root."""

    tracking: TrackingStore
    registry: RegistryService
    logged_models: LoggedModelStore
    destination: ArtifactStore
    artifact_options: ArtifactOptions = field(default_factory=ArtifactOptions)
    location_check: Callable[[str], None] | None = None


# The request's ASGI scope -> the stores it acts on.
StoresFor = Callable[[Scope], Stores]


def backend_store_uri(settings: Settings) -> str:
    return settings.backend_store_uri or default_tracking_uri(settings.home)


def artifacts_destination(settings: Settings) -> str:
    return (
        settings.artifacts_destination or settings.artifact_root or str(settings.home / "artifacts")
    )


def bind_stores(
    tracking: TrackingStore,
    registry: RegistryStore,
    logged_models: LoggedModelStore,
    destination: ArtifactStore,
    artifact_options: ArtifactOptions | None = None,
) -> Stores:
    """``Stores`` over open stores; the registry service resolves ``runs:/`` and
    ``models:/m-<id>`` sources through ``tracking`` and ``logged_models``."""
    options = artifact_options or ArtifactOptions()
    service = RegistryService(
        registry, tracking=tracking, logged_models=_locator(logged_models), artifact_options=options
    )
    return Stores(tracking, service, logged_models, destination, options)


def open_stores(
    settings: Settings,
    workspace: str,
    *,
    engines: EnginePool | None = None,
    tracking: TrackingStore | None = None,
    destination: ArtifactStore | None = None,
    registry: RegistryStore | None = None,
    logged_models: LoggedModelStore | None = None,
) -> Stores:
    """The stores of ``workspace`` (see the module docstring); any given one is used as is.

    A tracking store passed in (tests, embedding) gets in-process registry and
    logged-model stores unless those are given too. ``engines`` owns the engines
    of the SQL stores opened here (``kiln.store.open.new_engine_pool``). Artifact
    stores are reached as ``settings`` say (the S3 endpoint).
    """
    options = ArtifactOptions(s3_endpoint_url=settings.s3_endpoint_url)
    uri = "memory://"
    if tracking is None:
        uri = backend_store_uri(settings)
        tracking = open_tracking_store(
            uri,
            workspace=workspace,
            artifact_root=settings.default_artifact_root or PROXY_ARTIFACT_ROOT,
            engines=engines,
        )
    if destination is None:
        destination = open_artifact_store(artifacts_destination(settings), options=options)
    if registry is None:
        registry = open_registry_store(uri, workspace=workspace, engines=engines)
    if logged_models is None:
        logged_models = open_logged_model_store(uri, workspace=workspace, engines=engines)
    return bind_stores(tracking, registry, logged_models, destination, options)


def _locator(models: LoggedModelStore) -> LoggedModelLocator:
    """model id -> (artifact location, source run id)."""

    def locate(model_id: str) -> tuple[str, str | None]:
        model = models.get_logged_model(model_id)
        return model.artifact_location, model.source_run_id

    return locate


__all__ = [
    "PROXY_ARTIFACT_ROOT",
    "Stores",
    "StoresFor",
    "artifacts_destination",
    "backend_store_uri",
    "bind_stores",
    "open_stores",
]
