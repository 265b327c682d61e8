"""``/experiments/{id}``: an experiment's runs table, its children rows, delete/restore.

One page of runs per request (``search_runs`` with the page size and token, never
every row), every view choice in the URL (``runs_table.RunsQuery``). An htmx
request aimed at ``#runs-table`` (filter, sort, page, column changes) gets only
the table; the same URL loaded directly is the whole page. A filter, order or
page token the store refuses (``InvalidInput``) is shown above the table with the
filter kept in its box: 400 for a page, 200 for htmx (which swaps only 2xx).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.responses import Response

from kiln.entities import Page as RunPage
from kiln.entities import Run
from kiln.errors import InvalidInput
from kiln.server.policy import DELETE, READ
from kiln.server.ui.core import Page, UiRoute, ui_route
from kiln.server.ui.runs_table import (
    RunRow,
    RunsQuery,
    cols_field,
    column_groups,
    headers,
    numeric_columns,
    read_query,
    rows,
)
from kiln.tracking.run_listing import (
    Column,
    children_filter,
    count_children,
    keys_seen,
    listing_filter,
    nest,
    pick_columns,
    picker_columns,
)

TABLE_TARGET = "runs-table"
MAX_SELECTED = 1000  # runs one delete/restore form may name


def _query(page: Page, experiment_id: str) -> RunsQuery:
    return read_query(experiment_id, page.field, page.fields_list)


def _wants_table(page: Page) -> bool:
    headers = page.request.headers
    return (
        page.htmx
        and headers.get("hx-target") == TABLE_TARGET
        and headers.get("hx-history-restore-request") != "true"
    )


def _children(page: Page, query: RunsQuery, parent_id: str) -> RunPage[Run]:
    return page.stores.tracking.search_runs(
        [query.experiment_id],
        children_filter(parent_id, query.filter),
        run_view_type=query.view_type,
        max_results=query.size,
        order_by=query.order_by,
    )


def _first_page(page: Page, query: RunsQuery) -> Sequence[Run]:
    """The view's first page unfiltered: the default columns a refused filter, order or
    token keeps (its own answer is empty, and the table would lose its columns)."""
    return page.stores.tracking.search_runs(
        [query.experiment_id],
        listing_filter(""),
        run_view_type=query.view_type,
        max_results=query.size,
    ).items


def _child_rows(
    page: Page, query: RunsQuery, parent_id: str, columns: Sequence[Column]
) -> tuple[list[RunRow], bool]:
    """The first page of a parent's children, and whether it has more."""
    found = _children(page, query, parent_id)
    nodes = nest(found.items)
    return rows(nodes, columns, {}), found.next_page_token is not None


def runs_page(page: Page) -> Response:
    store = page.stores.tracking
    experiment = store.get_experiment(page.field("experiment_id"))
    query = _query(page, experiment.experiment_id)
    error = ""
    try:
        found = store.search_runs(
            [experiment.experiment_id],
            listing_filter(query.filter),
            run_view_type=query.view_type,
            max_results=query.size,
            order_by=query.order_by,
            page_token=query.page_token or None,
        )
    except InvalidInput as exc:
        error, found = str(exc), RunPage([], None)
    seen = keys_seen(_first_page(page, query) if error else found.items)
    columns = pick_columns(query.cols, seen)
    nodes = nest(found.items)
    counts = count_children(
        store,
        experiment.experiment_id,
        [node.run.info.run_id for node in nodes],
        query.filter,
        query.view_type,
    )
    table_rows = rows(nodes, columns, counts)
    more_links: dict[str, str] = {}
    for row in table_rows:
        if row.run_id in query.expand and row.child_count:
            row.children, more = _child_rows(page, query, row.run_id, columns)
            if more:
                more_links[row.run_id] = _all_children_url(query, row.run_id)
    values: dict[str, Any] = {
        "experiment": experiment,
        "query": query,
        "error": error,
        "columns": columns,
        "cols_value": cols_field(columns),
        "seen": seen,
        "headers": headers(query, columns, numeric_columns(table_rows, len(columns))),
        "groups": column_groups(columns),
        "rows": table_rows,
        "more_links": more_links,
        "picker": picker_columns(columns, seen),
        "next_token": found.next_page_token,
        "host": str(page.request.base_url).rstrip("/"),
    }
    if _wants_table(page):
        return page.render("_runs_table.html", **values)
    return page.render("runs.html", status=400 if error else 200, **values)


