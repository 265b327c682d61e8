"""MLflow's registry rules, in one place for every registry backend.

Validation (model names, aliases, tags, version numbers, stages) and the
registry search grammar: ``name = 'x'``, ``name LIKE 'x%'``, ``name ILIKE``,
``name IN ('a', 'b')``, ``tags.k = 'v'`` (also ``tags.`a key```), and for model
versions ``run_id``, ``source_path`` and ``version_number``; clauses are AND-ed.
Searches skip MLflow prompts (``tags.mlflow.prompt.is_prompt = 'true'``) unless
the filter asks for them, as MLflow 3 does.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cmp_to_key
from typing import Literal, TypeVar

from kiln.entities import PROMPT_TAG_KEY, ModelVersion, ModelVersionStage, RegisteredModel
from kiln.errors import InvalidInput
from kiln.store.query.limits import (
    check_clause_count,
    check_filter_keys,
    check_list_items,
    load_token_json,
    token_offset,
)
from kiln.wire.fields import INT64_DIGITS, int_from_digits

MAX_REGISTRY_TAG_KEY_LENGTH = 250
MAX_REGISTRY_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_MODEL_NAME_LENGTH = 256

SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT = 100
SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD = 1000
SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT = 10_000
SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD = 200_000

# Stages get_latest_versions returns for an empty list, in MLflow's order.
ALL_STAGES = (
    ModelVersionStage.NONE,
    ModelVersionStage.STAGING,
    ModelVersionStage.PRODUCTION,
    ModelVersionStage.ARCHIVED,
)
ACTIVE_STAGES = (ModelVersionStage.STAGING, ModelVersionStage.PRODUCTION)
LATEST_ALIAS = "latest"

_ALIAS_CHARS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")
_TAG_KEY_CHARS = re.compile(r"^[\w\-. /:]+$")


# validation ------------------------------------------------------------------
def validate_model_name(name: object, what: str = "name") -> str:
    """MLflow's rule: non-empty, no ``/`` or ``:``, and not a path that normalises away."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"Missing value for required parameter '{what}'.")
    if "/" in name or ":" in name:
        raise InvalidInput(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    if len(name) > MAX_MODEL_NAME_LENGTH:
        raise InvalidInput(
            f"model name is {len(name)} characters; the limit is {MAX_MODEL_NAME_LENGTH}"
        )
    if posixpath.normpath(name) != name or name.startswith(".."):
        raise InvalidInput(f"Invalid value '{name}' for parameter '{what}': not a unique path")
    return name


def validate_version(version: object) -> int:
    """Accept ``3`` or ``"3"`` (ASCII digits, within int64); anything else raises
    ``InvalidInput``."""
    number: int | None = None
    if isinstance(version, int) and not isinstance(version, bool):
        number = version
    elif isinstance(version, str) and re.fullmatch(r"\s*-?\d+\s*", version, re.ASCII):
        number = int_from_digits(version.strip())
        if number is None:
            raise InvalidInput(
                f"Parameter 'version' is out of the int64 range (at most {INT64_DIGITS} digits)"
            )
    if number is None:
        raise InvalidInput(f"Parameter 'version' must be an integer, got {version!r}")
    if not -(2**63) <= number < 2**63:
        raise InvalidInput(f"Parameter 'version' is out of the int64 range: {number}")
    return number


def validate_registry_tag(key: object, value: object) -> tuple[str, str]:
    """Registry tag keys follow MLflow's key rule; values may be up to 100,000 characters."""
    if not isinstance(key, str) or not key:
        raise InvalidInput("Missing value for required parameter 'key'.")
    if len(key) > MAX_REGISTRY_TAG_KEY_LENGTH:
        raise InvalidInput(
            f"tag key {key[:40]!r}... is {len(key)} characters; "
            f"the limit is {MAX_REGISTRY_TAG_KEY_LENGTH}"
        )
    if not _TAG_KEY_CHARS.match(key):
        raise InvalidInput(
            f"Invalid value {key!r} for parameter 'key': names may only contain alphanumerics, "
            "underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/)."
        )
    if posixpath.isabs(key) or posixpath.normpath(key) != key or key.startswith(".."):
        raise InvalidInput(f"Invalid value {key!r} for parameter 'key': not a unique path")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"tag {key!r} value must be a string")
    if len(value) > MAX_REGISTRY_TAG_VALUE_LENGTH:
        raise InvalidInput(
            f"tag {key!r} value is {len(value)} characters; "
            f"the limit is {MAX_REGISTRY_TAG_VALUE_LENGTH}"
        )
    return key, value


