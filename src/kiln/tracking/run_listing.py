"""What an experiment's runs table lists: its columns, its order, parents and children.

Pure functions over ``Run`` entities, plus one that asks a ``TrackingStore`` how many
children each parent has, so the web UI's runs page only renders what they return.

A column is named as MLflow's search grammar names the value (``metrics.rmse``,
``params.alpha``, ``tags.team``): the same name is the column picker's value in the
URL, and quoted (``metrics.`my loss```) it is the ``order_by`` key a header sorts on.

Parents and children: a run whose ``mlflow.parentRunId`` tag names another run is
that run's child. With no filter the table lists only top-level runs (the filter
``tags.mlflow.parentRunId IS NULL``, which every backend evaluates), so a sweep of
hundreds of children pages as one row per parent; a filter lists every run it
matches, and a child whose parent is on the same page folds under it. A parent's
count and its expanded rows are its children that match the same filter.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from kiln.entities import Run, ViewType
from kiln.store.protocols.tracking import TrackingStore

PARENT_TAG = "mlflow.parentRunId"
SYSTEM_TAG_PREFIX = "mlflow."
TOP_LEVEL_FILTER = f"tags.{PARENT_TAG} IS NULL"
DEFAULT_COLUMN_CAP = 12  # columns picked when the URL names none
MAX_COLUMNS = 60  # columns a URL may pick
NO_COLUMNS = "-"  # the picker's value for "none of the keys"
CHILD_COUNT_CAP = 50  # children counted per parent; more shows as "50+"

Kind = Literal["metrics", "params", "tags"]
KINDS: tuple[Kind, ...] = ("metrics", "params", "tags")
_BARE_KEY = re.compile(r"[A-Za-z0-9_]+")


def quote_key(key: str) -> str:
    """``key`` as the search grammar reads it: bare, or in backticks (doubled inside)."""
    if _BARE_KEY.fullmatch(key):
        return key
    return "`" + key.replace("`", "``") + "`"


def quote_string(value: str) -> str:
    """A single-quoted string literal of the grammar (a quote inside is doubled)."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True, slots=True)
class Column:
    """A params, metrics or tags column of the runs table."""

    kind: Kind
    key: str

    @property
    def name(self) -> str:
        """The picker's value and the URL's ``cols`` entry."""
        return f"{self.kind}.{self.key}"

    @property
    def order_key(self) -> str:
        """The ``order_by`` key that sorts on this column."""
        return f"{self.kind}.{quote_key(self.key)}"

    def value(self, run: Run) -> str | float | None:
        """The run's value in this column; None: the run has none."""
        data = run.data
        source = data.metrics if self.kind == "metrics" else getattr(data, self.kind)
        value: str | float | None = source.get(self.key)
        return value


def parse_column(text: str) -> Column | None:
    """``metrics.rmse`` -> its Column; None for anything else."""
    kind, dot, key = text.partition(".")
    if not dot or not key or kind not in KINDS:
        return None
    return Column(kind, key)


@dataclass(frozen=True, slots=True)
class KeysSeen:
    """The metric, param and (non-system) tag keys of some runs, each sorted."""

    metrics: tuple[str, ...]
    params: tuple[str, ...]
    tags: tuple[str, ...]

    def columns(self) -> list[Column]:
        """Every key as a column: metrics, then params, then tags."""
        return [Column(kind, key) for kind in KINDS for key in getattr(self, kind)]


def keys_seen(runs: Iterable[Run]) -> KeysSeen:
    """The keys the runs logged (system tags ``mlflow.*`` left out)."""
    metrics: set[str] = set()
    params: set[str] = set()
    tags: set[str] = set()
    for run in runs:
        metrics.update(run.data.metrics)
        params.update(run.data.params)
        tags.update(k for k in run.data.tags if not k.startswith(SYSTEM_TAG_PREFIX))
    return KeysSeen(tuple(sorted(metrics)), tuple(sorted(params)), tuple(sorted(tags)))


