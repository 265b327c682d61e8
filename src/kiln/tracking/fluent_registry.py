"""MLflow's fluent registry and URI functions: ``kiln.set_registry_uri``,
``kiln.search_registered_models``, ``kiln.search_model_versions``, ...

The registry URI resolves as MLflow's does: the one set in code, else
``MLFLOW_REGISTRY_URI``, else the tracking URI (the registry then lives with the runs).
The searches fetch every page, as MLflow's fluent ones do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import closing
from typing import Any, TypeVar

from kiln.entities import ModelVersion, Page, RegisteredModel
from kiln.errors import InvalidInput
from kiln.store.query.registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
)
from kiln.tracking import fluent

REGISTRY_URI_ENV = "MLFLOW_REGISTRY_URI"
_TRACKING_URI_ENV_VARS = ("KILN_TRACKING_URI", "MLFLOW_TRACKING_URI")  # see kiln.config
_T = TypeVar("_T")


def set_registry_uri(uri: str) -> None:
    """Send later registry calls (``register_model``, ``MlflowClient()``'s registry
    methods, the searches here) to ``uri`` instead of the tracking URI."""
    if not str(uri).strip():
        raise InvalidInput("the registry URI is empty; pass e.g. sqlite:///registry.db")
    fluent._state.registry_uri = str(uri)


def registry_uri_from_context() -> str | None:
    """The registry URI set in code, else ``MLFLOW_REGISTRY_URI``, else None."""
    return fluent._state.registry_uri or os.environ.get(REGISTRY_URI_ENV) or None


def get_registry_uri() -> str:
    """The registry URI set in code, else ``MLFLOW_REGISTRY_URI``, else the tracking URI."""
    return registry_uri_from_context() or fluent.get_tracking_uri()


def is_tracking_uri_set() -> bool:
    """Whether a tracking URI was set in code or in the environment (``KILN_``/
    ``MLFLOW_TRACKING_URI``), rather than the embedded default being used."""
    if fluent._state.tracking_uri is not None:
        return True
    return any(os.environ.get(name) for name in _TRACKING_URI_ENV_VARS)


def _all_pages(
    fetch: Callable[[int, str | None], Page[_T]], max_results: int | None, page_size: int
) -> list[_T]:
    found: list[_T] = []
    token: str | None = None
    while max_results is None or len(found) < max_results:
        size = page_size if max_results is None else min(page_size, max_results - len(found))
        page = fetch(size, token)
        found.extend(page.items)
        token = page.next_page_token
        if not token or not page.items:
            break
    return found


def search_registered_models(
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[RegisteredModel]:
    """Every registered model matching ``filter_string`` (up to ``max_results``).

    Raises:
        InvalidInput: a bad filter or order clause.
    """
    from kiln.tracking.mlflow_client import MlflowClient

    with closing(MlflowClient()) as client:
        return _all_pages(
            lambda size, token: client.search_registered_models(
                filter_string, size, order_by, token
            ),
            max_results,
            SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        )


def search_model_versions(
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[ModelVersion]:
    """Every model version matching ``filter_string`` (up to ``max_results``).

    Raises:
        InvalidInput: a bad filter or order clause.
    """
    from kiln.tracking.mlflow_client import MlflowClient

    with closing(MlflowClient()) as client:
        return _all_pages(
            lambda size, token: client.search_model_versions(filter_string, size, order_by, token),
            max_results,
            SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        )


def set_model_version_tag(
    name: str, version: int | str | None = None, key: str | None = None, value: Any = None
) -> None:
    """Tag version ``version`` of the registered model ``name``.

    Raises:
        InvalidInput: no version or no key.
        NotFound: no such model version.
    """
    from kiln.tracking.mlflow_client import MlflowClient

    if version is None:
        raise InvalidInput("set_model_version_tag needs the version")
    with closing(MlflowClient()) as client:
        client.set_model_version_tag(name, version, key, value)


__all__ = [
    "REGISTRY_URI_ENV",
    "get_registry_uri",
    "is_tracking_uri_set",
    "registry_uri_from_context",
    "search_model_versions",
    "search_registered_models",
    "set_model_version_tag",
    "set_registry_uri",
]
