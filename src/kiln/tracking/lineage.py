"""Data lineage: which runs used which version (name + digest) of a dataset.

Built from what the stores already return: ``search_runs`` gives every run with
its dataset inputs (``run.inputs``), and the ``datasets.name``/``datasets.digest``
filters narrow the search in the store. A *version* of a dataset is its
``(name, digest)`` pair; the same pair logged in two experiments is one version
used by runs of both (the stores keep one ``Dataset`` row per experiment, with the
first copy's source and schema; the first one found is shown).

Versions are ordered by name, then by when a run first used them, so the
versions of one dataset read as its history.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kiln.entities import Dataset, Run, RunStatus, ViewType
from kiln.tracking.client import KilnClient

_PAGE = 1000


@dataclass(frozen=True, slots=True)
class DatasetUse:
    """One run's use of a dataset version."""

    run_id: str
    run_name: str
    experiment_id: str
    status: RunStatus
    start_time: int
    context: str | None


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """A ``(name, digest)`` version of a dataset and the runs that used it, oldest first."""

    dataset: Dataset
    uses: tuple[DatasetUse, ...]

    @property
    def first_used(self) -> int:
        return self.uses[0].start_time

    @property
    def last_used(self) -> int:
        return self.uses[-1].start_time

    @property
    def contexts(self) -> tuple[str, ...]:
        """The distinct contexts the runs gave (``training``, ``eval``, ...), sorted."""
        return tuple(sorted({u.context for u in self.uses if u.context is not None}))


def _quoted(value: str) -> str | None:
    """``value`` as a filter string literal, or None when it holds a quote."""
    return None if "'" in value or '"' in value else f"'{value}'"


def _filter(name: str | None, digest: str | None) -> str:
    clauses = []
    for key, value in (("name", name), ("digest", digest)):
        literal = None if value is None else _quoted(value)
        if literal is not None:
            clauses.append(f"datasets.{key} = {literal}")
    return " AND ".join(clauses)


def _all_experiment_ids(client: KilnClient) -> list[str]:
    ids: list[str] = []
    token: str | None = None
    while True:
        page = client.search_experiments(ViewType.ACTIVE_ONLY, _PAGE, page_token=token)
        ids.extend(e.experiment_id for e in page.items)
        token = page.next_page_token
        if not token or not page.items:
            return ids


def versions_from_runs(
    runs: Iterable[Run], *, name: str | None = None, digest: str | None = None
) -> list[DatasetVersion]:
    """Group the dataset inputs of ``runs`` into versions (optionally of one name/digest)."""
    found: dict[tuple[str, str], tuple[Dataset, list[DatasetUse]]] = {}
    for run in runs:
        info = run.info
        for item in run.inputs.dataset_inputs:
            dataset = item.dataset
            if name is not None and dataset.name != name:
                continue
            if digest is not None and dataset.digest != digest:
                continue
            use = DatasetUse(
                info.run_id,
                info.run_name,
                info.experiment_id,
                info.status,
                info.start_time,
                item.context,
            )
            found.setdefault((dataset.name, dataset.digest), (dataset, []))[1].append(use)
    versions = [
        DatasetVersion(dataset, tuple(sorted(uses, key=lambda u: (u.start_time, u.run_id))))
        for dataset, uses in found.values()
    ]
    return sorted(versions, key=lambda v: (v.dataset.name, v.first_used, v.dataset.digest))


def dataset_versions(
    client: KilnClient,
    experiment_ids: Sequence[str] | None = None,
    *,
    name: str | None = None,
    digest: str | None = None,
) -> list[DatasetVersion]:
    """Every dataset version the active runs of ``experiment_ids`` used, with those runs.

    Args:
        client: the tracking client to search.
        experiment_ids: the experiments to look in; None for every active experiment.
        name: only versions of the dataset with this name.
        digest: only the version with this digest.

    Returns:
        Versions ordered by dataset name, then first use; empty when no run used one.
    """
    ids = list(experiment_ids) if experiment_ids is not None else _all_experiment_ids(client)
    if not ids:
        return []
    runs = client.iter_runs(ids, _filter(name, digest), ViewType.ACTIVE_ONLY)
    return versions_from_runs(runs, name=name, digest=digest)


def source_uri(dataset: Dataset) -> str:
    """Where the data came from: the ``uri`` of its source JSON, else the source type."""
    try:
        parsed = json.loads(dataset.source)
    except ValueError:
        return dataset.source or dataset.source_type
    if isinstance(parsed, dict) and isinstance(parsed.get("uri"), str):
        return str(parsed["uri"])
    return dataset.source_type


def row_count(dataset: Dataset) -> int | None:
    """``num_rows`` of the profile, None when unknown."""
    try:
        profile = json.loads(dataset.profile or "")
    except ValueError:
        return None
    rows = profile.get("num_rows") if isinstance(profile, dict) else None
    return rows if isinstance(rows, int) and not isinstance(rows, bool) else None


def schema_columns(dataset: Dataset) -> list[tuple[str, str]]:
    """``(column, type)`` pairs of MLflow's colspec schema; empty when unknown."""
    try:
        schema = json.loads(dataset.schema or "")
    except ValueError:
        return []
    specs = schema.get("mlflow_colspec") if isinstance(schema, dict) else None
    if not isinstance(specs, list):
        return []
    return [
        (str(spec.get("name", "?")), str(spec.get("type", "?")))
        for spec in specs
        if isinstance(spec, dict)
    ]


__all__ = [
    "DatasetUse",
    "DatasetVersion",
    "dataset_versions",
    "row_count",
    "schema_columns",
    "source_uri",
    "versions_from_runs",
]