def pick_columns(
    asked: Sequence[str], seen: KeysSeen, cap: int = DEFAULT_COLUMN_CAP
) -> list[Column]:
    """The columns a URL asks for, in its order (repeats and bad names dropped; at most
    ``MAX_COLUMNS``); none asked: the page's metric keys, then param keys, up to ``cap``.
    ``NO_COLUMNS`` alone asks for none."""
    wanted = [text for text in asked if text]
    if not wanted:
        return [Column("metrics", k) for k in seen.metrics][:cap] + [
            Column("params", k) for k in seen.params
        ][: max(0, cap - len(seen.metrics))]
    picked: list[Column] = []
    for text in wanted:
        column = parse_column(text)
        if column is not None and column not in picked:
            picked.append(column)
    return picked[:MAX_COLUMNS]


def picker_columns(picked: Sequence[Column], seen: KeysSeen) -> list[Column]:
    """What the column picker offers: the keys seen and the picked columns, grouped by
    kind (metrics, params, tags) and sorted by key."""
    offered = set(seen.columns()) | set(picked)
    return sorted(offered, key=lambda c: (KINDS.index(c.kind), c.key))


def split_order(order: str) -> tuple[str, bool]:
    """``"metrics.rmse DESC"`` -> (``"metrics.rmse"``, False); ascending by default."""
    text = order.strip()
    head, _, last = text.rpartition(" ")
    if head and last.upper() in ("ASC", "DESC"):
        return head.strip(), last.upper() == "ASC"
    return text, True


def toggled_order(current: str, key: str) -> str:
    """The order a click on ``key``'s header asks for: ``key DESC`` first, then
    ``key ASC``, then ``key DESC`` again."""
    now, ascending = split_order(current)
    if now == key and not ascending:
        return f"{key} ASC"
    return f"{key} DESC"


def parent_of(run: Run) -> str | None:
    """The run id the run's ``mlflow.parentRunId`` tag names, if any."""
    return run.data.tags.get(PARENT_TAG) or None


@dataclass(slots=True)
class RunNode:
    """A row of the table: a run and the children of it found on the same page."""

    run: Run
    children: list[Run] = field(default_factory=list)


def nest(runs: Sequence[Run]) -> list[RunNode]:
    """The page's rows: a run whose parent is on the page folds under it (one level,
    the page's order kept); every other run is a row of its own."""
    nodes = {run.info.run_id: RunNode(run) for run in runs}
    rows: list[RunNode] = []
    for run in runs:
        parent = parent_of(run)
        if parent is not None and parent != run.info.run_id and parent in nodes:
            nodes[parent].children.append(run)
        else:
            rows.append(nodes[run.info.run_id])
    return rows


def listing_filter(user_filter: str) -> str | None:
    """The filter the table searches with: the user's, else top-level runs only."""
    text = user_filter.strip()
    return text or TOP_LEVEL_FILTER


def children_filter(parent_id: str, user_filter: str = "") -> str:
    """The children of ``parent_id`` that match the user's filter too."""
    own = f"tags.{PARENT_TAG} = {quote_string(parent_id)}"
    text = user_filter.strip()
    return f"{own} and {text}" if text else own


def count_children(
    store: TrackingStore,
    experiment_id: str,
    parent_ids: Iterable[str],
    user_filter: str = "",
    view: ViewType = ViewType.ACTIVE_ONLY,
    cap: int = CHILD_COUNT_CAP,
) -> dict[str, int]:
    """How many children (matching the filter) each parent has, counted up to ``cap + 1``;
    parents without children are left out. One indexed search per parent."""
    counts: dict[str, int] = {}
    for parent_id in parent_ids:
        found = store.search_runs(
            [experiment_id],
            children_filter(parent_id, user_filter),
            run_view_type=view,
            max_results=cap + 1,
        )
        if found.items:
            counts[parent_id] = len(found.items)
    return counts


__all__ = [
    "CHILD_COUNT_CAP",
    "DEFAULT_COLUMN_CAP",
    "MAX_COLUMNS",
    "NO_COLUMNS",
    "PARENT_TAG",
    "TOP_LEVEL_FILTER",
    "Column",
    "KeysSeen",
    "RunNode",
    "children_filter",
    "count_children",
    "keys_seen",
    "listing_filter",
    "nest",
    "parent_of",
    "parse_column",
    "pick_columns",
    "picker_columns",
    "quote_key",
    "quote_string",
    "split_order",
    "toggled_order",
]
