"""The vocabulary of project environments: managers, a prepared environment, its errors.

Kept apart from ``kiln.projects.envs`` so the modules that parse environment
files and drive uv/pip can raise these errors without importing the orchestration
(which imports them). Import the names from ``kiln.projects.envs``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

EnvManager = Literal["local", "uv", "virtualenv", "conda"]
ENV_MANAGERS: tuple[EnvManager, ...] = get_args(EnvManager)
BuildTool = Literal["uv", "pip"]
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class PreparedEnv:
    """An environment ready to run a project command.

    ``python`` runs the command; ``bin_dir`` goes first on PATH (None for
    ``local``, which is the running interpreter). ``env_hash`` is the content hash
    the environment is cached under (None for ``local``). On a cache hit
    ``build_seconds`` is the time spent now (checking the cache) and
    ``saved_seconds`` the build time recorded when it was first made.
    """

    manager: EnvManager
    python: Path
    bin_dir: Path | None
    env_hash: str | None
    cache_hit: bool
    build_seconds: float
    saved_seconds: float | None


def no_progress(message: str) -> None:
    """The default progress callback: say nothing."""


__all__ = [
    "ENV_MANAGERS",
    "BuildTool",
    "EnvManager",
    "PreparedEnv",
    "Progress",
    "no_progress",
]
