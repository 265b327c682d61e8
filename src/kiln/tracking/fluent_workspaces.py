"""MLflow 3's workspace functions: ``kiln.set_workspace``, ``list_workspaces`` & co.

A workspace is a Kiln tenant. ``set_workspace`` chooses the one later calls act in:
it sets ``KILN_WORKSPACE`` and ``MLFLOW_WORKSPACE`` in this process's environment
(as MLflow sets ``MLFLOW_WORKSPACE``), so threads and child processes follow, the
fluent API opens its stores in that workspace, and requests to a server carry it
in ``X-MLFLOW-WORKSPACE`` (``kiln.credentials``). ``None`` goes back to the
server's choice (a token's own workspace, else ``default``).

The others manage workspaces where the tracking URI's data lives: a server's
workspace API (``/api/3.0/mlflow/workspaces``, with the process's credentials),
or, for a SQLite or PostgreSQL URI, the database's tenants table, as the local
user who owns it. An mlruns folder has no workspaces.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

from kiln.entities import DEFAULT_WORKSPACE
from kiln.entities.auth import Tenant
from kiln.entities.workspace import Workspace, WorkspaceDeletionMode, workspace_name_problem
from kiln.errors import Conflict, InvalidInput, NotFound, StoreUnavailable
from kiln.store.open import close_store, open_auth_store, scheme_of
from kiln.store.protocols.auth import AuthStore
from kiln.tracking.kiln_api import KilnApi

T = TypeVar("T")
WORKSPACE_ENV_VARS = ("KILN_WORKSPACE", "MLFLOW_WORKSPACE")
_lock = threading.Lock()


def _checked(name: object) -> str:
    problem = workspace_name_problem(name)
    if problem is not None:
        raise InvalidInput(problem)
    assert isinstance(name, str)
    return name


def set_workspace(workspace: str | None) -> None:
    """Act in ``workspace`` from now on (None: the server's default).

    Raises:
        InvalidInput: not a valid workspace name (MLflow's rule).
    """
    from kiln.tracking import fluent

    with _lock:
        if workspace is None:
            for name in WORKSPACE_ENV_VARS:
                os.environ.pop(name, None)
        else:
            _checked(workspace)
            for name in WORKSPACE_ENV_VARS:
                os.environ[name] = workspace
        fluent.forget_active_experiment()  # its id belongs to the workspace left


def _tracking_uri() -> str:
    from kiln.tracking.fluent import get_tracking_uri

    return get_tracking_uri()


def _workspace(tenant: Tenant) -> Workspace:
    return Workspace(tenant.name, tenant.description or None, tenant.default_artifact_root)


def _refuse_trace_archival(config: object) -> None:
    if config is not None:
        raise InvalidInput("Kiln keeps no traces: pass trace_archival_config=None")


class Workspaces:
    """The workspaces where the data of the tracking URI ``uri`` lives (the module
    docstring says where); what the fluent functions and ``MlflowClient`` call."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.remote = scheme_of(uri) in ("http", "https")

    def _on_server(self, call: Callable[[KilnApi], T]) -> T:
        with KilnApi(self.uri) as api:
            try:
                return call(api)
            except StoreUnavailable as exc:
                # an mlflow server started without --enable-workspaces answers 503
                if "workspaces support" not in exc.message:
                    raise
                raise InvalidInput(
                    f"the tracking server at {self.uri} runs without workspaces: {exc.message}"
                ) from None

    def _in_database(self, call: Callable[[AuthStore], T]) -> T:
        if scheme_of(self.uri) in ("", "file"):
            raise InvalidInput(
                f"the tracking URI {self.uri!r} is an mlruns folder, which has no workspaces; "
                "use a SQLite or PostgreSQL tracking URI, or a Kiln server"
            )
        store = open_auth_store(self.uri)
        try:
            return call(store)
        finally:
            close_store(store)

    def list(self) -> list[Workspace]:
        if not self.remote:
            return self._in_database(lambda store: [_workspace(t) for t in store.list_tenants()])
        try:
            return self._on_server(lambda api: api.list_workspaces())
        except NotFound as exc:
            raise InvalidInput(
                f"the tracking server at {self.uri} does not serve workspaces ({exc.message}); "
                "Kiln's does when started with `kiln server --auth`"
            ) from None

    def get(self, name: str) -> Workspace:
        _checked(name)
        if self.remote:
            return self._on_server(lambda api: api.get_workspace(name))
        return self._in_database(lambda store: _workspace(store.get_tenant(name)))

    def create(
        self, name: str, description: str | None, root: str | None, archival: object
    ) -> Workspace:
        _checked(name)
        _refuse_trace_archival(archival)
        if self.remote:
            wanted = Workspace(name, description, root)
            return self._on_server(lambda api: api.create_workspace(wanted))
        return self._in_database(
            lambda store: _workspace(store.create_tenant(name, description or "", root))
        )

    def update(
        self, name: str, description: str | None, root: str | None, archival: object
    ) -> Workspace:
        _checked(name)
        _refuse_trace_archival(archival)
        if self.remote:
            wanted = Workspace(name, description, root)
            return self._on_server(lambda api: api.update_workspace(wanted))
        return self._in_database(
            lambda store: _workspace(store.update_tenant(name, description, root))
        )

    def delete(self, name: str, mode: str) -> None:
        try:
            chosen = WorkspaceDeletionMode(mode)
        except ValueError:
            modes = ", ".join(m.value for m in WorkspaceDeletionMode)
            raise InvalidInput(f"invalid deletion mode {mode!r}; use one of {modes}") from None
        _checked(name)
        if self.remote:
            self._on_server(lambda api: api.delete_workspace(name, chosen))
            return
        if chosen is WorkspaceDeletionMode.SET_DEFAULT:
            raise InvalidInput(
                "Kiln does not delete workspaces in SET_DEFAULT mode (it would move their "
                "experiments and models into 'default', where others see them); use RESTRICT "
                "or CASCADE"
            )
        if name == DEFAULT_WORKSPACE:
            raise InvalidInput("the default workspace cannot be deleted")

        def delete(store: AuthStore) -> None:
            store.get_tenant(name)
            if chosen is WorkspaceDeletionMode.RESTRICT and store.tenant_holds_data(name):
                raise Conflict(
                    f"workspace {name!r} still holds experiments or models; delete them first"
                )
            store.delete_tenant(name, purge=True)

        self._in_database(delete)


def list_workspaces() -> list[Workspace]:
    """The workspaces the caller may see (on a server: its memberships; admins: all).

    Raises:
        InvalidInput: the server does not serve MLflow's workspace API, or the
            tracking URI is an mlruns folder.
    """
    return Workspaces(_tracking_uri()).list()


def get_workspace(name: str) -> Workspace:
    """The workspace ``name``. Raises NotFound."""
    return Workspaces(_tracking_uri()).get(name)


def create_workspace(
    name: str,
    description: str | None = None,
    default_artifact_root: str | None = None,
    trace_archival_config: object | None = None,
) -> Workspace:
    """Create the workspace ``name`` (on a server: admins only).

    Raises:
        InvalidInput: an invalid name. AlreadyExists: the name is taken.
    """
    return Workspaces(_tracking_uri()).create(
        name, description, default_artifact_root, trace_archival_config
    )


def update_workspace(
    name: str,
    description: str | None = None,
    default_artifact_root: str | None = None,
    trace_archival_config: object | None = None,
) -> Workspace:
    """Change a workspace's description or artifact root (None keeps a field).

    Raises:
        NotFound: no such workspace.
    """
    return Workspaces(_tracking_uri()).update(
        name, description, default_artifact_root, trace_archival_config
    )


def delete_workspace(name: str, *, mode: str = WorkspaceDeletionMode.RESTRICT) -> None:
    """Delete an empty workspace (``RESTRICT``), or one and its experiments, runs and
    models (``CASCADE``; admins only on a server). Artifacts are never deleted: they
    stay under the artifact root's ``workspaces/<name>/``.

    Raises:
        InvalidInput: ``SET_DEFAULT``, an unknown mode, or ``default``. Conflict:
            ``RESTRICT`` and the workspace still holds experiments or models.
            NotFound: no such workspace.
    """
    Workspaces(_tracking_uri()).delete(name, mode)


class WorkspaceMethods:
    """``MlflowClient``'s workspace methods, on the client's tracking URI."""

    _tracking_uri: str

    def list_workspaces(self) -> list[Workspace]:
        return Workspaces(self._tracking_uri).list()

    def get_workspace(self, name: str) -> Workspace:
        return Workspaces(self._tracking_uri).get(name)

    def create_workspace(
        self,
        name: str,
        description: str | None = None,
        default_artifact_root: str | None = None,
        trace_archival_config: object | None = None,
    ) -> Workspace:
        return Workspaces(self._tracking_uri).create(
            name, description, default_artifact_root, trace_archival_config
        )

    def update_workspace(
        self,
        name: str,
        description: str | None = None,
        default_artifact_root: str | None = None,
        trace_archival_config: object | None = None,
    ) -> Workspace:
        return Workspaces(self._tracking_uri).update(
            name, description, default_artifact_root, trace_archival_config
        )

    def delete_workspace(self, name: str, mode: str = WorkspaceDeletionMode.RESTRICT) -> None:
        Workspaces(self._tracking_uri).delete(name, mode)

    def get_workspace_store_uri(self) -> str:
        """Where the workspaces live: the tracking URI (its database or server)."""
        return self._tracking_uri


__all__ = [
    "WorkspaceMethods",
    "Workspaces",
    "create_workspace",
    "delete_workspace",
    "get_workspace",
    "list_workspaces",
    "set_workspace",
    "update_workspace",
]
