"""URI scheme -> store implementation: the one table of backends, for every kind.

``STORES[kind][scheme]`` names the factory (``"module:function"``) that opens that
kind of store on that backend. Every factory takes the URI and a keyword-only
``workspace`` (tracking factories also ``artifact_root``); artifact factories take
the root URI. Implementations are imported lazily, so opening a file store never
loads SQLAlchemy and ``import kiln`` loads no backend at all.

A bare local path is read as an mlruns folder (``file:``), as MLflow does.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

from kiln.errors import InvalidInput, InvalidUri
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.store.protocols.audit import AuditLog
from kiln.store.protocols.auth import AuthStore
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.store.protocols.registry import RegistryStore
from kiln.store.protocols.tracking import TrackingStore

if TYPE_CHECKING:
    from kiln.store.artifacts.options import ArtifactOptions
    from kiln.store.sql.engine import EnginePool

Kind = Literal["tracking", "registry", "logged_models", "artifacts"]

_SQL = "kiln.store.sql"
_FILE = "kiln.store.file"
_MEMORY = "kiln.store.memory"
_REST = "kiln.store.rest"
_ARTIFACTS = "kiln.store.artifacts"

STORES: dict[Kind, dict[str, str]] = {
    "tracking": {
        "memory": f"{_MEMORY}.tracking:open_memory_store",
        "sqlite": f"{_SQL}.tracking:open_sql_store",
        "postgresql": f"{_SQL}.tracking:open_sql_store",
        "postgres": f"{_SQL}.tracking:open_sql_store",
        "file": f"{_FILE}.tracking:open_file_store",
        "http": f"{_REST}.tracking:open_rest_store",
        "https": f"{_REST}.tracking:open_rest_store",
    },
    "registry": {
        "memory": f"{_MEMORY}.registry:open_memory_registry_store",
        "sqlite": f"{_SQL}.registry:open_sql_registry_store",
        "postgresql": f"{_SQL}.registry:open_sql_registry_store",
        "postgres": f"{_SQL}.registry:open_sql_registry_store",
        "file": f"{_FILE}.registry:open_file_registry_store",
        "http": f"{_REST}.registry:open_rest_registry_store",
        "https": f"{_REST}.registry:open_rest_registry_store",
    },
    "logged_models": {
        "memory": f"{_MEMORY}.logged_models:open_memory_logged_model_store",
        "sqlite": f"{_SQL}.logged_models:open_sql_logged_model_store",
        "postgresql": f"{_SQL}.logged_models:open_sql_logged_model_store",
        "postgres": f"{_SQL}.logged_models:open_sql_logged_model_store",
        "file": f"{_FILE}.logged_models:open_file_logged_model_store",
        "http": f"{_REST}.logged_models:open_rest_logged_model_store",
        "https": f"{_REST}.logged_models:open_rest_logged_model_store",
    },
    "artifacts": {
        "": f"{_ARTIFACTS}.local:LocalArtifactStore",
        "file": f"{_ARTIFACTS}.local:LocalArtifactStore",
        "s3": f"{_ARTIFACTS}.s3:open_s3_artifact_store",
        "mlflow-artifacts": f"{_ARTIFACTS}.http:open_http_artifact_store",
        "http": f"{_ARTIFACTS}.http:open_http_artifact_store",
        "https": f"{_ARTIFACTS}.http:open_http_artifact_store",
    },
}

# Artifact URIs that may name a path on the tracking server (``mlflow-artifacts:/p``)
# and so are resolved against the tracking URI.
TRACKING_RELATIVE_ARTIFACT_SCHEMES = frozenset({"mlflow-artifacts"})
# Artifact factories that take ``options=`` (an ``ArtifactOptions``).
_OPTIONS_ARTIFACT_SCHEMES = frozenset({"s3", "mlflow-artifacts", "http", "https"})

# The refusal for a scheme a kind has no backend for (messages kept from wave 1).
_UNKNOWN: dict[Kind, str] = {
    "tracking": "unsupported tracking URI {uri!r}: use one of {known}",
    "registry": "no model registry for tracking URI {uri!r}: the registry needs one of {known}",
    "logged_models": "no logged-model store for tracking URI {uri!r}: use one of {known}",
    "artifacts": "unsupported artifact URI {uri!r}: use a local path or {known}",
}


def scheme_of(uri: str) -> str:
    """The backend scheme of a URI: ``postgresql+psycopg`` -> ``postgresql``; ``""``
    for a bare path (a Windows drive letter is not a scheme)."""
    scheme = urlparse(uri).scheme.lower().split("+", 1)[0]
    return "" if len(scheme) == 1 else scheme


def _factory(kind: Kind, uri: str) -> tuple[str, object]:
    """(the URI to open, the factory) for a non-artifact kind; a bare path becomes ``file:``."""
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidUri("the tracking URI is empty; pass e.g. sqlite:///kiln.db")
    scheme = scheme_of(uri)
    if scheme == "":
        uri = Path(uri).expanduser().resolve().as_uri()
        scheme = "file"
    target = STORES[kind].get(scheme)
    if target is None:
        known = ", ".join(sorted(f"{s}://" for s in STORES[kind]))
        raise InvalidUri(_UNKNOWN[kind].format(uri=uri, known=known))
    return uri, _load(target)


def _load(target: str) -> object:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _is_sql(uri: str) -> bool:
    return STORES["tracking"].get(scheme_of(uri), "").startswith(f"{_SQL}.")


def _owners(uri: str, engines: EnginePool | None) -> dict[str, Any]:
    """The owner keyword for a SQL factory: only SQL stores hold engines."""
    return {"engines": engines} if engines is not None and _is_sql(uri) else {}


def new_engine_pool(uri: str) -> EnginePool | None:
    """A new ``EnginePool`` for the SQL stores of ``uri``, which the caller closes; None
    when ``uri`` names another backend (its stores hold no engine, and SQLAlchemy
    stays unloaded)."""
    if not _is_sql(uri):
        return None
    from kiln.store.sql.engine import EnginePool

    return EnginePool()


def open_tracking_store(
    uri: str,
    *,
    workspace: str,
    artifact_root: str | None = None,
    engines: EnginePool | None = None,
) -> TrackingStore:
    """Open the tracking store a URI names, bound to one workspace.

    ``engines`` owns a SQL store's engine (closed by whoever made it); by default
    the process's shared pool. Other backends ignore it.

    Raises:
        InvalidUri: the URI is empty or its scheme names no known backend.
    """
    uri, factory = _factory("tracking", uri)
    owners = _owners(uri, engines)
    store = factory(uri, workspace=workspace, artifact_root=artifact_root, **owners)  # type: ignore[operator]
    assert isinstance(store, TrackingStore)
    return store


def open_registry_store(
    uri: str, *, workspace: str, engines: EnginePool | None = None
) -> RegistryStore:
    """Open the model registry kept where a tracking URI's data lives: the same
    database, the same mlruns folder (MLflow's file-registry layout), or the same server.
    ``engines`` as in ``open_tracking_store``.

    Raises:
        InvalidUri: the scheme has no registry backend.
    """
    uri, factory = _factory("registry", uri)
    store = factory(uri, workspace=workspace, **_owners(uri, engines))  # type: ignore[operator]
    assert isinstance(store, RegistryStore)
    return store


def open_logged_model_store(
    uri: str, *, workspace: str, engines: EnginePool | None = None
) -> LoggedModelStore:
    """Open the MLflow 3 logged models kept where a tracking URI's data lives.
    ``engines`` as in ``open_tracking_store``.

    Raises:
        InvalidUri: a scheme with no logged-model backend.
    """
    uri, factory = _factory("logged_models", uri)
    store = factory(uri, workspace=workspace, **_owners(uri, engines))  # type: ignore[operator]
    assert isinstance(store, LoggedModelStore)
    return store


def open_artifact_store(
    root_uri: str, *, tracking_uri: str | None = None, options: ArtifactOptions | None = None
) -> ArtifactStore:
    """Open the artifact store rooted at ``root_uri`` (a run's artifact_uri, say).

    Args:
        root_uri: a local path or a URI whose scheme is in ``STORES["artifacts"]``.
        tracking_uri: the tracking URI the run came from; a host-less
            ``mlflow-artifacts:/path`` is resolved against it (as MLflow does),
            so it must then be the ``http(s)://`` server holding the artifacts.
        options: the S3 endpoint and the owner of HTTP connections, as the caller's
            settings say (``kiln.store.artifacts.options``); None: AWS, and the
            process's shared HTTP connections.

    Raises:
        InvalidUri: the scheme names no known artifact backend, or an
            ``mlflow-artifacts:`` URI has no server to resolve against.
    """
    scheme = scheme_of(root_uri)
    target = STORES["artifacts"].get(scheme)
    if target is None:
        known = ", ".join(sorted(s for s in STORES["artifacts"] if s))
        raise InvalidUri(_UNKNOWN["artifacts"].format(uri=root_uri, known=known))
    factory = _load(target)
    keywords: dict[str, Any] = {}
    if scheme in TRACKING_RELATIVE_ARTIFACT_SCHEMES:
        keywords["tracking_uri"] = tracking_uri
    if scheme in _OPTIONS_ARTIFACT_SCHEMES and options is not None:
        keywords["options"] = options
    store = factory(root_uri, **keywords)  # type: ignore[operator]
    assert isinstance(store, ArtifactStore)
    return store


def _open_sql_only(uri: str, engines: EnginePool | None, factory: str, refusal: str) -> object:
    """Open a kind kept only in a SQL database (or, for ``memory://``, a fresh
    in-memory one): ``factory`` ``"<module>:<name>"`` names
    ``kiln.store.memory.<module>.open_memory_<name>`` and
    ``kiln.store.sql.<module>.open_sql_<name>``; ``refusal`` is the reason given
    for any other URI."""
    module, _, name = factory.partition(":")
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidUri("the tracking URI is empty; pass e.g. sqlite:///kiln.db")
    if scheme_of(uri) == "memory":
        return _load(f"{_MEMORY}.{module}:open_memory_{name}")(uri)  # type: ignore[operator]
    if not _is_sql(uri):
        raise InvalidInput(
            refusal.format(uri=uri)
            + " (sqlite:// or postgresql://): the audit log is written in the same "
            "transaction as the change"
        )
    return _load(f"{_SQL}.{module}:open_sql_{name}")(uri, **_owners(uri, engines))  # type: ignore[operator]


def open_audit_log(uri: str, *, engines: EnginePool | None = None) -> AuditLog:
    """Open the audit log kept where a tracking URI's data lives: the SQL database
    (table ``audit_events``) or, for ``memory://``, a fresh empty log. ``engines`` as
    in ``open_tracking_store``.

    Raises:
        InvalidInput: a file or HTTP URI: the audit log is written in the same
            transaction as the change, which needs a SQL store.
    """
    log = _open_sql_only(
        uri, engines, "audit:audit_log", "the audit log of {uri!r} needs a SQL store"
    )
    assert isinstance(log, AuditLog)
    return log


def open_auth_store(uri: str, *, engines: EnginePool | None = None) -> AuthStore:
    """Open the tenants, users and tokens kept where a tracking URI's data lives: the
    SQL database (the tables of migration 0008) or, for ``memory://``, a fresh store
    holding only ``default``. ``engines`` as in ``open_tracking_store``.

    Raises:
        InvalidInput: a file or HTTP URI: the audit log is written in the same
            transaction as the change, which needs a SQL store.
    """
    store = _open_sql_only(
        uri, engines, "auth:auth_store", "users and tenants of {uri!r} need a SQL store"
    )
    assert isinstance(store, AuthStore)
    return store


def close_store(store: object) -> None:
    """Release what a store holds (a REST store's connection pool); stores that hold
    nothing have no ``close``."""
    close = getattr(store, "close", None)
    if callable(close):
        close()


__all__ = [
    "STORES",
    "TRACKING_RELATIVE_ARTIFACT_SCHEMES",
    "Kind",
    "close_store",
    "new_engine_pool",
    "open_audit_log",
    "open_auth_store",
    "open_artifact_store",
    "open_logged_model_store",
    "open_registry_store",
    "open_tracking_store",
    "scheme_of",
]
