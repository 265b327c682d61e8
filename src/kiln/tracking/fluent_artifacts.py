"""The fluent API's artifact logging: ``kiln.log_artifact()``, ``kiln.log_text()``, ...

Each call writes to the artifact store of ``run_id``, else of the active run,
else of a new run (as MLflow does); the run is found by
``kiln.tracking.fluent``, which owns the process-wide state.
"""

from __future__ import annotations

import posixpath
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from kiln.tracking.client import KilnClient
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


def log_stream(stream: BinaryIO, artifact_file: str, run_id: str | None = None) -> None:
    """A binary file-like object (``io.BytesIO``, an open file) as the file ``artifact_file``;
    it is copied in chunks, never read into memory whole."""
    client, target = _target(run_id)
    log_stream_to(client, target, stream, artifact_file)


def log_stream_to(client: KilnClient, run_id: str, stream: BinaryIO, artifact_file: str) -> None:
    """``log_stream`` for a given client and run (``MlflowClient.log_stream``)."""
    with tempfile.TemporaryDirectory(prefix="kiln-stream-") as tmp:
        local = Path(tmp) / posixpath.basename(artifact_file)
        with local.open("wb") as sink:
            shutil.copyfileobj(stream, sink)
        client.log_artifact(
            run_id, local, posixpath.dirname(posixpath.normpath(artifact_file)) or None
        )


def flush_artifact_async_logging() -> None:
    """MLflow's: wait for artifacts logged asynchronously. Kiln writes every artifact
    before the logging call returns, so there is never anything to wait for."""


__all__ = [
    "flush_artifact_async_logging",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_stream",
    "log_stream_to",
    "log_text",
]
