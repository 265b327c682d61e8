"""The cache of built environments: ``<cache_root>/<hash[:20]>/``, one per content hash.

A virtual environment cannot be built in a temporary folder and renamed into
place: venv and pip write the folder's absolute path into ``pyvenv.cfg``,
activation scripts and every console script's ``#!`` line (uv's
``--relocatable`` avoids that for uv's own venvs, but not for pip's). So an
environment is built at its final path while holding an exclusive lock
(``<hash[:20]>.lock``, ``fcntl.flock``, released by the kernel if the builder
dies), and a marker file, ``kiln-env.json``, is written last by an atomic rename.

The marker is the whole contract: a folder with a marker whose hash matches
and whose interpreter exists is complete; anything else is unfinished (a
build that crashed or was interrupted) and is removed and rebuilt by the next
prepare, under the lock. Readers never take the lock on a hit, so a cached
start costs one small file read. Two processes preparing the same hash at once:
one builds, the other waits on the lock and then finds the marker (a hit).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kiln.projects.envtypes import Progress

MARKER_FILE = "kiln-env.json"
FOLDER_CHARS = 20  # 80 bits: ample for one machine, and keeps #! lines short


@dataclass(frozen=True, slots=True)
class CachedEnv:
    """A complete environment in the cache; ``build_seconds`` is what building it took."""

    folder: Path
    env_hash: str
    build_seconds: float

    @property
    def python(self) -> Path:
        return self.folder / "bin" / "python"


def cache_folder(cache_root: Path, env_hash: str) -> Path:
    return cache_root / env_hash[:FOLDER_CHARS]


def lookup(cache_root: Path, env_hash: str) -> CachedEnv | None:
    """The complete environment for ``env_hash``, or None (missing or unfinished)."""
    folder = cache_folder(cache_root, env_hash)
    try:
        record = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("env_hash") != env_hash:
        return None
    found = CachedEnv(folder, env_hash, float(record.get("build_seconds", 0.0)))
    if not found.python.exists():  # e.g. the base interpreter it links to is gone
        return None
    return found


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_marker(folder: Path, record: dict[str, object]) -> None:
    partial = folder / f".{MARKER_FILE}.partial"
    partial.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(partial, folder / MARKER_FILE)


def ensure(
    cache_root: Path,
    env_hash: str,
    build: Callable[[Path], None],
    *,
    progress: Progress,
    details: dict[str, object] | None = None,
) -> tuple[CachedEnv, bool]:
    """The cached environment for ``env_hash``, building it with ``build(folder)`` if needed.

    Returns the environment and whether it was already there (a hit). ``build``
    must create the environment in the (absent) folder it is given; if it raises,
    the folder is removed and the error propagates. ``details`` are recorded in
    the marker beside the hash and build time.
    """
    found = lookup(cache_root, env_hash)
    if found is not None:
        return found, True
    cache_root.mkdir(parents=True, exist_ok=True)
    folder = cache_folder(cache_root, env_hash)
    with _locked(cache_root / f"{folder.name}.lock"):
        found = lookup(cache_root, env_hash)
        if found is not None:  # built by another process while this one waited
            return found, True
        if folder.exists() or folder.is_symlink():
            progress(f"removing unfinished environment {env_hash[:8]}…")
            shutil.rmtree(folder)
        started = time.perf_counter()
        try:
            build(folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        seconds = time.perf_counter() - started
        record: dict[str, object] = {
            **(details or {}),
            "env_hash": env_hash,
            "build_seconds": round(seconds, 3),
            "created": time.time(),
        }
        _write_marker(folder, record)
        return CachedEnv(folder, env_hash, seconds), False


__all__ = ["FOLDER_CHARS", "MARKER_FILE", "CachedEnv", "cache_folder", "ensure", "lookup"]
