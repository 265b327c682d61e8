"""Searching logged models: MLflow's filter, ``datasets`` and ``order_by`` rules.

Every ``LoggedModelStore`` narrows candidates by workspace, experiment and
lifecycle, then hands them to ``search_logged_models_in`` so all backends agree
on the semantics, which follow MLflow's SQL store:

* ``filter``: clauses joined by AND over ``metrics.<k>`` (numbers; a model
  matches when any of its values of that metric does, on the requested datasets
  if ``datasets`` is given), ``params.<k>`` / ``tags.<k>`` (strings) and
  attributes: ``model_id``, ``name``, ``experiment_id``, ``status``,
  ``model_type``, ``source_run_id``, ``artifact_location``, ``status_message``
  (strings: ``= != LIKE ILIKE IN NOT IN``) and ``creation_timestamp`` /
  ``last_updated_timestamp`` (aliases ``creation_time``, ``*_ms``; numbers).
* ``datasets``: without a metric clause, keeps models with any metric on one of
  the datasets (a dataset matches by name, and by digest when one is given).
* ``order_by``: dicts ``{"field_name", "ascending", "dataset_name",
  "dataset_digest"}``; an attribute or ``metrics.<k>`` (the model's latest value:
  newest timestamp, then highest step); missing values sort last; ties end with
  ``creation_timestamp`` descending, then ``model_id``.
* paging: an opaque token carries the offset and the search it belongs to;
  passing it with a different search is ``InvalidInput``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kiln.entities import Page
from kiln.entities.logged_model import LoggedModel, LoggedModelMetric
from kiln.errors import InvalidInput
from kiln.store.query.clauses import parse_filter, split_key
from kiln.store.query.compare import compare
from kiln.store.query.grammar import LIST_OPS, NUMERIC_OPS, STRING_OPS, RawClause
from kiln.store.query.limits import check_order_by_count
from kiln.store.query.ordering import SortKey, sort_by
from kiln.store.query.page_token import paginate
from kiln.store.query.runs import validate_max_results

SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT = 100

LoggedModelKind = Literal["metric", "param", "tag", "attribute"]

STRING_ATTRIBUTES = frozenset(
    {
        "model_id",
        "name",
        "experiment_id",
        "status",
        "model_type",
        "source_run_id",
        "artifact_location",
        "status_message",
    }
)
NUMERIC_ATTRIBUTES = frozenset({"creation_timestamp", "last_updated_timestamp"})
_ALIASES = {
    "creation_time": "creation_timestamp",
    "creation_timestamp_ms": "creation_timestamp",
    "last_updated_timestamp_ms": "last_updated_timestamp",
}
_PREFIXES: dict[str, LoggedModelKind] = {
    "metrics": "metric",
    "params": "param",
    "tags": "tag",
    "attributes": "attribute",
}


@dataclass(frozen=True, slots=True)
class LoggedModelComparison:
    kind: LoggedModelKind
    key: str
    op: str
    value: str | float | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DatasetFilter:
    """A ``datasets`` entry (also the dataset part of an order key)."""

    name: str
    digest: str | None = None

    def admits(self, metric: LoggedModelMetric) -> bool:
        return metric.dataset_name == self.name and (
            self.digest is None or metric.dataset_digest == self.digest
        )


@dataclass(frozen=True, slots=True)
class LoggedModelOrder:
    kind: Literal["metric", "attribute"]
    key: str
    ascending: bool = True
    dataset: DatasetFilter | None = None


def _attribute(key: str, source: str) -> str:
    key = _ALIASES.get(key, key)
    if key not in STRING_ATTRIBUTES | NUMERIC_ATTRIBUTES:
        valid = ", ".join(sorted(STRING_ATTRIBUTES | NUMERIC_ATTRIBUTES))
        raise InvalidInput(f"invalid attribute {key!r} in {source!r}: use one of {valid}")
    return key


def _comparison(raw: RawClause) -> LoggedModelComparison:
    source = raw.source
    kind, key = split_key(raw.parts, source, _PREFIXES, default="attribute", whole_keys=False)
    if kind == "attribute":
        key = _attribute(key, source)
    numeric = kind == "metric" or (kind == "attribute" and key in NUMERIC_ATTRIBUTES)
    allowed = NUMERIC_OPS if numeric else STRING_OPS | LIST_OPS
    if raw.op not in allowed:
        raise InvalidInput(
            f"comparator {raw.op!r} is not allowed for {kind} {key!r} in {source!r}: "
            f"use one of {', '.join(sorted(allowed))}"
        )
    expected = "number" if numeric else ("list" if raw.op in LIST_OPS else "string")
    if raw.value_kind != expected:
        raise InvalidInput(f"{kind} {key!r} needs a {expected} value in {source!r}")
    assert raw.value is not None
    return LoggedModelComparison(kind, key, raw.op, raw.value)


def parse_logged_model_filter(filter_string: str | None) -> list[LoggedModelComparison]:
    """Parse a logged-model filter; None or "" means no filter.

    Raises:
        InvalidInput: bad syntax, an unknown entity or attribute, or a comparator or
            value that does not fit the key's type.
    """
    return parse_filter(filter_string or None, _comparison)


def parse_datasets(datasets: Iterable[Mapping[str, Any]] | None) -> list[DatasetFilter]:
    """Raises: InvalidInput when an entry lacks ``dataset_name``."""
    out: list[DatasetFilter] = []
    for entry in datasets or ():
        name = entry.get("dataset_name")
        if not isinstance(name, str) or not name:
            raise InvalidInput("`dataset_name` in the `datasets` clause must be specified.")
        digest = entry.get("dataset_digest")
        out.append(DatasetFilter(name, digest if isinstance(digest, str) and digest else None))
    return out


def parse_logged_model_order_by(
    order_by: Iterable[Mapping[str, Any]] | None,
) -> list[LoggedModelOrder]:
    """Raises: InvalidInput for a missing or unknown field name, or too many entries."""
    entries = list(order_by or ())
    check_order_by_count(len(entries))
    out: list[LoggedModelOrder] = []
    for entry in entries:
        field_name = entry.get("field_name")
        if not isinstance(field_name, str) or not field_name:
            raise InvalidInput("order_by entries need a field_name")
        ascending = entry.get("ascending", True)
        ascending = True if ascending is None else bool(ascending)
        if "." in field_name:
            entity, key = field_name.split(".", 1)
            if entity != "metrics":
                raise InvalidInput(
                    f"Invalid order by field name: {field_name}. Only metrics are supported."
                )
            name = entry.get("dataset_name")
            digest = entry.get("dataset_digest")
            dataset = (
                DatasetFilter(name, digest if isinstance(digest, str) and digest else None)
                if isinstance(name, str) and name
                else None
            )
            out.append(LoggedModelOrder("metric", key, ascending, dataset))
        else:
            out.append(LoggedModelOrder("attribute", _attribute(field_name, field_name), ascending))
    return out


def _attribute_value(model: LoggedModel, key: str) -> str | float | None:
    value = getattr(model, key)
    if value is None or isinstance(value, str):
        return value
    assert isinstance(value, int | float)
    return float(value)


def _metrics(model: LoggedModel, key: str, datasets: Sequence[DatasetFilter]) -> list[float]:
    return [
        m.value
        for m in model.metrics
        if m.key == key and (not datasets or any(d.admits(m) for d in datasets))
    ]


def logged_model_matches(
    model: LoggedModel,
    comparisons: Sequence[LoggedModelComparison],
    datasets: Sequence[DatasetFilter] = (),
) -> bool:
    """Whether ``model`` passes every comparison and the dataset restriction."""
    has_metric_clause = False
    for comparison in comparisons:
        if comparison.kind == "metric":
            has_metric_clause = True
            values = _metrics(model, comparison.key, datasets)
            if not any(
                not math.isnan(v) and compare(v, comparison.op, comparison.value) for v in values
            ):
                return False
            continue
        lhs: str | float | None
        if comparison.kind == "param":
            lhs = model.params.get(comparison.key)
        elif comparison.kind == "tag":
            lhs = model.tags.get(comparison.key)
        else:
            lhs = _attribute_value(model, comparison.key)
        if not compare(lhs, comparison.op, comparison.value):
            return False
    if datasets and not has_metric_clause:
        return any(d.admits(m) for m in model.metrics for d in datasets)
    return True


def _latest_metric(model: LoggedModel, order: LoggedModelOrder) -> float | None:
    best: LoggedModelMetric | None = None
    for m in model.metrics:
        if m.key != order.key or (order.dataset is not None and not order.dataset.admits(m)):
            continue
        if best is None or (m.timestamp, m.step) > (best.timestamp, best.step):
            best = m
    return None if best is None else best.value


def _sort_value(model: LoggedModel, key: LoggedModelOrder) -> float | str | None:
    value = _latest_metric(model, key) if key.kind == "metric" else _attribute_value(model, key.key)
    # NaN sorts with the missing values here (MLflow's SQL store), not before them.
    return None if isinstance(value, float) and math.isnan(value) else value


def sort_logged_models(
    models: Iterable[LoggedModel], order: Sequence[LoggedModelOrder]
) -> list[LoggedModel]:
    """Sort as MLflow's SQL store does (see the module docstring)."""
    keys: list[SortKey[LoggedModel]] = [
        (functools.partial(_sort_value, key=key), key.ascending) for key in order
    ]
    if not any(o.kind == "attribute" and o.key == "creation_timestamp" for o in order):
        keys.append((lambda m: m.creation_timestamp, False))
    keys.append((lambda m: m.model_id, True))
    return sort_by(models, keys)


