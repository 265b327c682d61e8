"""MLflow's search grammar: filter strings, order_by clauses and page tokens.

One parser for every backend, so that a filter means the same thing whichever store
answers it. The memory and file stores evaluate the parsed clauses in Python with
``run_matches`` / ``sort_runs``; the SQL store translates the same ``Comparison`` and
``OrderKey`` values into SQL and must reproduce the semantics written down here.

Run filters (clauses joined by ``AND``; ``OR`` and parentheses are rejected)::

    metrics.<key>  <op> <number>      op: = != < > <= >=
    params.<key>   <op> '<string>'    op: = != LIKE ILIKE, or IS [NOT] NULL (no value)
    tags.<key>     <op> '<string>'    op: = != LIKE ILIKE, or IS [NOT] NULL (no value)
    attributes.<k> <op> '<string>'    k: run_id run_name status user_id artifact_uri
                                      op: = != LIKE ILIKE; IN / NOT IN ('a', 'b') for run_id
    attributes.<k> <op> <number>      k: start_time end_time; op: = != < > <= >=
    datasets.<k>   <op> '<string>'    k: name digest context; op: = != LIKE ILIKE IN NOT IN

Entity prefixes take MLflow's spellings (``metric``/``metrics``, ``param``/``params``/
``parameter``/``parameters``, ``tag``/``tags``, ``attribute``/``attributes``/``attr``/
``run``, ``dataset``/``datasets``); a key without prefix is an attribute. Keys with
spaces or dots are quoted with backticks or double quotes (``metrics."my loss"``);
``tags.mlflow.runName`` also works unquoted. The aliases ``created``/``Created`` mean
``start_time`` and ``run name``/``Run name``/``Run Name`` mean ``run_name``. Strings
take single or double quotes; a doubled quote inside is one quote character. Keywords
are case-insensitive; entity prefixes and keys are case-sensitive.

Evaluation (every backend must agree):

* A clause on a metric, param, tag or attribute the run does not have is false,
  whatever the operator (``!=`` included); only ``IS NULL`` matches absence.
* Metric clauses compare the latest value (``RunData.metrics``) as IEEE floats: a NaN
  value satisfies only ``!=``.
* ``LIKE`` is case-sensitive, ``ILIKE`` is not; ``%`` is any run of characters, ``_``
  exactly one; there is no escape character (a backslash is a literal backslash).
  ``=`` and ``!=`` on strings are case-sensitive.
* A dataset clause matches when some dataset input of the run satisfies it (as
  MLflow): ``name`` and ``digest`` compare the dataset's, ``context`` the input's
  ``mlflow.data.context`` tag (an input without that tag never matches). A run
  without dataset inputs matches no dataset clause, ``!=`` included.

Ordering (``order_by`` entries ``"<key> [ASC|DESC]"``, ASC by default): values sort in
the asked direction, but runs lacking the key always come last, and for metrics a NaN
comes after every number and before missing values, in both directions. Ties are
broken by ``start_time DESC`` (unless start_time was ordered on) and then
``run_id ASC``, so every order is total (see ``run_order_with_tiebreakers``).

Clauses are read by ``kiln.store.query.grammar.Scanner``; experiments are searched
in ``kiln.store.query.experiments`` with the same ``Comparison`` and ``OrderKey``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from kiln.entities import Run
from kiln.errors import InvalidInput
from kiln.store.query.clauses import check_op, check_value, parse_filter, split_key
from kiln.store.query.compare import compare
from kiln.store.query.grammar import LIST_OPS, NULL_OPS, NUMERIC_OPS, STRING_OPS, RawClause, Value
from kiln.store.query.limits import check_order_by_count
from kiln.store.query.ordering import sort_by, split_order

ComparisonKind = Literal["metric", "param", "tag", "attribute", "dataset"]
OrderKind = Literal["metric", "param", "tag", "attribute"]

MAX_RESULTS_THRESHOLD = 50000

RUN_STRING_ATTRIBUTES = frozenset({"run_id", "run_name", "status", "user_id", "artifact_uri"})
RUN_NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time"})
RUN_LIST_ATTRIBUTES = frozenset({"run_id"})
DATASET_KEYS = frozenset({"name", "digest", "context"})

_ATTRIBUTE_ALIASES = {
    "created": "start_time",
    "Created": "start_time",
    "run name": "run_name",
    "Run name": "run_name",
    "Run Name": "run_name",
}
PREFIXES: dict[str, ComparisonKind] = {
    "metric": "metric",
    "metrics": "metric",
    "param": "param",
    "params": "param",
    "parameter": "param",
    "parameters": "param",
    "tag": "tag",
    "tags": "tag",
    "attribute": "attribute",
    "attributes": "attribute",
    "attr": "attribute",
    "run": "attribute",
    "dataset": "dataset",
    "datasets": "dataset",
}


@dataclass(frozen=True, slots=True)
class Comparison:
    """One clause of a filter: ``<kind>.<key> <op> <value>``.

    ``op`` is upper case. ``value`` is a float for metrics and numeric attributes, a
    tuple of strings for ``IN``/``NOT IN``, None for ``IS [NOT] NULL``, else a string.
    Attribute keys are normalised (aliases resolved).
    """

    kind: ComparisonKind
    key: str
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One ``order_by`` entry, parsed."""

    kind: OrderKind
    key: str
    ascending: bool


