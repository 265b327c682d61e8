"""Experiment search: MLflow's filter grammar, matching and ordering for experiments.

Experiments filter on ``name`` (= != LIKE ILIKE), ``experiment_id`` (= != IN NOT IN),
``creation_time``/``last_update_time`` (numeric) and ``tags.<key>`` (= != LIKE ILIKE
IS NULL IS NOT NULL), and order on the four attributes. Default order
``creation_time DESC, experiment_id ASC``; an explicit order without experiment_id
gets ``experiment_id DESC`` appended, as in MLflow's SQL store. Missing values last;
ids compare as numbers. Clauses read as in ``kiln.store.query.runs``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from kiln.entities import Experiment
from kiln.errors import InvalidInput
from kiln.store.query.clauses import check_op, check_value, parse_filter, split_key
from kiln.store.query.compare import compare
from kiln.store.query.grammar import LIST_OPS, NULL_OPS, NUMERIC_OPS, STRING_OPS, RawClause
from kiln.store.query.ordering import sort_by, split_order
from kiln.store.query.runs import PREFIXES, Comparison, ComparisonKind, OrderKey

EXPERIMENT_NUMERIC_ATTRIBUTES = frozenset({"creation_time", "last_update_time"})
EXPERIMENT_ATTRIBUTES = frozenset({"name", "experiment_id"}) | EXPERIMENT_NUMERIC_ATTRIBUTES

_PREFIX_KINDS: dict[str, ComparisonKind] = {
    p: PREFIXES[p] for p in ("attribute", "attributes", "attr", "tag", "tags")
}


def _comparison(raw: RawClause) -> Comparison:
    kind, key = split_key(raw.parts, raw.source, _PREFIX_KINDS, default="attribute")
    op = raw.op
    if kind == "tag":
        check_op(op, STRING_OPS | NULL_OPS, f"tag {key!r}", raw.source)
        check_value(raw, "string", f"tag {key!r}")
    elif key in EXPERIMENT_NUMERIC_ATTRIBUTES:
        check_op(op, NUMERIC_OPS, f"attribute {key!r}", raw.source)
        check_value(raw, "number", f"attribute {key!r}")
    elif key == "name":
        check_op(op, STRING_OPS, "attribute 'name'", raw.source)
        check_value(raw, "string", "attribute 'name'")
    elif key == "experiment_id":
        check_op(op, frozenset({"=", "!="}) | LIST_OPS, "attribute 'experiment_id'", raw.source)
        check_value(raw, "string", "attribute 'experiment_id'")
    else:
        valid = ", ".join(sorted(EXPERIMENT_ATTRIBUTES))
        raise InvalidInput(
            f"invalid experiment attribute {key!r} in {raw.source!r}: use {valid} or tags.<key>"
        )
    return Comparison(kind, key, op, raw.value)


def parse_experiment_filter(filter_string: str | None) -> list[Comparison]:
    """Parse an experiment filter into AND-ed comparisons; None or "" means no filter.

    Raises:
        InvalidInput: as ``parse_run_filter``, for the experiment keys.
    """
    return parse_filter(filter_string, _comparison)


def _experiment_value(experiment: Experiment, kind: str, key: str) -> str | float | None:
    if kind == "tag":
        return experiment.tags.get(key)
    value = getattr(experiment, key)
    if value is None or isinstance(value, str):
        return value
    assert isinstance(value, int | float)
    return value


def experiment_matches(experiment: Experiment, comparisons: Sequence[Comparison]) -> bool:
    """Whether an experiment satisfies every comparison."""
    return all(
        compare(_experiment_value(experiment, c.kind, c.key), c.op, c.value) for c in comparisons
    )


def parse_experiment_order_by(order_by: Sequence[str]) -> list[OrderKey]:
    """Parse experiment ``order_by`` entries (``name``, ``creation_time DESC``, ...).

    Raises:
        InvalidInput: an entry does not parse, is not one of the four attributes, or
            repeats a key.
    """
    if isinstance(order_by, str):
        raise InvalidInput("order_by must be a list of strings, not one string")
    out: list[OrderKey] = []
    for clause in order_by:
        parts, ascending = split_order(clause)
        kind, key = split_key(parts, str(clause), _PREFIX_KINDS, default="attribute")
        if kind != "attribute" or key not in EXPERIMENT_ATTRIBUTES:
            valid = ", ".join(sorted(EXPERIMENT_ATTRIBUTES))
            raise InvalidInput(f"invalid experiment order_by {clause!r}: order by one of {valid}")
        if any(o.key == key for o in out):
            raise InvalidInput(f"order_by names {key!r} twice")
        out.append(OrderKey("attribute", key, ascending))
    return out


def experiment_order_with_tiebreakers(order: Sequence[OrderKey]) -> list[OrderKey]:
    """Default ``creation_time DESC, experiment_id ASC``; else order + ``experiment_id DESC``."""
    if not order:
        return [
            OrderKey("attribute", "creation_time", ascending=False),
            OrderKey("attribute", "experiment_id", ascending=True),
        ]
    full = list(order)
    if not any(o.key == "experiment_id" for o in full):
        full.append(OrderKey("attribute", "experiment_id", ascending=False))
    return full


def _experiment_sort_value(experiment: Experiment, key: str) -> str | float | None:
    value: object = getattr(experiment, key)
    if key == "experiment_id" and isinstance(value, str) and value.isdigit():
        return float(int(value))
    if value is None or isinstance(value, str | int | float):
        return value
    raise AssertionError(f"experiment.{key} is {value!r}")


def sort_experiments(
    experiments: Sequence[Experiment], order: Sequence[OrderKey]
) -> list[Experiment]:
    """Sort experiments by ``order`` plus tiebreakers; ids compare as numbers."""
    keys = [
        (functools.partial(_experiment_sort_value, key=o.key), o.ascending)
        for o in experiment_order_with_tiebreakers(order)
    ]
    return sort_by(experiments, keys)


__all__ = [
    "EXPERIMENT_ATTRIBUTES",
    "EXPERIMENT_NUMERIC_ATTRIBUTES",
    "experiment_matches",
    "experiment_order_with_tiebreakers",
    "parse_experiment_filter",
    "parse_experiment_order_by",
    "sort_experiments",
]
