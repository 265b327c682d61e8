"""The fluent API's artifact logging: ``kiln.log_artifact()``, ``kiln.log_text()``, ...

Each call writes to the artifact store of ``run_id``, else of the active run,
else of a new run (as MLflow does); the run is found by
``kiln.tracking.fluent``, which owns the process-wide state.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiln.tracking.fluent import _target


def log_artifact(
    local_path: str | Path, artifact_path: str | None = None, run_id: str | None = None
) -> None:
    client, target = _target(run_id)
    client.log_artifact(target, local_path, artifact_path)


def log_artifacts(
    local_dir: str | Path, artifact_path: str | None = None, run_id: str | None = None
) -> None:
    client, target = _target(run_id)
    client.log_artifacts(target, local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    client, target = _target(run_id)
    client.log_text(target, text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str, run_id: str | None = None) -> None:
    """JSON, or YAML when ``artifact_file`` ends in .yaml/.yml."""
    client, target = _target(run_id)
    client.log_dict(target, dictionary, artifact_file)


def log_figure(
    figure: Any, artifact_file: str, *, save_kwargs: Mapping[str, Any] | None = None
) -> None:
    """A matplotlib figure, in the format its extension names (png, svg, pdf, ...)."""
    client, target = _target(None)
    client.log_figure(target, figure, artifact_file, save_kwargs=save_kwargs)


__all__ = ["log_artifact", "log_artifacts", "log_dict", "log_figure", "log_text"]
