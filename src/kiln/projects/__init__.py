"""MLproject folders run reproducibly and tracked: ``kiln run`` and ``kiln reproduce``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kiln.projects.submit import SubmittedRun, run


def __getattr__(name: str) -> Any:
    """MLflow's ``mlflow.projects.run`` and ``SubmittedRun``, loaded on first use."""
    if name in ("SubmittedRun", "run"):
        return getattr(importlib.import_module("kiln.projects.submit"), name)
    raise AttributeError(f"module 'kiln.projects' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "SubmittedRun", "run"])


__all__ = ["SubmittedRun", "run"]
