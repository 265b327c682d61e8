"""On PostgreSQL, tag-value and run-name searches can use their indexes (migration 0005).

A tiny table is read faster sequentially, so the plan is taken with sequential
scans disabled and the experiment-scope index dropped (in a transaction rolled
back): the question is whether the SQL the search builds *can* use the index
(the expression and operator class must match), not what the planner prefers at
this size.
"""

from __future__ import annotations

import pytest

from kiln.entities import DEFAULT_EXPERIMENT_ID, RunTag, ViewType
from kiln.store.query.runs import parse_order_by, parse_run_filter
from kiln.store.sql import filters
from kiln.store.sql.tracking import open_sql_store

pytestmark = [pytest.mark.postgres, pytest.mark.integration]


@pytest.mark.parametrize(
    ("filter_string", "index", "found"),
    [
        ("tags.`mlflow.runName` = 'run-12'", "ix_tags_key_value_prefix", {"run-12"}),
        ("tags.`mlflow.runName` LIKE 'run-1%'", "ix_tags_key_value_prefix", None),
        ("attributes.run_name = 'run-12'", "ix_runs_name_pattern", {"run-12"}),
        ("attributes.run_name LIKE 'run-1%'", "ix_runs_name_pattern", None),
    ],
)
def test_the_search_sql_can_use_the_tag_and_run_name_indexes(
    postgres_db_uri: str, filter_string: str, index: str, found: set[str] | None
) -> None:
    store = open_sql_store(postgres_db_uri, workspace="default")
    for i in range(30):
        run = store.create_run(DEFAULT_EXPERIMENT_ID, run_name=f"run-{i}")
        store.set_tag(run.info.run_id, RunTag("other", "x" * 300))  # past the indexed prefix
    names = {r.info.run_name for r in store.search_runs([DEFAULT_EXPERIMENT_ID], filter_string)}
    assert names == (found or {f"run-{i}" for i in [1, *range(10, 20)]})
    comparisons = parse_run_filter(filter_string)
    with store.engine.connect() as conn:
        transaction = conn.begin()
        prepared = filters._prepared(
            conn, "default", [0], ViewType.ACTIVE_ONLY, comparisons, parse_order_by([])
        )
        values = filters._values("postgresql", "default", [0], comparisons)
        cursor = conn.connection.cursor()
        cursor.execute("SET LOCAL enable_seqscan = off")
        # The experiment-scope index wins on a tiny table; without it (rolled back
        # below) the plan shows whether the filter's own index is usable at all.
        cursor.execute("DROP INDEX ix_runs_search")
        cursor.execute(
            "EXPLAIN " + prepared.sql,
            prepared.parameters({**values, "kiln_limit": 101, "kiln_offset": 0}),
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.rollback()
    assert index in plan, plan