def _run_comparison(raw: RawClause) -> Comparison:
    kind, key = split_key(raw.parts, raw.source, PREFIXES, default="attribute")
    op = raw.op
    if kind == "metric":
        check_op(op, NUMERIC_OPS, f"metric {key!r}", raw.source)
        check_value(raw, "number", f"metric {key!r}")
    elif kind in ("param", "tag"):
        check_op(op, STRING_OPS | NULL_OPS, f"{kind} {key!r}", raw.source)
        check_value(raw, "string", f"{kind} {key!r}")
    elif kind == "dataset":
        if key not in DATASET_KEYS:
            raise InvalidInput(
                f"invalid dataset key {key!r} in {raw.source!r}: use name, digest or context"
            )
        check_op(op, STRING_OPS | LIST_OPS, f"dataset {key!r}", raw.source)
        check_value(raw, "string", f"dataset {key!r}")
    else:
        key = _ATTRIBUTE_ALIASES.get(key, key)
        if key in RUN_NUMERIC_ATTRIBUTES:
            check_op(op, NUMERIC_OPS, f"attribute {key!r}", raw.source)
            check_value(raw, "number", f"attribute {key!r}")
        elif key in RUN_STRING_ATTRIBUTES:
            allowed = STRING_OPS | (LIST_OPS if key in RUN_LIST_ATTRIBUTES else frozenset())
            check_op(op, allowed, f"attribute {key!r}", raw.source)
            check_value(raw, "string", f"attribute {key!r}")
        else:
            valid = ", ".join(sorted(RUN_STRING_ATTRIBUTES | RUN_NUMERIC_ATTRIBUTES))
            raise InvalidInput(
                f"invalid attribute {key!r} in {raw.source!r}: searchable attributes are {valid}"
            )
    return Comparison(kind, key, op, raw.value)


