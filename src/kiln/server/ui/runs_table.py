"""The runs table as the template draws it: the URL's view state, headers, rows, cells.

Everything the runs page shows is in its URL (``RunsQuery``): the filter, order,
columns, lifecycle view, page size, page token and expanded parents, so a view is
shared by copying the link and htmx pushes each change as a new URL. The
listing's logic (columns, nesting, child counts) is ``kiln.tracking.run_listing``;
this module only turns its results into text: numbers to a few significant
digits (the full value in the title), times relative to now (the date in the
title), durations, the run's source file.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from kiln.entities import Run, RunStatus, ViewType
from kiln.server.ui.render import page_url
from kiln.tracking.run_listing import (
    CHILD_COUNT_CAP,
    NO_COLUMNS,
    Column,
    RunNode,
    split_order,
    toggled_order,
)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
VIEWS: dict[str, ViewType] = {
    "active": ViewType.ACTIVE_ONLY,
    "deleted": ViewType.DELETED_ONLY,
    "all": ViewType.ALL,
}
SOURCE_TAG = "mlflow.source.name"
USER_TAG = "mlflow.user"


def page_size(text: str) -> int:
    """``?size=``: 1 to ``MAX_PAGE_SIZE``; anything else is the default."""
    try:
        size = int(text.strip())
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return min(max(size, 1), MAX_PAGE_SIZE)


def view_name(text: str) -> str:
    """``?view=``: active, deleted or all (anything else: active)."""
    return text if text in VIEWS else "active"


@dataclass(frozen=True, slots=True)
class RunsQuery:
    """The runs page's state, read from and written back to its URL."""

    experiment_id: str
    filter: str = ""
    order: str = ""
    cols: tuple[str, ...] = ()
    view: str = "active"
    size: int = DEFAULT_PAGE_SIZE
    page_token: str = ""
    expand: tuple[str, ...] = ()

    @property
    def view_type(self) -> ViewType:
        return VIEWS[self.view]

    @property
    def order_by(self) -> list[str]:
        return [self.order] if self.order.strip() else []

    def url(self, path: str | None = None, **changes: Any) -> str:
        """This view's URL with ``changes`` (a filter, order or column change starts
        again at the first page); ``path``: another endpoint with the same state."""
        if any(k in changes for k in ("filter", "order", "cols", "view", "size")):
            changes.setdefault("page_token", "")
        state = replace(self, **changes)
        return page_url(
            path or f"/experiments/{state.experiment_id}",
            filter=state.filter,
            order=state.order,
            cols=list(state.cols),
            view="" if state.view == "active" else state.view,
            size="" if state.size == DEFAULT_PAGE_SIZE else state.size,
            page_token=state.page_token,
            expand=list(state.expand),
        )

    def children_url(self, parent_id: str, cols: Sequence[str]) -> str:
        """The children fragment of ``parent_id`` in this view, with these columns."""
        base = replace(self, cols=tuple(cols), page_token="", expand=())
        url = base.url(f"/experiments/{self.experiment_id}/children")
        return url + ("&" if "?" in url else "?") + urlencode({"parent": parent_id})

    def expand_url(self, parent_id: str) -> str:
        """This view with ``parent_id``'s children shown (the link without htmx)."""
        return self.url(expand=(*[e for e in self.expand if e != parent_id], parent_id))


def read_query(experiment_id: str, get: Any, get_list: Any) -> RunsQuery:
    """The state a request's fields ask for (``Page.field``, ``Page.fields_list``)."""
    return RunsQuery(
        experiment_id=experiment_id,
        filter=get("filter").strip(),
        order=get("order").strip(),
        cols=tuple(c for c in get_list("cols") if c),
        view=view_name(get("view")),
        size=page_size(get("size") or str(DEFAULT_PAGE_SIZE)),
        page_token=get("page_token").strip(),
        expand=tuple(e for e in get_list("expand") if e)[:10],
    )


@dataclass(frozen=True, slots=True)
class Header:
    """A column header: a link that sorts on it (None: not sortable)."""

    label: str
    title: str
    href: str | None
    sorted: str  # "asc", "desc" or ""
    num: bool = False


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    title: str = ""
    num: bool = False


@dataclass(slots=True)
class RunRow:
    """One run as the table shows it; ``children`` are rows folded under it."""

    run_id: str
    name: str
    status: str
    created: str
    created_title: str
    duration: str
    user: str
    source: str
    source_title: str
    deleted: bool
    parent_id: str | None
    cells: list[Cell]
    child_count: int = 0
    children: list[RunRow] = field(default_factory=list)

    @property
    def child_label(self) -> str:
        more = "+" if self.child_count > CHILD_COUNT_CAP else ""
        count = min(self.child_count, CHILD_COUNT_CAP)
        return f"{count}{more} child{'ren' if count != 1 or more else ''}"


ATTRIBUTE_HEADERS: tuple[tuple[str, str | None, bool], ...] = (
    ("Status", "attributes.status", False),
    ("Run name", "attributes.run_name", False),
    ("Created", "attributes.start_time", False),
    ("Duration", None, True),
    ("User", "attributes.user_id", False),
    ("Source", f"tags.`{SOURCE_TAG}`", False),
)


