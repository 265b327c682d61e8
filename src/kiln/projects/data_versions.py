"""Is the data a run read still the data it recorded? (``kiln reproduce`` asks first.)

Each dataset input whose source is a local file (``source_type`` ``local``, as
``kiln.log_input(path)`` records it) is hashed again the way
``kiln.tracking.datasets`` hashed it, and compared with the recorded digest:
the file's bytes, or, for a CSV or Parquet file, also the frame pandas reads from
it (a run may have logged the DataFrame it loaded with the file as its source).

Where the file is looked for: a file inside the project's repository is checked
in the fresh checkout of the recorded commit, because that is the file the
reproduction will read (the original path may have moved on, or have been a
temporary clone). The repository is recognized by its recorded ``file://`` URL,
or, for a run made from a temporary clone (``kiln run --version``), by the clone's
layout ``kiln-project-*/repo`` (``kiln.projects.source``'s work folders). A file
elsewhere is checked where it was.

Verdicts: ``same``; ``changed`` and ``missing`` (the reproduction cannot read the
recorded data: refuse); ``unchecked`` (not a local file, a folder, or a file inside
the repository that the checkout does not hold, so the run made it or git ignores it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kiln.entities import Dataset, DatasetInput
from kiln.projects.source import CLONE_FOLDER, CLONE_PREFIX
from kiln.tracking.datasets import dataset_from, frame_digest

Verdict = Literal["same", "changed", "missing", "unchecked"]
_TABLE_SUFFIXES = {".csv": "read_csv", ".parquet": "read_parquet"}


@dataclass(frozen=True, slots=True)
class InputCheck:
    """What became of one recorded dataset input."""

    name: str
    recorded_digest: str
    path: Path | None  # the file checked (None when the source is not a local file)
    current_digest: str | None  # its digest now (None: not computed)
    verdict: Verdict
    note: str

    @property
    def blocks(self) -> bool:
        """True when the reproduction would read other data than the original did."""
        return self.verdict in ("changed", "missing")


def _local_path(dataset: Dataset) -> Path | None:
    if dataset.source_type != "local":
        return None
    try:
        source = json.loads(dataset.source)
    except ValueError:
        return None
    uri = source.get("uri") if isinstance(source, dict) else None
    if not isinstance(uri, str) or not uri:
        return None
    return Path(uri.removeprefix("file://"))


def _inside(path: Path, roots: Sequence[Path]) -> Path | None:
    """``path`` relative to the first of ``roots`` (or a kiln clone) that holds it."""
    for root in roots:
        if path.is_relative_to(root):
            return path.relative_to(root)
    for parent in path.parents:
        if parent.name == CLONE_FOLDER and parent.parent.name.startswith(CLONE_PREFIX):
            return path.relative_to(parent)
    return None


def _frame_digest(path: Path) -> str | None:
    reader = _TABLE_SUFFIXES.get(path.suffix.lower())
    if reader is None:
        return None
    import pandas as pd

    try:
        return frame_digest(getattr(pd, reader)(path))
    except (ValueError, OSError, ImportError):  # unreadable table: the bytes decide
        return None


def check_input(
    item: DatasetInput, *, original_repos: Sequence[Path], checkout: Path | None
) -> InputCheck:
    """Check one input (see the module docstring).

    Args:
        item: the recorded dataset input.
        original_repos: repository folders of the original run whose files the
            reproduction reads from ``checkout`` instead.
        checkout: the repository checked out for the reproduction (None: check
            every file where it was).
    """
    dataset = item.dataset
    recorded = dataset.digest
    path = _local_path(dataset)
    if path is None:
        return InputCheck(
            dataset.name, recorded, None, None, "unchecked", f"source is {dataset.source_type}"
        )
    relative = _inside(path, original_repos) if checkout is not None else None
    if relative is not None and checkout is not None:
        target = checkout / relative
        if not target.exists():
            return InputCheck(
                dataset.name,
                recorded,
                target,
                None,
                "unchecked",
                "inside the project but not in the checkout (made by the run, or ignored by git)",
            )
    else:
        target = path
    if not target.exists():
        return InputCheck(dataset.name, recorded, target, None, "missing", "the file is gone")
    if not target.is_file():
        return InputCheck(dataset.name, recorded, target, None, "unchecked", "not a file")
    current = dataset_from(target).digest
    if current == recorded:
        return InputCheck(dataset.name, recorded, target, current, "same", "")
    if _frame_digest(target) == recorded:
        return InputCheck(dataset.name, recorded, target, recorded, "same", "")
    return InputCheck(dataset.name, recorded, target, current, "changed", "the content differs")


def check_inputs(
    inputs: Sequence[DatasetInput],
    *,
    original_repos: Sequence[Path] = (),
    checkout: Path | None = None,
) -> list[InputCheck]:
    """``check_input`` for each recorded input, in the recorded order."""
    return [check_input(item, original_repos=original_repos, checkout=checkout) for item in inputs]


__all__ = ["InputCheck", "Verdict", "check_input", "check_inputs"]
