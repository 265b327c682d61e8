"""Model registry entities: registered models, their versions, stages and aliases.

Plain frozen values, shaped like MLflow's registry. Times are milliseconds since
the epoch. Version numbers are ints here (1, 2, 3, ... per model); the wire
format turns them into the strings MLflow's REST API sends.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from kiln.entities.tracking import DEFAULT_WORKSPACE

# Set on registered models that are MLflow prompts; searches skip them unless asked.
PROMPT_TAG_KEY = "mlflow.prompt.is_prompt"


class ModelVersionStage(enum.StrEnum):
    """MLflow's legacy stages (deprecated there, still served)."""

    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"


class ModelVersionStatus(enum.StrEnum):
    """Registration status; Kiln versions are READY as soon as they are created."""

    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One version of a registered model.

    ``source`` is what the caller registered (``runs:/...``, ``models:/...``, a
    path); ``storage_location`` is where the files are (the source resolved), and
    is what ``get_model_version_download_uri`` returns when set.
    """

    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: ModelVersionStage = ModelVersionStage.NONE
    description: str | None = None
    user_id: str | None = None
    source: str = ""
    run_id: str | None = None
    run_link: str | None = None
    status: ModelVersionStatus = ModelVersionStatus.READY
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    model_id: str | None = None
    storage_location: str | None = None
    workspace: str = DEFAULT_WORKSPACE

    @property
    def download_uri(self) -> str:
        return self.storage_location or self.source


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A named model. ``aliases`` maps alias -> version number.

    ``latest_versions`` holds the newest version of each stage, ordered by
    version, as MLflow's ``latest_versions`` field does.
    """

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None = None
    user_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_versions: tuple[ModelVersion, ...] = ()
    workspace: str = DEFAULT_WORKSPACE

    @property
    def is_prompt(self) -> bool:
        return self.tags.get(PROMPT_TAG_KEY, "false").lower() == "true"


__all__ = [
    "PROMPT_TAG_KEY",
    "ModelVersion",
    "ModelVersionStage",
    "ModelVersionStatus",
    "RegisteredModel",
]