def children_rows(page: Page) -> Response:
    """``/experiments/{id}/children?parent=``: a parent's children as table rows."""
    store = page.stores.tracking
    experiment = store.get_experiment(page.field("experiment_id"))
    query = _query(page, experiment.experiment_id)
    parent_id = page.field("parent").strip()
    if not parent_id:
        raise InvalidInput("name the parent run: ?parent=<run id>")
    try:
        found = _children(page, query, parent_id)
    except InvalidInput as exc:
        return page.render("_error_inline.html", message=str(exc), status=400)
    columns = pick_columns(query.cols, keys_seen(found.items))
    return page.render(
        "_runs_children.html",
        experiment=experiment,
        query=query,
        parent_id=parent_id,
        columns=columns,
        children=rows(nest(found.items), columns, {}),
        more=found.next_page_token is not None,
        more_href=_all_children_url(query, parent_id),
    )


def _all_children_url(query: RunsQuery, parent_id: str) -> str:
    """The table of every child of ``parent_id`` (a filter on its tag)."""
    return query.url(filter=children_filter(parent_id, query.filter), expand=())


def _selected(page: Page, experiment_id: str) -> list[str]:
    """The selected run ids, each checked to be a run of this experiment."""
    run_ids = list(dict.fromkeys(r.strip() for r in page.fields_list("run") if r.strip()))
    if not run_ids:
        raise InvalidInput("select at least one run")
    if len(run_ids) > MAX_SELECTED:
        raise InvalidInput(f"select at most {MAX_SELECTED} runs at a time")
    for run_id in run_ids:
        run = page.stores.tracking.get_run(run_id)
        if run.info.experiment_id != experiment_id:
            raise InvalidInput(f"run {run_id} is not in experiment {experiment_id}")
    return run_ids


def _back(page: Page, experiment_id: str) -> str:
    """Where a form returns: its ``back`` field when it is this experiment's page."""
    back = page.field("back")
    home = f"/experiments/{experiment_id}"
    if back == home or back.startswith(home + "?"):
        return back
    return home


def delete_runs(page: Page) -> Response:
    experiment_id = page.stores.tracking.get_experiment(page.field("experiment_id")).experiment_id
    for run_id in _selected(page, experiment_id):
        page.stores.tracking.delete_run(run_id)
    return page.redirect(_back(page, experiment_id))


def restore_runs(page: Page) -> Response:
    experiment_id = page.stores.tracking.get_experiment(page.field("experiment_id")).experiment_id
    for run_id in _selected(page, experiment_id):
        page.stores.tracking.restore_run(run_id)
    return page.redirect(_back(page, experiment_id))


# the API's policies: reading runs is READ, deleting and restoring a run is DELETE
ROUTES: list[UiRoute] = [
    ui_route("/experiments/{experiment_id}", runs_page, policy=READ, name="ui-runs"),
    ui_route(
        "/experiments/{experiment_id}/children",
        children_rows,
        policy=READ,
        name="ui-run-children",
    ),
    ui_route(
        "/experiments/{experiment_id}/runs/delete",
        delete_runs,
        policy=DELETE,
        methods=("POST",),
        name="ui-runs-delete",
    ),
    ui_route(
        "/experiments/{experiment_id}/runs/restore",
        restore_runs,
        policy=DELETE,
        methods=("POST",),
        name="ui-runs-restore",
    ),
]

__all__ = ["ROUTES"]
