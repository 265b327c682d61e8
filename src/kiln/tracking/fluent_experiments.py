"""MLflow's fluent experiment functions: ``kiln.create_experiment``, ``kiln.get_experiment``, ...

They go to the fluent API's store (``kiln.set_tracking_uri``); the experiment-tag
functions tag the active experiment (``kiln.set_experiment``, else the one the
environment names, else the default), as MLflow's do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kiln.entities import Experiment, ViewType
from kiln.errors import InvalidInput
from kiln.store.protocols.tracking import SEARCH_MAX_RESULTS_DEFAULT
from kiln.tracking import fluent


def create_experiment(
    name: str,
    artifact_location: str | None = None,
    tags: Mapping[str, Any] | None = None,
    trace_location: Any = None,
) -> str:
    """Create an experiment and return its id (it does not become the active one).

    Raises:
        AlreadyExists: an experiment (maybe deleted) has that name.
        InvalidInput: a ``trace_location`` (Databricks Unity Catalog) was given.
    """
    if trace_location is not None:
        raise InvalidInput("trace_location (Databricks Unity Catalog) is not supported by Kiln")
    return fluent._client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    """Raises NotFound."""
    return fluent._client().get_experiment(str(experiment_id))


def search_experiments(
    view_type: ViewType | str | int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[Experiment]:
    """Every matching experiment (up to ``max_results``), fetching pages as needed.

    Raises:
        InvalidInput: a bad filter or order clause.
    """
    client = fluent._client()
    found: list[Experiment] = []
    token: str | None = None
    while max_results is None or len(found) < max_results:
        size = SEARCH_MAX_RESULTS_DEFAULT
        if max_results is not None:
            size = min(size, max_results - len(found))
        page = client.search_experiments(view_type, size, filter_string, order_by, token)
        found.extend(page.items)
        token = page.next_page_token
        if not token or not page.items:
            break
    return found


def set_experiment_tag(key: str, value: Any) -> None:
    """Tag the active experiment."""
    client = fluent._client()
    client.set_experiment_tag(fluent._active_experiment_id(client), key, value)


def set_experiment_tags(tags: Mapping[str, Any]) -> None:
    """Tag the active experiment with each of ``tags``."""
    client = fluent._client()
    experiment_id = fluent._active_experiment_id(client)
    for key, value in tags.items():
        client.set_experiment_tag(experiment_id, str(key), value)


def delete_experiment_tag(key: str) -> None:
    """Delete a tag of the active experiment."""
    client = fluent._client()
    client.store.delete_experiment_tag(fluent._active_experiment_id(client), key)


def restore_experiment(experiment_id: str) -> None:
    """Bring a deleted experiment (and the runs deleted with it) back to the active stage."""
    fluent._client().restore_experiment(str(experiment_id))


def delete_experiment(experiment_id: str) -> None:
    """Move an experiment and its runs to the deleted stage (restorable)."""
    fluent._client().delete_experiment(str(experiment_id))


__all__ = [
    "create_experiment",
    "delete_experiment",
    "delete_experiment_tag",
    "get_experiment",
    "restore_experiment",
    "search_experiments",
    "set_experiment_tag",
    "set_experiment_tags",
]
