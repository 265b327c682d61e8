"""Parsing ``models:/`` and ``runs:/`` URIs, with MLflow's rules.

``models:/<name>/<version>``, ``models:/<name>/<stage>``, ``models:/<name>/latest``,
``models:/<name>@<alias>`` name a registry version; ``models:/m-<id>`` names a
logged model (MLflow 3). ``runs:/<run_id>/<path>`` names a run's artifact.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from kiln.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class ModelUri:
    """A parsed ``models:/`` URI: exactly one of version, stage, alias, latest, model_id."""

    name: str | None = None
    version: int | None = None
    stage: str | None = None
    alias: str | None = None
    latest: bool = False
    model_id: str | None = None


def parse_model_uri(uri: str) -> ModelUri:
    """Parse a ``models:/`` URI.

    Raises:
        InvalidInput: not a ``models:/`` URI, or a path MLflow does not accept.
    """
    parsed = urlparse(uri)
    if parsed.scheme != "models":
        raise InvalidInput(f"Not a proper models:/ URI: {uri!r}")
    if parsed.netloc:
        raise InvalidInput(
            f"Invalid model URI {uri!r}: registered model sources must use the active registry"
        )
    path = parsed.path.lstrip("/")
    if not path:
        raise InvalidInput(f"Not a proper models:/ URI: {uri!r}")
    parts = path.split("/")
    if len(parts) == 1:
        name, at, alias = parts[0].partition("@")
        if at:
            if not name or not alias:
                raise InvalidInput(f"Not a proper models:/ URI: {uri!r}")
            return ModelUri(name=name, alias=alias)
        if name.startswith("m-"):
            return ModelUri(model_id=name)
        raise InvalidInput(
            f"Not a proper models:/ URI: {uri!r}. "
            "Use models:/<name>/<version>, models:/<name>/<stage> or models:/<name>@<alias>"
        )
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise InvalidInput(f"Not a proper models:/ URI: {uri!r}")
    name, suffix = parts
    if suffix.isascii() and suffix.isdigit():  # "³".isdigit() too
        return ModelUri(name=name, version=int(suffix))
    if suffix.lower() == "latest":
        return ModelUri(name=name, latest=True)
    return ModelUri(name=name, stage=suffix)


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """``runs:/<run_id>/<path>`` -> ``(run_id, path)``; path may be empty."""
    parsed = urlparse(uri)
    if parsed.scheme != "runs" or parsed.netloc:
        raise InvalidInput(f"Not a proper runs:/ URI: {uri!r}. Use runs:/<run_id>/<path>")
    run_id, _, path = parsed.path.lstrip("/").partition("/")
    if not run_id:
        raise InvalidInput(f"Not a proper runs:/ URI: {uri!r}. Use runs:/<run_id>/<path>")
    return run_id, path.strip("/")


__all__ = ["ModelUri", "parse_model_uri", "parse_runs_uri"]