def parse_run_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a run filter into AND-ed comparisons; None or "" means no filter.

    Raises:
        InvalidInput: the text does not parse, or names an unknown key, a comparator
            the key's kind does not allow, or a value of the wrong type.
    """
    if not isinstance(filter_string, str) or not filter_string:
        return parse_filter(filter_string, _run_comparison)
    return list(_parse_run_filter(filter_string))


@functools.lru_cache(maxsize=512)
def _parse_run_filter(filter_string: str) -> tuple[Comparison, ...]:
    """Cached parse (comparisons are frozen and their values immutable)."""
    return tuple(parse_filter(filter_string, _run_comparison))


def _run_value(run: Run, kind: str, key: str) -> str | float | None:
    if kind == "metric":
        return run.data.metrics.get(key)
    if kind == "param":
        return run.data.params.get(key)
    if kind == "tag":
        return run.data.tags.get(key)
    value = getattr(run.info, key)
    if value is None or isinstance(value, str):
        return value
    assert isinstance(value, int | float)
    return value


def _dataset_matches(run: Run, comparison: Comparison) -> bool:
    for item in run.inputs.dataset_inputs:
        if comparison.key == "context":
            lhs: str | None = item.context
        else:
            lhs = getattr(item.dataset, comparison.key)
        if lhs is not None and compare(lhs, comparison.op, comparison.value):
            return True
    return False


def run_matches(run: Run, comparisons: Sequence[Comparison]) -> bool:
    """Whether a run satisfies every comparison (see the module docstring)."""
    for comparison in comparisons:
        if comparison.kind == "dataset":
            if not _dataset_matches(run, comparison):
                return False
            continue
        lhs = _run_value(run, comparison.kind, comparison.key)
        if not compare(lhs, comparison.op, comparison.value):
            return False
    return True


def parse_order_by(order_by: Sequence[str]) -> list[OrderKey]:
    """Parse run ``order_by`` entries such as ``"metrics.loss DESC"``.

    Raises:
        InvalidInput: an entry does not parse, names an unknown attribute or a dataset,
            or the same key appears twice.
    """
    if isinstance(order_by, str):
        raise InvalidInput("order_by must be a list of strings, not one string")
    clauses = tuple(order_by)
    check_order_by_count(len(clauses))
    if not all(isinstance(clause, str) for clause in clauses):
        return list(_parse_order_by.__wrapped__(clauses))  # raises, as uncached
    return list(_parse_order_by(clauses))


@functools.lru_cache(maxsize=512)
def _parse_order_by(order_by: tuple[object, ...]) -> tuple[OrderKey, ...]:
    """Cached body of ``parse_order_by`` (order keys are frozen)."""
    out: list[OrderKey] = []
    seen: set[tuple[str, str]] = set()
    for clause in order_by:
        parts, ascending = split_order(clause)
        kind, key = split_key(parts, str(clause), PREFIXES, default="attribute")
        if kind == "dataset":
            raise InvalidInput(f"cannot order runs by dataset fields ({clause!r})")
        if kind == "attribute":
            key = _ATTRIBUTE_ALIASES.get(key, key)
            if key not in RUN_STRING_ATTRIBUTES | RUN_NUMERIC_ATTRIBUTES:
                valid = ", ".join(sorted(RUN_STRING_ATTRIBUTES | RUN_NUMERIC_ATTRIBUTES))
                raise InvalidInput(
                    f"invalid order_by attribute {key!r}: orderable attributes are {valid}"
                )
        if (kind, key) in seen:
            raise InvalidInput(f"order_by names {kind} {key!r} twice")
        seen.add((kind, key))
        out.append(OrderKey(kind, key, ascending))
    return tuple(out)


def run_order_with_tiebreakers(order: Sequence[OrderKey]) -> list[OrderKey]:
    """The full, total order: ``order`` + ``start_time DESC`` (if absent) + ``run_id ASC``."""
    full = list(order)
    keys = {(o.kind, o.key) for o in full}
    if ("attribute", "start_time") not in keys:
        full.append(OrderKey("attribute", "start_time", ascending=False))
    if ("attribute", "run_id") not in keys:
        full.append(OrderKey("attribute", "run_id", ascending=True))
    return full


def _run_sort_value(run: Run, key: OrderKey) -> str | float | None:
    return _run_value(run, key.kind, key.key)


def sort_runs(runs: Sequence[Run], order: Sequence[OrderKey]) -> list[Run]:
    """Sort runs by ``order`` plus MLflow's tiebreakers (see the module docstring)."""
    keys = [
        (functools.partial(_run_sort_value, key=key), key.ascending)
        for key in run_order_with_tiebreakers(order)
    ]
    return sort_by(runs, keys)


def validate_max_results(max_results: object) -> int:
    """Check ``max_results``: an int from 1 to 50000, as in MLflow.

    Raises:
        InvalidInput: anything else.
    """
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidInput(f"max_results must be a positive integer, got {max_results!r}")
    if max_results > MAX_RESULTS_THRESHOLD:
        raise InvalidInput(
            f"max_results {max_results} is above the limit of {MAX_RESULTS_THRESHOLD}"
        )
    return max_results


__all__ = [
    "DATASET_KEYS",
    "MAX_RESULTS_THRESHOLD",
    "PREFIXES",
    "RUN_LIST_ATTRIBUTES",
    "RUN_NUMERIC_ATTRIBUTES",
    "RUN_STRING_ATTRIBUTES",
    "Comparison",
    "ComparisonKind",
    "OrderKey",
    "parse_order_by",
    "parse_run_filter",
    "run_matches",
    "run_order_with_tiebreakers",
    "sort_runs",
    "validate_max_results",
]
