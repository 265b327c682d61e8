"""``kiln.register_model``: MLflow's fluent registration of a logged model.

The registry is the one kept at the fluent API's tracking URI, in the workspace of
the settings (``KILN_WORKSPACE``), as for ``log_model(registered_model_name=...)``.
Kiln creates versions READY, so there is nothing to wait for.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from contextlib import closing
from typing import Any
from urllib.parse import urlparse

from kiln.entities import ModelVersion
from kiln.errors import InvalidInput
from kiln.models.mlmodel import MLMODEL_FILE
from kiln.registry.service import LoggedModelLocator, RegistryService
from kiln.registry.uris import parse_runs_uri
from kiln.store.open import close_store, open_registry_store
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.tracking.client import KilnClient
from kiln.tracking.fluent import get_tracking_uri
from kiln.tracking.fluent_registry import get_registry_uri
from kiln.tracking.logged_model_ops import model_store

_log = logging.getLogger(__name__)
MODEL_VERSIONS_TAG = "mlflow.modelVersions"
DEFAULT_AWAIT_REGISTRATION_S = 300  # MLflow's default; versions are READY at once here


def register_model(
    model_uri: str,
    name: str,
    await_registration_for: int = DEFAULT_AWAIT_REGISTRATION_S,
    *,
    tags: Mapping[str, Any] | None = None,
    env_pack: Any = None,
) -> ModelVersion:
    """Create ``name`` if it is missing and add a version for ``model_uri``
    (``runs:/<run>/<path>``, ``models:/m-<id>``, a registry URI, or a path).

    Raises:
        InvalidInput: the source holds no MLmodel, or ``env_pack`` was given
            (Databricks serving only).
        NotFound: the run or logged model does not exist.
    """
    if env_pack is not None:
        raise InvalidInput("env_pack (Databricks Model Serving) is not supported by Kiln")
    uri = get_tracking_uri()
    with closing(KilnClient.from_uri(uri)) as client:
        workspace = client.store.workspace
        registry = open_registry_store(get_registry_uri(), workspace=workspace)
        service = RegistryService(
            registry,
            tracking=client.store,
            logged_models=logged_model_locator(uri, workspace),
            artifact_options=client.artifact_options,
        )
        version_tags = {str(k): str(v) for k, v in (tags or {}).items()}
        try:
            return register_through(service, client, uri, model_uri, name, tags=version_tags)
        finally:
            close_store(registry)


def logged_model_locator(tracking_uri: str, workspace: str) -> LoggedModelLocator:
    """What ``RegistryService(logged_models=...)`` needs: a logged model's files and run."""

    def locate(model_id: str) -> tuple[str, str | None]:
        model = model_store(tracking_uri, workspace).get_logged_model(model_id)
        return model.artifact_location, model.source_run_id

    return locate


def register_through(
    service: RegistryService,
    client: KilnClient,
    tracking_uri: str,
    model_uri: str,
    name: str,
    *,
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    run_id: str | None = None,
) -> ModelVersion:
    """Register ``model_uri`` with ``service`` as MLflow 3 does, for every caller (the fluent
    API, ``kiln models register``, the examples): ``runs:/<run>/<name>`` whose run holds no
    files there becomes the ``models:/<id>`` of the logged model the run produced, and the
    version is listed in that model's ``mlflow.modelVersions`` tag."""
    model_uri = _logged_model_of_run(client, tracking_uri, model_uri)
    version = service.register_model(
        model_uri, name, tags=tags or None, description=description, run_id=run_id
    )
    if version.model_id:
        _link_version(model_store(tracking_uri, client.store.workspace), version)
    return version


def _logged_model_of_run(client: KilnClient, tracking_uri: str, model_uri: str) -> str:
    """``runs:/<run>/<name>`` whose run artifacts hold no model -> ``models:/<id>`` of the
    logged model ``name`` the run produced, as MLflow 3 registers it; else unchanged."""
    from kiln.models.resolve import run_logged_model

    if urlparse(model_uri).scheme != "runs":
        return model_uri
    run_id, path = parse_runs_uri(model_uri)
    names = {info.path.rsplit("/", 1)[-1] for info in client.list_artifacts(run_id, path or None)}
    if MLMODEL_FILE in names or "/" in path:
        return model_uri
    model = run_logged_model(client, tracking_uri, run_id, path)
    if model is None:
        return model_uri
    _log.warning(
        "Run with id %s has no artifacts at artifact path %r, registering model based on %s "
        "instead",
        run_id,
        path,
        model.model_uri,
    )
    return model.model_uri


def _link_version(store: LoggedModelStore, version: ModelVersion) -> None:
    """Append the version to the logged model's ``mlflow.modelVersions`` tag, as MLflow does
    (its UI lists a model's versions from it)."""
    assert version.model_id is not None
    model = store.get_logged_model(version.model_id)
    entries = json.loads(model.tags.get(MODEL_VERSIONS_TAG) or "[]")
    entries.append({"name": version.name, "version": int(version.version)})
    store.set_logged_model_tags(version.model_id, {MODEL_VERSIONS_TAG: json.dumps(entries)})


__all__ = ["logged_model_locator", "register_model", "register_through"]
