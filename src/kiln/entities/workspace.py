"""MLflow 3's workspace, as ``kiln.list_workspaces`` and friends answer it.

A workspace is a Kiln tenant (``kiln.entities.auth.Tenant``) as MLflow's client sees
it: the same fields as ``mlflow.entities.Workspace``, the same JSON
(``to_dict``/``from_dict``), the same names rule. Kiln keeps no traces, so the trace
archival fields stay None.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_WORKSPACE_NAME = "default"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
RESERVED_WORKSPACE_NAMES = frozenset({"workspaces", "api", "ajax-api", "static-files"})


class WorkspaceDeletionMode(enum.StrEnum):
    """What deleting a workspace does to what it holds (MLflow's modes)."""

    SET_DEFAULT = "SET_DEFAULT"
    CASCADE = "CASCADE"
    RESTRICT = "RESTRICT"


@dataclass(frozen=True, slots=True)
class Workspace:
    """A workspace's name and metadata (``mlflow.entities.Workspace``)."""

    name: str
    description: str | None = None
    default_artifact_root: str | None = None
    trace_archival_location: str | None = None
    trace_archival_retention: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON of MLflow's workspace API."""
        payload: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "default_artifact_root": self.default_artifact_root,
        }
        archival = {
            key: value
            for key, value in (
                ("location", self.trace_archival_location),
                ("retention", self.trace_archival_retention),
            )
            if value is not None
        }
        if archival:
            payload["trace_archival_config"] = archival
        return payload

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Workspace:
        archival = payload.get("trace_archival_config") or {}
        return cls(
            name=payload["name"],
            description=payload.get("description"),
            default_artifact_root=payload.get("default_artifact_root"),
            trace_archival_location=archival.get("location"),
            trace_archival_retention=archival.get("retention"),
        )


def workspace_name_problem(name: object) -> str | None:
    """Why ``name`` is no valid workspace name (MLflow's rule), or None when it is.

    2 to 63 characters, lower-case letters, digits and inner hyphens, and none of
    MLflow's reserved names; ``default`` is always valid.
    """
    if name == DEFAULT_WORKSPACE_NAME:
        return None
    if not isinstance(name, str) or not 2 <= len(name) <= 63 or not _NAME.fullmatch(name):
        return (
            f"invalid workspace name {name!r}: use 2 to 63 lower-case letters, digits and "
            "hyphens, starting and ending with a letter or digit"
        )
    if name in RESERVED_WORKSPACE_NAMES:
        return f"invalid workspace name {name!r}: it is reserved"
    return None


__all__ = [
    "DEFAULT_WORKSPACE_NAME",
    "RESERVED_WORKSPACE_NAMES",
    "Workspace",
    "WorkspaceDeletionMode",
    "workspace_name_problem",
]