def validate_alias(alias: object) -> str:
    """Alias characters: alphanumerics, ``_`` and ``-``; at most 255 of them."""
    if not isinstance(alias, str) or not alias:
        raise InvalidInput("Registered model alias name cannot be empty.")
    if not _ALIAS_CHARS.match(alias):
        raise InvalidInput(
            f"Invalid alias name: '{alias}'. "
            "Names may only contain alphanumerics, underscores (_), and dashes (-)."
        )
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidInput(f"alias is {len(alias)} characters; the limit is {MAX_ALIAS_LENGTH}")
    return alias


def validate_settable_alias(alias: object) -> str:
    """An alias one may set: not ``latest`` (any case) and not ``v<digits>``."""
    name = validate_alias(alias)
    if name.lower() == LATEST_ALIAS:
        raise InvalidInput("'latest' alias name (case insensitive) is reserved.")
    if _VERSION_ALIAS.match(name):
        raise InvalidInput(f"Version alias name '{name}' is reserved.")
    return name


def canonical_stage(stage: object) -> ModelVersionStage:
    """``"production"`` -> ``Production``; unknown stages raise ``InvalidInput``."""
    if isinstance(stage, str):
        for known in ALL_STAGES:
            if known.value.lower() == stage.lower():
                return known
    raise InvalidInput(
        f"Invalid Model Version stage: {stage}. "
        f"Value must be one of {', '.join(s.value for s in ALL_STAGES)}."
    )


def check_max_results(max_results: object, threshold: int) -> int:
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


# page tokens (MLflow's format: base64 of {"offset": n}) ------------------------
def encode_offset_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_offset_token(token: str | None) -> int:
    """Raises: InvalidInput for a token not made here, or an offset past the limit."""
    if not token:
        return 0
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"Invalid page token {token[:40]!r}") from None
    return token_offset(load_token_json(raw, token), token)


# filter grammar --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RegistryClause:
    """One comparison of a registry filter. ``key`` of attributes is normalised."""

    kind: Literal["attribute", "tag"]
    key: str
    op: str
    value: str | int | tuple[str, ...]


_CLAUSE = re.compile(
    r"""^\s*(?P<key>(?:[A-Za-z_]+\.)?(?:`[^`]+`|"[^"]+"|[\w.\-:/ ]+?))\s*
    (?P<op>!=|<>|<=|>=|=|<|>|NOT\s+IN\b|IN\b|ILIKE\b|LIKE\b)\s*
    (?P<value>.*?)\s*$""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
_STRING = re.compile(r"""^(?:'((?:[^']|'')*)'|"((?:[^"]|"")*)")$""", re.DOTALL)
_LIST_ITEM = re.compile(r"""\s*(?:'((?:[^']|'')*)'|"((?:[^"]|"")*)")\s*(?:,|$)""")

_MODEL_ATTRIBUTES = {"name": "name"}
_VERSION_ATTRIBUTES = {
    "name": "name",
    "run_id": "run_id",
    "source_path": "source_path",
    "version_number": "version_number",
}
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_NUMERIC_OPS = ("=", "!=", "<", "<=", ">", ">=")
_TAG_OPS = ("=", "!=", "LIKE", "ILIKE")


def _split_and(text: str) -> list[str]:
    """Split on AND outside quotes and backticks."""
    parts: list[str] = []
    quote = ""
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif (
            text[i : i + 3].upper() == "AND"
            and (i == 0 or text[i - 1].isspace())
            and (i + 3 < len(text) and text[i + 3].isspace())
        ):
            parts.append(text[start:i])
            start = i + 3
            i += 3
            continue
        i += 1
    if quote:
        raise InvalidInput(f"Invalid filter {text!r}: unterminated quote")
    parts.append(text[start:])
    return parts


