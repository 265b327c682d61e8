"""URI scheme -> store implementation: the one table of backends.

Implementations are imported lazily so that opening a file store never loads
SQLAlchemy, and ``import kiln`` loads neither.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from urllib.parse import urlparse

from kiln.entities import DEFAULT_WORKSPACE
from kiln.errors import InvalidUri
from kiln.store.base import ArtifactStore, TrackingStore

# scheme -> "module:factory"; each factory takes (uri, workspace=..., artifact_root=...)
TRACKING_STORES: dict[str, str] = {
    "memory": "kiln.store.memory:open_memory_store",
    "sqlite": "kiln.store.sql.store:open_sql_store",
    "postgresql": "kiln.store.sql.store:open_sql_store",
    "file": "kiln.store.file.store:open_file_store",
    "http": "kiln.store.rest.store:open_rest_store",
    "https": "kiln.store.rest.store:open_rest_store",
}

# scheme -> "module:factory"; each factory takes the root URI (and those in
# TRACKING_RELATIVE_ARTIFACT_SCHEMES also ``tracking_uri=``).
ARTIFACT_STORES: dict[str, str] = {
    "": "kiln.store.artifacts.local:LocalArtifactStore",
    "file": "kiln.store.artifacts.local:LocalArtifactStore",
    "s3": "kiln.store.artifacts.s3:S3ArtifactStore",
    "mlflow-artifacts": "kiln.store.artifacts.http:open_http_artifact_store",
    "http": "kiln.store.artifacts.http:open_http_artifact_store",
    "https": "kiln.store.artifacts.http:open_http_artifact_store",
}

# Artifact URIs that may name a path on the tracking server (``mlflow-artifacts:/p``)
# and so are resolved against the tracking URI.
TRACKING_RELATIVE_ARTIFACT_SCHEMES = frozenset({"mlflow-artifacts"})


def _scheme(uri: str) -> str:
    scheme = urlparse(uri).scheme.lower()
    # "postgresql+psycopg" -> "postgresql"; a Windows drive letter is not a scheme.
    scheme = scheme.split("+", 1)[0]
    return "" if len(scheme) == 1 else scheme


def _load(target: str) -> object:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def open_tracking_store(
    uri: str,
    workspace: str = DEFAULT_WORKSPACE,
    artifact_root: str | None = None,
) -> TrackingStore:
    """Open the tracking store a URI names.

    A bare local path is read as an mlruns folder (``file:``), as MLflow does.

    Raises:
        InvalidUri: the scheme names no known backend.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidUri("the tracking URI is empty; pass e.g. sqlite:///kiln.db")
    scheme = _scheme(uri)
    if scheme == "":
        uri = Path(uri).expanduser().resolve().as_uri()
        scheme = "file"
    target = TRACKING_STORES.get(scheme)
    if target is None:
        known = ", ".join(sorted(f"{s}://" for s in TRACKING_STORES))
        raise InvalidUri(f"unsupported tracking URI {uri!r}: use one of {known}")
    factory = _load(target)
    store = factory(uri, workspace=workspace, artifact_root=artifact_root)  # type: ignore[operator]
    assert isinstance(store, TrackingStore)
    return store


def open_artifact_store(root_uri: str, *, tracking_uri: str | None = None) -> ArtifactStore:
    """Open the artifact store rooted at ``root_uri`` (a run's artifact_uri, say).

    Args:
        root_uri: a local path or a URI whose scheme is in ``ARTIFACT_STORES``.
        tracking_uri: the tracking URI the run came from; a host-less
            ``mlflow-artifacts:/path`` is resolved against it (as MLflow does),
            so it must then be the ``http(s)://`` server holding the artifacts.

    Raises:
        InvalidUri: the scheme names no known artifact backend, or an
            ``mlflow-artifacts:`` URI has no server to resolve against.
    """
    scheme = _scheme(root_uri)
    target = ARTIFACT_STORES.get(scheme)
    if target is None:
        known = ", ".join(sorted(s for s in ARTIFACT_STORES if s))
        raise InvalidUri(f"unsupported artifact URI {root_uri!r}: use a local path or {known}")
    factory = _load(target)
    if scheme in TRACKING_RELATIVE_ARTIFACT_SCHEMES:
        store = factory(root_uri, tracking_uri=tracking_uri)  # type: ignore[operator]
    else:
        store = factory(root_uri)  # type: ignore[operator]
    assert isinstance(store, ArtifactStore)
    return store


__all__ = [
    "ARTIFACT_STORES",
    "TRACKING_RELATIVE_ARTIFACT_SCHEMES",
    "TRACKING_STORES",
    "open_artifact_store",
    "open_tracking_store",
]
