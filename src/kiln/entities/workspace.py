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
WORKSPACE_NAME_PATTERN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
WORKSPACE_NAME_MIN_LENGTH = 2
WORKSPACE_NAME_MAX_LENGTH = 63
# MLflow's reserved workspace names (path segments of its own routes).
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
    """Why ``name`` is no valid workspace (tenant) name, or None when it is.

    MLflow 3's ``WorkspaceNameValidator``: the name appears in URLs and artifact
    paths (``workspaces/<tenant>/``), so it is a DNS label of 2 to 63 characters,
    and the words MLflow's routes use are reserved; ``default`` is one. The one rule
    for the server (``kiln.auth.names``) and the client (``kiln.set_workspace``),
    here because ``kiln.tracking`` may not import ``kiln.auth``.
    """
    if not isinstance(name, str):
        return f"Workspace name must be a string, got {type(name).__name__}."
    if not WORKSPACE_NAME_MIN_LENGTH <= len(name) <= WORKSPACE_NAME_MAX_LENGTH:
        return (
            f"Workspace name {name!r} must be between {WORKSPACE_NAME_MIN_LENGTH} and "
            f"{WORKSPACE_NAME_MAX_LENGTH} characters."
        )
    # fullmatch: MLflow's re.match with '$' would let a trailing newline through
    if WORKSPACE_NAME_PATTERN.fullmatch(name) is None:
        return (
            f"Workspace name {name!r} must match the pattern {WORKSPACE_NAME_PATTERN.pattern} "
            "(lowercase alphanumeric with optional internal hyphens)."
        )
    if name in RESERVED_WORKSPACE_NAMES:
        return f"Workspace name {name!r} is reserved and cannot be used."
    return None


__all__ = [
    "DEFAULT_WORKSPACE_NAME",
    "RESERVED_WORKSPACE_NAMES",
    "WORKSPACE_NAME_MAX_LENGTH",
    "WORKSPACE_NAME_MIN_LENGTH",
    "WORKSPACE_NAME_PATTERN",
    "Workspace",
    "WorkspaceDeletionMode",
    "workspace_name_problem",
]