def _unquote(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return match.group(1).replace("''", "'")
    return match.group(2).replace('""', '"')


def _parse_value(raw: str, op: str, clause: str) -> str | tuple[str, ...]:
    if op in ("IN", "NOT IN"):
        if not (raw.startswith("(") and raw.endswith(")")):
            raise InvalidInput(f"Invalid filter {clause!r}: {op} needs a list like ('a', 'b')")
        inner = raw[1:-1].strip()
        items: list[str] = []
        pos = 0
        while pos < len(inner):
            item = _LIST_ITEM.match(inner, pos)
            if item is None or item.end() == pos:
                raise InvalidInput(f"Invalid filter {clause!r}: list items must be quoted strings")
            items.append(_unquote(item))
            pos = item.end()
        if not items:
            raise InvalidInput(f"Invalid filter {clause!r}: the list is empty")
        return tuple(items)
    string = _STRING.match(raw)
    if string is None:
        raise InvalidInput(
            f"Invalid filter {clause!r}: values must be quoted strings, e.g. name = 'my-model'"
        )
    return _unquote(string)


def _parse_key(raw: str) -> tuple[Literal["attribute", "tag"], str]:
    prefix, dot, rest = raw.partition(".")
    if dot and prefix.lower() in ("tags", "tag"):
        key = rest.strip()
        if len(key) >= 2 and key[0] == key[-1] and key[0] in '`"':
            key = key[1:-1]
        return "tag", key
    if dot and prefix.lower() in ("attributes", "attribute", "attr"):
        return "attribute", rest.strip().strip('`"')
    return "attribute", raw.strip().strip('`"')


def parse_registry_filter(filter_string: str | None, *, for_versions: bool) -> list[RegistryClause]:
    """Parse a registered-model (or model-version) filter into AND-ed clauses.

    Raises:
        InvalidInput: unknown attribute, unsupported comparator, malformed value.
    """
    if filter_string is None or not filter_string.strip():
        return []
    allowed = _VERSION_ATTRIBUTES if for_versions else _MODEL_ATTRIBUTES
    clauses: list[RegistryClause] = []
    parts = _split_and(filter_string)
    check_clause_count(len(parts))
    for part in parts:
        match = _CLAUSE.match(part)
        if match is None:
            raise InvalidInput(f"Invalid filter {filter_string!r}: cannot parse {part.strip()!r}")
        kind, key = _parse_key(match.group("key"))
        op = " ".join(match.group("op").upper().split())
        op = "!=" if op == "<>" else op
        raw = match.group("value")
        if kind == "tag":
            if op not in _TAG_OPS:
                raise InvalidInput(f"Invalid comparator for tag: {op}")
            clauses.append(RegistryClause("tag", key, op, _parse_value(raw, op, part)))
            continue
        if key not in allowed:
            raise InvalidInput(
                f"Invalid attribute name: {key}. Valid attributes are {sorted(allowed)}"
            )
        if key == "version_number":
            if op not in _NUMERIC_OPS:
                raise InvalidInput(f"Invalid comparator for attribute {key}: {op}")
            text = raw.strip().strip("'\"")
            if not re.fullmatch(r"-?\d+", text, re.ASCII):
                raise InvalidInput(f"Invalid value for numeric attribute '{key}': {raw!r:.60}")
            number = int_from_digits(text)
            if number is None:
                raise InvalidInput(
                    f"'{key}' is out of the int64 range (at most {INT64_DIGITS} digits)"
                )
            clauses.append(RegistryClause("attribute", key, op, number))
            continue
        if op not in _STRING_OPS or (op in ("IN", "NOT IN") and key not in ("name", "run_id")):
            raise InvalidInput(f"Invalid comparator for attribute: {op}")
        clauses.append(RegistryClause("attribute", key, op, _parse_value(raw, op, part)))
    check_filter_keys((c.kind, c.key) for c in clauses if c.kind == "tag")
    check_list_items(c.value for c in clauses)
    return clauses


def like_regex(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    """SQL LIKE -> regex: ``%`` any run, ``_`` one character."""
    body = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if case_insensitive else re.DOTALL)


def _compare(lhs: str | int | None, op: str, rhs: str | int | tuple[str, ...]) -> bool:
    if lhs is None:
        return False
    if op == "IN":
        return isinstance(rhs, tuple) and lhs in rhs
    if op == "NOT IN":
        return isinstance(rhs, tuple) and lhs not in rhs
    if op in ("LIKE", "ILIKE"):
        return bool(like_regex(str(rhs), op == "ILIKE").match(str(lhs)))
    if op == "=":
        return lhs == rhs
    if op == "!=":
        return lhs != rhs
    if isinstance(lhs, int) and isinstance(rhs, int):
        return {"<": lhs < rhs, "<=": lhs <= rhs, ">": lhs > rhs, ">=": lhs >= rhs}[op]
    return False


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
        if not _compare(tags.get(clause.key), clause.op, clause.value):
            return False
    return True


def model_matches(model: RegisteredModel, clauses: Sequence[RegistryClause]) -> bool:
    prompts = queries_prompts(clauses)
    for clause in clauses:
        if clause.kind == "attribute" and not _compare(model.name, clause.op, clause.value):
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
        if not _compare(lhs, clause.op, clause.value):
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
        words = clause.split()
        if not words or len(words) > 2:
            raise InvalidInput(f"Invalid order_by clause {clause!r}")
        raw = words[0].strip('`"')
        raw = raw.split(".", 1)[1] if raw.lower().startswith("attribute") and "." in raw else raw
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise InvalidInput(f"Invalid order_by clause {clause!r}: use ASC or DESC")
        field_name = table.get(raw)
        if field_name is None:
            raise InvalidInput(
                f"Invalid order by key '{raw}' specified. Valid keys are {sorted(table)}"
            )
        if any(existing == field_name for existing, _ in keys):
            raise InvalidInput(f"`order_by` contains duplicate fields: {list(order_by)}")
        keys.append((field_name, direction == "ASC"))
    if not any(name == "name" for name, _ in keys):
        keys.append(("name", True))
    if for_versions and not any(name == "version" for name, _ in keys):
        keys.append(("version", False))
    return keys


def sort_registry(items: Sequence[T], keys: Sequence[tuple[str, bool]]) -> list[T]:
    """Sort by ``keys`` (field, ascending) as parsed by ``parse_registry_order_by``."""

    def compare(a: T, b: T) -> int:
        for name, ascending in keys:
            left, right = getattr(a, name), getattr(b, name)
            if left == right:
                continue
            result = -1 if left < right else 1
            return result if ascending else -result
        return 0

    return sorted(items, key=cmp_to_key(compare))


def paginate(items: Sequence[T], offset: int, max_results: int) -> tuple[list[T], str | None]:
    page = list(items[offset : offset + max_results])
    token = encode_offset_token(offset + max_results) if offset + max_results < len(items) else None
    return page, token


def latest_per_stage(versions: Sequence[ModelVersion]) -> tuple[ModelVersion, ...]:
    """The newest version of each stage, ordered by version (MLflow's latest_versions)."""
    latest: dict[ModelVersionStage, ModelVersion] = {}
    for version in versions:
        current = latest.get(version.current_stage)
        if current is None or version.version > current.version:
            latest[version.current_stage] = version
    return tuple(sorted(latest.values(), key=lambda mv: mv.version))


__all__ = [
    "ACTIVE_STAGES",
    "ALL_STAGES",
    "DEFAULT_VERSION_ORDER",
    "LATEST_ALIAS",
    "SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT",
    "SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD",
    "SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT",
    "SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD",
    "RegistryClause",
    "canonical_stage",
    "check_max_results",
    "decode_offset_token",
    "encode_offset_token",
    "latest_per_stage",
    "like_regex",
    "model_matches",
    "paginate",
    "parse_registry_filter",
    "parse_registry_order_by",
    "queries_prompts",
    "sort_registry",
    "validate_alias",
    "validate_model_name",
    "validate_registry_tag",
    "validate_settable_alias",
    "validate_version",
    "version_matches",
]
