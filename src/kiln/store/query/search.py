"""One search sequence for the stores that filter in Python (memory, file, and the
Python half of the SQL experiment and registry searches).

Every such search does the same steps: check ``max_results``, parse the filter and
the order, check the page token, then keep the matching candidates, sort them and
cut one page. ``prepare_*`` does the checks (nothing is read yet, so a bad token
or filter fails before a file store opens a folder); ``PreparedSearch.page`` does
the rest over whatever candidates the backend gathers. ``search_*_in`` do both.
Registry searches also keep their clauses, for the SQL store to push ``name`` and
``run_id`` equality down to its query.

Each ``prepare_*`` raises ``InvalidInput`` for a bad ``max_results``, filter, order
key or page token, with the messages of its grammar's module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

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


@dataclass(frozen=True)
class RegistrySearch(PreparedSearch[T]):
    """A checked registry search, with its clauses for a backend's pushdown."""

    clauses: Sequence[RegistryClause] = ()


@dataclass(frozen=True)
class _Grammar(Generic[T]):
    """How one kind of entity is filtered and ordered (``Any``: the kind's clause types)."""

    parse_filter: Callable[[str | None], Any]
    parse_order: Callable[[Sequence[str]], Any]
    matches: Callable[[T, Any], bool]
    sort: Callable[[Sequence[T], Any], list[T]]


_EXPERIMENTS = _Grammar[Experiment](
    parse_experiment_filter, parse_experiment_order_by, experiment_matches, sort_experiments
)
_RUNS = _Grammar[Run](parse_run_filter, parse_order_by, run_matches, sort_runs)


def _prepare(
    grammar: _Grammar[T],
    filter_string: str | None,
    order_by: Sequence[str],
    max_results: int,
    page_token: str | None,
) -> PreparedSearch[T]:
    limit = validate_max_results(max_results)
    comparisons = grammar.parse_filter(filter_string)
    order = grammar.parse_order(order_by)
    decode_page_token(page_token)
    return PreparedSearch(
        lambda item: grammar.matches(item, comparisons),
        lambda found: grammar.sort(found, order),
        limit,
        page_token,
    )


def _search_in(
    grammar: _Grammar[T],
    candidates: Iterable[T],
    filter_string: str | None,
    order_by: Sequence[str],
    max_results: int,
    page_token: str | None,
) -> Page[T]:
    return _prepare(grammar, filter_string, order_by, max_results, page_token).page(candidates)


# (filter_string, order_by, max_results, page_token) -> PreparedSearch
prepare_experiment_search = partial(_prepare, _EXPERIMENTS)
prepare_run_search = partial(_prepare, _RUNS)
# (candidates, filter_string, order_by, max_results, page_token) -> Page, candidates
# already scoped to workspace, view (and experiments, for runs)
search_experiments_in = partial(_search_in, _EXPERIMENTS)
search_runs_in = partial(_search_in, _RUNS)


def _prepare_registry(
    filter_string: str | None,
    max_results: int,
    order_by: Sequence[str],
    page_token: str | None,
    *,
    for_versions: bool,
) -> RegistrySearch[Any]:
    threshold = (
        SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD
        if for_versions
        else SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD
    )
    limit = check_max_results(max_results, threshold)
    clauses = parse_registry_filter(filter_string, for_versions=for_versions)
    default = DEFAULT_VERSION_ORDER if for_versions else ()
    keys = parse_registry_order_by(order_by or default, for_versions=for_versions)
    decode_page_token(page_token)
    matches: Callable[[Any, Sequence[RegistryClause]], bool] = (
        version_matches if for_versions else model_matches
    )
    return RegistrySearch(
        lambda item: matches(item, clauses),
        lambda found: sort_registry(found, keys),
        limit,
        page_token,
        clauses,
    )


def prepare_registered_model_search(
    filter_string: str | None, max_results: int, order_by: Sequence[str], page_token: str | None
) -> RegistrySearch[RegisteredModel]:
    """A checked registered-model search (MLflow's registry wording and limits)."""
    return _prepare_registry(filter_string, max_results, order_by, page_token, for_versions=False)


def prepare_model_version_search(
    filter_string: str | None, max_results: int, order_by: Sequence[str], page_token: str | None
) -> RegistrySearch[ModelVersion]:
    """A checked model-version search; no order is MLflow's default one."""
    return _prepare_registry(filter_string, max_results, order_by, page_token, for_versions=True)


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
