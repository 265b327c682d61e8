"""The search limits fit both SQL backends: a search at every limit at once is served by
SQLite and PostgreSQL, and one step past any limit is refused before SQL is built.

Without the limits, SQLite failed a run search of 64 metric/param/tag keys ("at most
64 tables in a join"), of 200 order_by keys ("too many FROM clause terms") or of 500
metric clauses ("Expression tree is too large"); PostgreSQL a page offset past int64.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.entities import DEFAULT_EXPERIMENT_ID, Metric, RunTag, ViewType
from kiln.errors import InvalidInput
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.query.limits import (
    MAX_FILTER_CLAUSES,
    MAX_FILTER_KEYS,
    MAX_FILTER_LIST_ITEMS,
    MAX_ORDER_BY_KEYS,
    MAX_PAGE_OFFSET,
)
from kiln.store.query.page_token import encode_page_token
from kiln.store.sql.registry import open_sql_registry_store
from kiln.store.sql.tracking import open_sql_store

pytestmark = [pytest.mark.integration]

RUNS = 30


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kiln.db'}"
    else:
        yield request.getfixturevalue("postgres_db_uri")


@pytest.fixture
def store(db_uri: str) -> TrackingStore:
    """Runs that carry every key the searches below name, and one that lacks them."""
    store = open_sql_store(db_uri, workspace="default")
    for i in range(RUNS):
        run = store.create_run(DEFAULT_EXPERIMENT_ID, start_time=1000 + i)
        metrics = [Metric(f"o{k}", float((i * (k + 1)) % 7), 1, 0) for k in range(16)]
        metrics.append(Metric("m", float(i), 1, 0))
        tags = [RunTag(f"t{k}", "x") for k in range(MAX_FILTER_KEYS)]
        store.log_batch(run.run_id, metrics, [], tags)
    store.create_run(DEFAULT_EXPERIMENT_ID)
    return store


def _value(metric: object) -> float:
    """A latest metric value, whether ``RunData.metrics`` holds values or Metric objects."""
    value = getattr(metric, "value", metric)
    assert isinstance(value, float)
    return value


def _ids(store: TrackingStore) -> list[str]:
    runs = store.search_runs([DEFAULT_EXPERIMENT_ID], "tags.t0 = 'x'", max_results=1000)
    return [run.run_id for run in runs]


def _search(store: TrackingStore, filter_string: str, order_by: list[str]) -> list[str]:
    page = store.search_runs(
        [DEFAULT_EXPERIMENT_ID], filter_string, ViewType.ACTIVE_ONLY, 1000, order_by
    )
    return [run.run_id for run in page]


def _at_the_limits(ids: list[str]) -> tuple[str, list[str]]:
    keys = [f"tags.t{k} = 'x'" for k in range(MAX_FILTER_KEYS - 1)]
    # The same metric again and again: the deepest SQL a clause makes ("NOT is_nan AND value > x").
    filler = [f"metrics.m > -{n + 1}" for n in range(MAX_FILTER_CLAUSES - len(keys) - 1)]
    items = ids + [f"r{n}" for n in range(MAX_FILTER_LIST_ITEMS - len(ids))]
    listed = "attributes.run_id IN (" + ", ".join(f"'{i}'" for i in items) + ")"
    clauses = [*keys, *filler, listed]
    assert len(clauses) == MAX_FILTER_CLAUSES
    order_by = [f"metrics.o{k} DESC" for k in range(MAX_ORDER_BY_KEYS)]
    return " and ".join(clauses), order_by


def test_a_run_search_at_every_limit_is_served(store: TrackingStore) -> None:
    ids = _ids(store)
    assert len(ids) == RUNS
    filter_string, order_by = _at_the_limits(ids)
    started = time.perf_counter()
    found = _search(store, filter_string, order_by)
    elapsed = time.perf_counter() - started
    runs = {run.run_id: run for run in (store.get_run(i) for i in ids)}
    expected = sorted(
        ids,
        key=lambda i: (
            tuple(-_value(runs[i].data.metrics[f"o{k}"]) for k in range(MAX_ORDER_BY_KEYS)),
            -runs[i].info.start_time,
        ),
    )
    assert found == expected
    assert elapsed < 10, f"the search at the limits took {elapsed:.1f} s"


def test_a_page_token_at_the_largest_offset_is_an_empty_page(store: TrackingStore) -> None:
    page = store.search_runs(
        [DEFAULT_EXPERIMENT_ID], page_token=encode_page_token(MAX_PAGE_OFFSET), max_results=50000
    )
    assert list(page) == []
    assert page.next_page_token is None
    with pytest.raises(InvalidInput, match=f"above the limit of {MAX_PAGE_OFFSET}"):
        store.search_runs(
            [DEFAULT_EXPERIMENT_ID], page_token=encode_page_token(MAX_PAGE_OFFSET + 1)
        )


def test_one_past_each_limit_is_refused_with_the_limit_named(store: TrackingStore) -> None:
    ids = _ids(store)
    filter_string, order_by = _at_the_limits(ids)
    keys = " and ".join(f"tags.t{k} = 'x'" for k in range(MAX_FILTER_KEYS + 1))
    with pytest.raises(InvalidInput, match=f"names {MAX_FILTER_KEYS + 1} distinct .* limit is"):
        _search(store, keys, [])
    with pytest.raises(InvalidInput, match=f"the limit is {MAX_FILTER_CLAUSES} clauses"):
        _search(store, filter_string + " and metrics.m > -1000", [])
    with pytest.raises(InvalidInput, match=f"the limit is {MAX_FILTER_LIST_ITEMS} in all"):
        _search(store, filter_string.replace("IN (", "IN ('one more', "), [])
    with pytest.raises(InvalidInput, match=f"the limit is {MAX_ORDER_BY_KEYS} keys"):
        _search(store, "", [*order_by, "metrics.m"])


def test_registry_searches_at_the_limits_are_served(db_uri: str) -> None:
    registry = open_sql_registry_store(db_uri, workspace="default")
    registry.create_registered_model("model")
    keys = [f"tags.t{k} != 'y'" for k in range(MAX_FILTER_KEYS)]
    names = ", ".join(["'model'"] + [f"'n{n}'" for n in range(MAX_FILTER_LIST_ITEMS - 1)])
    filler = [f"name != 'z{n}'" for n in range(MAX_FILTER_CLAUSES - len(keys) - 1)]
    filter_string = " and ".join([*keys, *filler, f"name IN ({names})"])
    found = registry.search_registered_models(
        filter_string, page_token=encode_page_token(0), max_results=10
    )
    assert [m.name for m in found] == []  # a tag clause on a missing tag is false
    found = registry.search_registered_models(" and ".join([*filler, f"name IN ({names})"]))
    assert [m.name for m in found] == ["model"]
    with pytest.raises(InvalidInput, match=f"the limit is {MAX_FILTER_CLAUSES} clauses"):
        registry.search_registered_models(filter_string + " and name != 'q'")
    page = registry.search_model_versions(None, page_token=encode_page_token(MAX_PAGE_OFFSET))
    assert list(page) == []