def numeric_columns(table: Sequence[RunRow], count: int) -> set[int]:
    """The picked columns (by index) whose values on the page are all numbers."""
    numeric: set[int] = set()
    for index in range(count):
        cells = [r.cells[index] for r in table if r.cells[index].text]
        if cells and all(cell.num for cell in cells):
            numeric.add(index)
    return numeric


def headers(
    query: RunsQuery, columns: Sequence[Column], numeric: set[int] | None = None
) -> list[Header]:
    """The table's headers, each linking to the order a click asks for; metric
    columns and the ``numeric`` ones are right-aligned like their numbers."""
    current, ascending = split_order(query.order)
    out: list[Header] = []
    wanted: list[tuple[str, str, str | None, bool]] = [
        (label, label, key, num) for label, key, num in ATTRIBUTE_HEADERS
    ]
    wanted += [
        (c.key, c.name, c.order_key, c.kind == "metrics" or i in (numeric or ()))
        for i, c in enumerate(columns)
    ]
    for label, title, key, num in wanted:
        if key is None:
            out.append(Header(label, title, None, "", num))
            continue
        state = ("asc" if ascending else "desc") if key == current else ""
        href = query.url(order=toggled_order(query.order, key))
        out.append(Header(label, title, href, state, num))
    return out


def format_value(value: str | float | None) -> Cell:
    """A param, metric or tag value: numbers right-aligned to 6 significant digits."""
    if value is None:
        return Cell("")
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return Cell(str(value), num=True)
        return Cell(f"{value:.6g}", repr(value), num=True)
    text = str(value)
    try:
        float(text)
    except ValueError:
        return Cell(text if len(text) <= 80 else text[:79] + "…", text)
    return Cell(text, text, num=True)


def relative_time(ms: int | None, now_ms: int) -> str:
    """``ms`` as "12 s ago", "5 min ago", "3 h ago", "2 d ago", else the date."""
    if ms is None:
        return ""
    seconds = max(0, (now_ms - ms) // 1000)
    for limit, unit, div in ((60, "s", 1), (3600, "min", 60), (86400, "h", 3600)):
        if seconds < limit:
            return f"{seconds // div} {unit} ago"
    if seconds < 30 * 86400:
        return f"{seconds // 86400} d ago"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def absolute_time(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(start: int | None, end: int | None) -> str:
    """``end - start`` as "850 ms", "12.3 s", "4.2 min", "1.5 h"; "" while unknown."""
    if start is None or end is None or end < start:
        return ""
    ms = end - start
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    if ms < 3_600_000:
        return f"{ms / 60_000:.1f} min"
    return f"{ms / 3_600_000:.1f} h"


def run_row(run: Run, columns: Sequence[Column], counts: Mapping[str, int], now_ms: int) -> RunRow:
    info, tags = run.info, run.data.tags
    source = tags.get(SOURCE_TAG, "")
    end = info.end_time
    if end is None and info.status is RunStatus.RUNNING:
        end = now_ms
    return RunRow(
        run_id=info.run_id,
        name=info.run_name or info.run_id[:8],
        status=str(info.status),
        created=relative_time(info.start_time, now_ms),
        created_title=absolute_time(info.start_time),
        duration=duration(info.start_time, end),
        user=info.user_id or tags.get(USER_TAG, ""),
        source=source.replace("\\", "/").rsplit("/", 1)[-1],
        source_title=source,
        deleted=str(info.lifecycle_stage) == "deleted",
        parent_id=tags.get("mlflow.parentRunId") or None,
        cells=[format_value(c.value(run)) for c in columns],
        child_count=counts.get(info.run_id, 0),
    )


def rows(
    nodes: Sequence[RunNode],
    columns: Sequence[Column],
    counts: Mapping[str, int],
    now_ms: int | None = None,
) -> list[RunRow]:
    """The rows of the page's nested runs (see ``kiln.tracking.run_listing.nest``): a
    parent's children stay folded (``children`` empty; the page asks the store for
    them when the parent is expanded) and count at least as many as the page held."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    out: list[RunRow] = []
    for node in nodes:
        row = run_row(node.run, columns, counts, now)
        row.child_count = max(row.child_count, len(node.children))
        out.append(row)
    return out


def column_groups(columns: Sequence[Column]) -> list[tuple[str, int]]:
    """The header's group row: each run of same-kind columns as (label, span)."""
    labels = {"metrics": "Metrics", "params": "Params", "tags": "Tags"}
    groups: list[tuple[str, int]] = []
    for column in columns:
        label = labels[column.kind]
        if groups and groups[-1][0] == label:
            groups[-1] = (label, groups[-1][1] + 1)
        else:
            groups.append((label, 1))
    return groups


def cols_field(columns: Sequence[Column]) -> list[str]:
    """The ``cols`` values that keep ``columns`` (``NO_COLUMNS`` for none)."""
    return [c.name for c in columns] or [NO_COLUMNS]


__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "VIEWS",
    "Cell",
    "Header",
    "RunRow",
    "RunsQuery",
    "absolute_time",
    "cols_field",
    "column_groups",
    "duration",
    "format_value",
    "headers",
    "numeric_columns",
    "page_size",
    "read_query",
    "relative_time",
    "rows",
    "run_row",
    "view_name",
]
