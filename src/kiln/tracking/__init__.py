"""Tracking: ``KilnClient``, the fluent API, and ``MlflowClient`` at MLflow's path
(``from kiln.tracking import MlflowClient``), resolved lazily so importing this package
stays cheap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiln.tracking.mlflow_client import MlflowClient


def __getattr__(name: str) -> Any:
    if name == "MlflowClient":
        from kiln.tracking.mlflow_client import MlflowClient

        return MlflowClient
    raise AttributeError(f"module 'kiln.tracking' has no attribute {name!r}")


__all__ = ["MlflowClient"]
