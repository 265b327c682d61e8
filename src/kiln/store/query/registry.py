"""Registry search: MLflow's filter, ``order_by`` and paging rules for registered
models and model versions, in one place for every registry backend.

Filters are read by the shared scanner (``kiln.store.query.grammar``) in its registry
dialect (which also takes ``<>`` and unquoted keys with spaces): ``name = 'x'``,
``name LIKE 'x%'``, ``name ILIKE``, ``name IN ('a', 'b')``, ``tags.k = 'v'`` (also
``tags.`a key```), and for model versions ``run_id``, ``source_path`` and
``version_number``; clauses are AND-ed, entity prefixes are case-insensitive.
Searches skip MLflow prompts (``tags.mlflow.prompt.is_prompt = 'true'``) unless the
filter asks for them, as MLflow 3 does. Validation lives in ``kiln.store.rules.registry``.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from kiln.entities import PROMPT_TAG_KEY, ModelVersion, RegisteredModel
from kiln.errors import InvalidInput
from kiln.store.query.clauses import parse_filter, split_key
from kiln.store.query.compare import compare
from kiln.store.query.grammar import LIST_OPS, NUMERIC_OPS, REGISTRY, STRING_OPS, RawClause
from kiln.store.query.ordering import sort_by, split_order
from kiln.wire.fields import INT64_DIGITS, int_from_digits

SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT = 100
SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD = 1000
SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT = 10_000
SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD = 200_000


def check_max_results(max_results: object, threshold: int) -> int:
    """Registry searches have their own limits and MLflow's registry wording for them."""
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidInput(
            f"Invalid value for max_results. It must be a positive integer, but got {max_results}"
        )
    if max_results > threshold:
        raise InvalidInput(
            "Invalid value for request parameter max_results. It must be at most "
            f"{threshold}, but got value {max_results}"
        )
    return max_results


# filter grammar --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RegistryClause:
    """One comparison of a registry filter. ``key`` of attributes is normalised."""

    kind: Literal["attribute", "tag"]
    key: str
    op: str
    value: str | int | tuple[str, ...]


_PREFIXES: dict[str, Literal["attribute", "tag"]] = {
    "tag": "tag",
    "tags": "tag",
    "attr": "attribute",
    "attribute": "attribute",
    "attributes": "attribute",
}
_MODEL_ATTRIBUTES = {"name": "name"}
_VERSION_ATTRIBUTES = {
    "name": "name",
    "run_id": "run_id",
    "source_path": "source_path",
    "version_number": "version_number",
}
_ATTRIBUTE_OPS = STRING_OPS | LIST_OPS
_LIST_ATTRIBUTES = ("name", "run_id")


def _string_value(raw: RawClause) -> str | tuple[str, ...]:
    if raw.op in LIST_OPS:
        if not isinstance(raw.value, tuple):
            raise InvalidInput(
                f"Invalid filter {raw.source!r}: {raw.op} needs a list like ('a', 'b')"
            )
        return raw.value
    if not isinstance(raw.value, str) or raw.value_kind != "string":
        raise InvalidInput(
            f"Invalid filter {raw.source!r}: values must be quoted strings, e.g. name = 'my-model'"
        )
    return raw.value


def _version_number(raw: RawClause, key: str) -> int:
    text = raw.value_text.strip().strip("'\"")
    if not re.fullmatch(r"-?\d+", text, re.ASCII):
        raise InvalidInput(f"Invalid value for numeric attribute '{key}': {raw.value_text!r:.60}")
    number = int_from_digits(text)
    if number is None:
        raise InvalidInput(f"'{key}' is out of the int64 range (at most {INT64_DIGITS} digits)")
    return number


def _clause(raw: RawClause, allowed: dict[str, str]) -> RegistryClause:
    kind, key = split_key(
        raw.parts, raw.source, _PREFIXES, default="attribute", fold_case=True, strict=False
    )
    op = raw.op
    if kind == "tag":
        if op not in STRING_OPS:
            raise InvalidInput(f"Invalid comparator for tag: {op}")
        return RegistryClause("tag", key, op, _string_value(raw))
    if key not in allowed:
        raise InvalidInput(f"Invalid attribute name: {key}. Valid attributes are {sorted(allowed)}")
    if key == "version_number":
        if op not in NUMERIC_OPS:
            raise InvalidInput(f"Invalid comparator for attribute {key}: {op}")
        return RegistryClause("attribute", key, op, _version_number(raw, key))
    if op not in _ATTRIBUTE_OPS or (op in LIST_OPS and key not in _LIST_ATTRIBUTES):
        raise InvalidInput(f"Invalid comparator for attribute: {op}")
    return RegistryClause("attribute", key, op, _string_value(raw))