def search_logged_models_in(
    candidates: Iterable[LoggedModel],
    experiment_ids: Sequence[str],
    filter_string: str | None = None,
    datasets: Sequence[Mapping[str, Any]] | None = None,
    max_results: int | None = None,
    order_by: Sequence[Mapping[str, Any]] | None = None,
    page_token: str | None = None,
) -> Page[LoggedModel]:
    """Filter, sort and page ``candidates`` (already scoped to the workspace).

    Deleted models and models outside ``experiment_ids`` are dropped here too.

    Raises:
        InvalidInput: a bad filter, dataset, order key, ``max_results`` or token.
    """
    comparisons = parse_logged_model_filter(filter_string)
    dataset_filters = parse_datasets(datasets)
    order = parse_logged_model_order_by(order_by)
    limit = validate_max_results(
        SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT if max_results is None else max_results
    )
    fingerprint = {
        "experiment_ids": sorted(experiment_ids),
        "filter": filter_string or "",
        "order_by": [dict(o) for o in order_by or ()],
    }
    wanted = set(experiment_ids)
    matched = [
        m
        for m in candidates
        if m.experiment_id in wanted
        and m.lifecycle_stage == "active"
        and logged_model_matches(m, comparisons, dataset_filters)
    ]
    items, token = paginate(sort_logged_models(matched, order), page_token, limit, fingerprint)
    return Page(items, token)


__all__ = [
    "NUMERIC_ATTRIBUTES",
    "SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT",
    "STRING_ATTRIBUTES",
    "DatasetFilter",
    "LoggedModelComparison",
    "LoggedModelOrder",
    "logged_model_matches",
    "parse_datasets",
    "parse_logged_model_filter",
    "parse_logged_model_order_by",
    "search_logged_models_in",
    "sort_logged_models",
]
