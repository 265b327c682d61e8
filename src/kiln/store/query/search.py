"""One search sequence for the stores that filter in Python (memory, file).

Every such search does the same steps: check ``max_results``, parse the filter and
the order, check the page token, then keep the matching candidates, sort them and
cut one page. ``prepare_*`` does the checks (nothing is read yet, so a bad token
or filter fails before a file store opens a folder); ``PreparedSearch.page`` does
the rest over whatever candidates the backend gathers. ``search_*_in`` do both.
Registry searches also keep their clauses, for the SQL store to push ``name`` and
``run_id`` equality down to its query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from kiln.entities import Experiment, ModelVersion, Page, RegisteredModel, Run
from kiln.store.query.experiments import (
    experiment_matches,
    parse_experiment_filter,
    parse_experiment_order_by,
    sort_experiments,
)
from kiln.store.query.page_token import decode_page_token, paginate
from kiln.store.query.registry import (
    DEFAULT_VERSION_ORDER,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
    RegistryClause,
    check_max_results,
    model_matches,
    parse_registry_filter,
    parse_registry_order_by,
    sort_registry,
    version_matches,
)
from kiln.store.query.runs import (
    parse_order_by,
    parse_run_filter,
    run_matches,
    sort_runs,
    validate_max_results,
)

T = TypeVar("T")


@dataclass(frozen=True)
class PreparedSearch(Generic[T]):
    """A checked search, ready to run over candidates."""

    matches: Callable[[T], bool]
    sort: Callable[[list[T]], list[T]]
    max_results: int
    page_token: str | None

    def page(self, candidates: Iterable[T]) -> Page[T]:
        """Filter, sort and page ``candidates`` (already scoped by the backend)."""
        matching = [c for c in candidates if self.matches(c)]
        items, token = paginate(self.sort(matching), self.page_token, self.max_results)
        return Page(items, token)


def prepare_experiment_search(
    filter_string: str | None,
    order_by: Sequence[str],
    max_results: int,
    page_token: str | None,
) -> PreparedSearch[Experiment]:
    """Check an experiment search's arguments.

    Raises:
        InvalidInput: a bad ``max_results``, filter, order key or token.
    """
    limit = validate_max_results(max_results)
    comparisons = parse_experiment_filter(filter_string)
    order = parse_experiment_order_by(order_by)
    decode_page_token(page_token)
    return PreparedSearch(
        lambda e: experiment_matches(e, comparisons),
        lambda found: sort_experiments(found, order),
        limit,
        page_token,
    )


def prepare_run_search(
    filter_string: str | None,
    order_by: Sequence[str],
    max_results: int,
    page_token: str | None,
) -> PreparedSearch[Run]:
    """Check a run search's arguments.

    Raises:
        InvalidInput: a bad ``max_results``, filter, order key or token.
    """
    limit = validate_max_results(max_results)
    comparisons = parse_run_filter(filter_string)
    order = parse_order_by(order_by)
    decode_page_token(page_token)
    return PreparedSearch(
        lambda r: run_matches(r, comparisons),
        lambda found: sort_runs(found, order),
        limit,
        page_token,
    )


@dataclass(frozen=True)
class RegistrySearch(PreparedSearch[T]):
    """A checked registry search, with its clauses for a backend's pushdown."""

    clauses: Sequence[RegistryClause] = ()


def prepare_registered_model_search(
    filter_string: str | None,
    max_results: int,
    order_by: Sequence[str],
    page_token: str | None,
) -> RegistrySearch[RegisteredModel]:
    """Check a registered-model search's arguments (MLflow's registry wording).

    Raises:
        InvalidInput: a bad ``max_results``, filter, order key or token.
    """
    limit = check_max_results(max_results, SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD)
    clauses = parse_registry_filter(filter_string, for_versions=False)
    keys = parse_registry_order_by(order_by, for_versions=False)
    decode_page_token(page_token)
    return RegistrySearch(
        lambda m: model_matches(m, clauses),
        lambda found: sort_registry(found, keys),
        limit,
        page_token,
        clauses,
    )


def prepare_model_version_search(
    filter_string: str | None,
    max_results: int,
    order_by: Sequence[str],
    page_token: str | None,
) -> RegistrySearch[ModelVersion]:
    """Check a model-version search's arguments; no order is MLflow's default one.

    Raises:
        InvalidInput: a bad ``max_results``, filter, order key or token.
    """
    limit = check_max_results(max_results, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD)
    clauses = parse_registry_filter(filter_string, for_versions=True)
    keys = parse_registry_order_by(order_by or DEFAULT_VERSION_ORDER, for_versions=True)
    decode_page_token(page_token)
    return RegistrySearch(
        lambda v: version_matches(v, clauses),
        lambda found: sort_registry(found, keys),
        limit,
        page_token,
        clauses,
    )


def search_experiments_in(
    experiments: Iterable[Experiment],
    filter_string: str | None,
    order_by: Sequence[str],
    max_results: int,
    page_token: str | None,
) -> Page[Experiment]:
    """One page of ``experiments`` (already scoped to workspace and view)."""
    return prepare_experiment_search(filter_string, order_by, max_results, page_token).page(
        experiments
    )


def search_runs_in(
    runs: Iterable[Run],
    filter_string: str | None,
    order_by: Sequence[str],
    max_results: int,
    page_token: str | None,
) -> Page[Run]:
    """One page of ``runs`` (already scoped to workspace, experiments and view)."""
    return prepare_run_search(filter_string, order_by, max_results, page_token).page(runs)


__all__ = [
    "PreparedSearch",
    "RegistrySearch",
    "prepare_experiment_search",
    "prepare_model_version_search",
    "prepare_registered_model_search",
    "prepare_run_search",
    "search_experiments_in",
    "search_runs_in",
]
