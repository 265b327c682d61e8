"""The runs table's logic: columns, order toggling, nesting, child counts, cell text
(kiln.tracking.run_listing and kiln.server.ui.runs_table)."""

from __future__ import annotations

import math

import pytest

from kiln.entities import Metric, Param, Run, RunData, RunInfo, RunStatus, RunTag, ViewType
from kiln.server.ui.experiment_pages import experiment_filter
from kiln.server.ui.runs_table import (
    RunsQuery,
    duration,
    format_value,
    headers,
    page_size,
    relative_time,
    rows,
)
from kiln.store.memory.tracking import MemoryTrackingStore
from kiln.store.query.runs import parse_order_by
from kiln.tracking.run_listing import (
    Column,
    children_filter,
    count_children,
    keys_seen,
    listing_filter,
    nest,
    parse_column,
    pick_columns,
    picker_columns,
    quote_key,
    toggled_order,
)


def run(run_id: str, parent: str | None = None, **values: float) -> Run:
    tags = [RunTag("mlflow.parentRunId", parent)] if parent else []
    tags.append(RunTag("mlflow.runName", run_id))
    data = RunData(
        [Metric(k, v, 0) for k, v in values.items()],
        [Param("p", run_id)],
        [*tags, RunTag("team", "ml")],
    )
    info = RunInfo(run_id, "1", run_id, "me", RunStatus.FINISHED, 1_000, 3_500, "")
    return Run(info, data)


def test_columns_default_to_metrics_then_params_capped_and_follow_the_url() -> None:
    runs = [run("a", rmse=1.0, mae=2.0), run("b", loss=3.0)]
    seen = keys_seen(runs)
    assert seen.metrics == ("loss", "mae", "rmse")
    assert seen.tags == ("team",)  # mlflow.* system tags left out
    default = pick_columns([], seen)
    assert [c.name for c in default] == ["metrics.loss", "metrics.mae", "metrics.rmse", "params.p"]
    assert [c.name for c in pick_columns([], seen, cap=2)] == ["metrics.loss", "metrics.mae"]
    asked = ["-", "tags.team", "bogus", "metrics.rmse", "tags.team", "metrics."]
    assert [c.name for c in pick_columns(asked, seen)] == ["tags.team", "metrics.rmse"]
    assert pick_columns(["-"], seen) == []
    picker = picker_columns([Column("params", "zeta")], seen)
    assert [c.name for c in picker] == [
        "metrics.loss",
        "metrics.mae",
        "metrics.rmse",
        "params.p",
        "params.zeta",
        "tags.team",
    ]
    assert parse_column("metrics.a.b") == Column("metrics", "a.b")
    assert parse_column("attributes.status") is None


@pytest.mark.parametrize("key", ["rmse", "my loss", "a.b", "we`ird", "ünï"])
def test_a_column_order_key_is_read_back_by_the_grammar(key: str) -> None:
    column = Column("metrics", key)
    (order,) = parse_order_by([f"{column.order_key} DESC"])
    assert order.key == key
    assert not order.ascending
    assert quote_key("rmse") == "rmse"


def test_a_header_click_asks_desc_then_asc() -> None:
    assert toggled_order("", "metrics.rmse") == "metrics.rmse DESC"
    assert toggled_order("metrics.rmse DESC", "metrics.rmse") == "metrics.rmse ASC"
    assert toggled_order("metrics.rmse ASC", "metrics.rmse") == "metrics.rmse DESC"
    assert toggled_order("metrics.rmse", "metrics.rmse") == "metrics.rmse DESC"
    assert toggled_order("params.a DESC", "metrics.rmse") == "metrics.rmse DESC"
    query = RunsQuery("1", order="metrics.rmse DESC", page_token="t")
    (rmse,) = [h for h in headers(query, [Column("metrics", "rmse")]) if h.title == "metrics.rmse"]
    assert rmse.sorted == "desc"
    assert rmse.num
    assert rmse.href == "/experiments/1?order=metrics.rmse+ASC"  # a new order: first page


def test_children_fold_under_a_parent_on_the_page_and_stand_alone_otherwise() -> None:
    runs = [run("c1", "p"), run("p"), run("c2", "p"), run("orphan", "gone"), run("self", "self")]
    nodes = nest(runs)
    assert [n.run.run_id for n in nodes] == ["p", "orphan", "self"]
    assert [c.run_id for c in nodes[0].children] == ["c1", "c2"]
    table = rows(nodes, [Column("metrics", "x")], {"p": 51}, now_ms=10_000)
    assert table[0].child_label == "50+ children"
    folded = rows(nodes, [], {}, now_ms=0)[0]
    assert folded.child_count == 2  # the page's own children count when the store said none
    assert folded.children == []  # folded until expanded
    assert folded.child_label == "2 children"
    assert table[1].child_count == 0
    assert table[1].parent_id == "gone"
    assert listing_filter("  ") == "tags.mlflow.parentRunId IS NULL"
    assert listing_filter("metrics.a > 1") == "metrics.a > 1"
    assert children_filter("it's") == "tags.mlflow.parentRunId = 'it''s'"
    assert (
        children_filter("p", "params.a = '1'") == "tags.mlflow.parentRunId = 'p' and params.a = '1'"
    )


def test_count_children_asks_the_store_per_parent_up_to_the_cap() -> None:
    store = MemoryTrackingStore(workspace="default")
    experiment_id = store.create_experiment("e")
    parent = store.create_run(experiment_id).info.run_id
    lone = store.create_run(experiment_id).info.run_id
    for i in range(4):
        child = store.create_run(experiment_id, tags=[RunTag("mlflow.parentRunId", parent)])
        store.log_param(child.info.run_id, Param("alpha", str(i % 2)))
    assert count_children(store, experiment_id, [parent, lone]) == {parent: 4}
    assert count_children(store, experiment_id, [parent], cap=2) == {parent: 3}
    assert count_children(store, experiment_id, [parent], "params.alpha = '1'") == {parent: 2}
    assert count_children(store, experiment_id, [parent], view=ViewType.DELETED_ONLY) == {}


def test_cell_text() -> None:
    assert format_value(0.123456789).text == "0.123457"
    assert format_value(0.123456789).title == "0.123456789"
    assert format_value(0.123456789).num
    assert format_value(math.nan).text == "nan"
    assert format_value("0.1").num
    assert not format_value("adam").num
    assert format_value("x" * 100).text.endswith("…")
    assert format_value(None).text == ""
    assert relative_time(0, 30_000) == "30 s ago"
    assert relative_time(0, 7_200_000) == "2 h ago"
    assert relative_time(0, 40 * 86_400_000) == "1970-01-01"
    assert relative_time(None, 1) == ""
    assert duration(0, 850) == "850 ms"
    assert duration(0, 90_000) == "1.5 min"
    assert duration(0, None) == ""
    assert page_size("abc") == 50
    assert page_size("0") == 1
    assert page_size("9999") == 500


def test_the_search_box_is_a_name_fragment_unless_it_is_a_filter() -> None:
    assert experiment_filter("") is None
    assert experiment_filter("wine") == "name ILIKE '%wine%'"
    assert experiment_filter("bob's") == "name ILIKE '%bob''s%'"
    assert experiment_filter("name = 'x'") == "name = 'x'"
    assert experiment_filter("tags.team = 'ml'") == "tags.team = 'ml'"
    assert experiment_filter("named things") == "name ILIKE '%named things%'"