def parse_registry_filter(filter_string: str | None, *, for_versions: bool) -> list[RegistryClause]:
    """Parse a registered-model (or model-version) filter into AND-ed clauses.

    Raises:
        InvalidInput: bad syntax, unknown attribute, unsupported comparator,
            malformed value, or a filter past the search limits.
    """
    if isinstance(filter_string, str) and not filter_string.strip():
        return []
    allowed = _VERSION_ATTRIBUTES if for_versions else _MODEL_ATTRIBUTES
    return parse_filter(filter_string, functools.partial(_clause, allowed=allowed), REGISTRY)


def queries_prompts(clauses: Sequence[RegistryClause]) -> bool:
    """MLflow's rule: a filter on ``tags.mlflow.prompt.is_prompt`` that selects prompts."""
    for clause in clauses:
        if clause.kind == "tag" and clause.key == PROMPT_TAG_KEY and isinstance(clause.value, str):
            value = clause.value.lower()
            return (clause.op == "=" and value == "true") or (
                clause.op == "!=" and value == "false"
            )
    return False


def _tags_match(tags: dict[str, str], clauses: Sequence[RegistryClause], prompts: bool) -> bool:
    if not prompts and tags.get(PROMPT_TAG_KEY, "false").lower() == "true":
        return False
    for clause in clauses:
        if clause.kind != "tag":
            continue
        if not prompts and clause.key == PROMPT_TAG_KEY:
            continue
        if not compare(tags.get(clause.key), clause.op, clause.value):
            return False
    return True


def model_matches(model: RegisteredModel, clauses: Sequence[RegistryClause]) -> bool:
    prompts = queries_prompts(clauses)
    for clause in clauses:
        if clause.kind == "attribute" and not compare(model.name, clause.op, clause.value):
            return False
    return _tags_match(model.tags, clauses, prompts)


def version_matches(version: ModelVersion, clauses: Sequence[RegistryClause]) -> bool:
    prompts = queries_prompts(clauses)
    for clause in clauses:
        if clause.kind != "attribute":
            continue
        lhs: str | int | None = {
            "name": version.name,
            "run_id": version.run_id,
            "source_path": version.source,
            "version_number": version.version,
        }[clause.key]
        if not compare(lhs, clause.op, clause.value):
            return False
    return _tags_match(version.tags, clauses, prompts)


# ordering --------------------------------------------------------------------
_MODEL_ORDER_KEYS = {
    "name": "name",
    "last_updated_timestamp": "last_updated_timestamp",
    "timestamp": "last_updated_timestamp",
    "creation_timestamp": "creation_timestamp",
}
_VERSION_ORDER_KEYS = {
    "name": "name",
    "version_number": "version",
    "creation_timestamp": "creation_timestamp",
    "last_updated_timestamp": "last_updated_timestamp",
}
_ORDER_PREFIXES: dict[str, Literal["attribute"]] = {
    "attribute": "attribute",
    "attributes": "attribute",
}
DEFAULT_VERSION_ORDER = ("last_updated_timestamp DESC", "name ASC", "version_number DESC")

T = TypeVar("T", RegisteredModel, ModelVersion)


def parse_registry_order_by(
    order_by: Sequence[str], *, for_versions: bool
) -> list[tuple[str, bool]]:
    """``["name DESC"]`` -> ``[("name", False), ...tiebreaks]`` with entity field names.

    Tiebreaks as in MLflow: ``name ASC`` for models; ``name ASC, version DESC``
    for versions, each unless already ordered on.

    Raises:
        InvalidInput: unknown key, bad direction, or a key given twice.
    """
    table = _VERSION_ORDER_KEYS if for_versions else _MODEL_ORDER_KEYS
    keys: list[tuple[str, bool]] = []
    for clause in order_by:
        parts, ascending = split_order(clause)
        _, raw = split_key(
            parts, clause, _ORDER_PREFIXES, default="attribute", fold_case=True, strict=False
        )
        field_name = table.get(raw)
        if field_name is None:
            raise InvalidInput(
                f"Invalid order by key '{raw}' specified. Valid keys are {sorted(table)}"
            )
        if any(existing == field_name for existing, _ in keys):
            raise InvalidInput(f"`order_by` contains duplicate fields: {list(order_by)}")
        keys.append((field_name, ascending))
    if not any(name == "name" for name, _ in keys):
        keys.append(("name", True))
    if for_versions and not any(name == "version" for name, _ in keys):
        keys.append(("version", False))
    return keys


def sort_registry(items: Sequence[T], keys: Sequence[tuple[str, bool]]) -> list[T]:
    """Sort by ``keys`` (field, ascending) as parsed by ``parse_registry_order_by``."""
    return sort_by(items, [(operator.attrgetter(name), ascending) for name, ascending in keys])


__all__ = [
    "DEFAULT_VERSION_ORDER",
    "SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT",
    "SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD",
    "SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT",
    "SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD",
    "RegistryClause",
    "check_max_results",
    "model_matches",
    "parse_registry_filter",
    "parse_registry_order_by",
    "queries_prompts",
    "sort_registry",
    "version_matches",
]
