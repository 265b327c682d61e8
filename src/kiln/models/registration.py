"""``kiln.register_model``: MLflow's fluent registration of a logged model.

The registry is the one kept at the fluent API's tracking URI, in the workspace of
the settings (``KILN_WORKSPACE``), as for ``log_model(registered_model_name=...)``.
Kiln creates versions READY, so there is nothing to wait for.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import closing
from typing import Any

from kiln.entities import ModelVersion
from kiln.errors import InvalidInput
from kiln.registry.service import RegistryService
from kiln.store.open import open_logged_model_store, open_registry_store
from kiln.tracking.client import KilnClient
from kiln.tracking.fluent import get_tracking_uri
from kiln.tracking.fluent_registry import get_registry_uri

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

        def logged_model(model_id: str) -> tuple[str, str | None]:
            store = open_logged_model_store(uri, workspace=workspace)
            model = store.get_logged_model(model_id)
            return model.artifact_location, model.source_run_id

        service = RegistryService(
            open_registry_store(get_registry_uri(), workspace=workspace),
            tracking=client.store,
            logged_models=logged_model,
            artifact_options=client.artifact_options,
        )
        version_tags = {str(k): str(v) for k, v in (tags or {}).items()}
        return service.register_model(model_uri, name, tags=version_tags or None)


__all__ = ["register_model"]
