"""Tracking: ``KilnClient``, the fluent API, and MLflow's ``mlflow.tracking`` names
(``MlflowClient``, the tracking and registry URI functions), resolved lazily so importing
this package stays cheap."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiln.tracking.fluent import get_tracking_uri, set_tracking_uri
    from kiln.tracking.fluent_registry import (
        get_registry_uri,
        is_tracking_uri_set,
        set_registry_uri,
    )
    from kiln.tracking.mlflow_client import MlflowClient

_LAZY = {
    "MlflowClient": "kiln.tracking.mlflow_client",
    "get_tracking_uri": "kiln.tracking.fluent",
    "set_tracking_uri": "kiln.tracking.fluent",
    "get_registry_uri": "kiln.tracking.fluent_registry",
    "is_tracking_uri_set": "kiln.tracking.fluent_registry",
    "set_registry_uri": "kiln.tracking.fluent_registry",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kiln.tracking' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "MlflowClient",
    "get_registry_uri",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "set_registry_uri",
    "set_tracking_uri",
]
