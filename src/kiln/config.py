"""The one typed Settings object, read from the environment once, at the edge.

Resolution of the tracking URI, first match wins:
``kiln.set_tracking_uri(...)`` (handled by the fluent API), ``KILN_TRACKING_URI``,
``MLFLOW_TRACKING_URI``, then the embedded default
``sqlite:///$KILN_HOME/kiln.db`` with artifacts in ``$KILN_HOME/artifacts``
(``KILN_HOME`` defaults to ``~/.kiln``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_WORKSPACE = "default"


def default_home(env: Mapping[str, str] | None = None) -> Path:
    """The folder that holds the embedded store: ``$KILN_HOME`` or ``~/.kiln``."""
    env = os.environ if env is None else env
    home = env.get("KILN_HOME")
    return Path(home).expanduser() if home else Path.home() / ".kiln"


def default_tracking_uri(home: Path) -> str:
    return f"sqlite:///{home / 'kiln.db'}"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything Kiln reads from its environment."""

    home: Path
    tracking_uri: str
    artifact_root: str | None = None
    workspace: str = DEFAULT_WORKSPACE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        home = default_home(env)
        uri = (
            env.get("KILN_TRACKING_URI")
            or env.get("MLFLOW_TRACKING_URI")
            or default_tracking_uri(home)
        )
        return cls(
            home=home,
            tracking_uri=uri,
            artifact_root=env.get("KILN_ARTIFACT_ROOT") or None,
            workspace=env.get("KILN_WORKSPACE") or DEFAULT_WORKSPACE,
        )


__all__ = ["Settings", "default_home", "default_tracking_uri"]
