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

Experiments filter on ``name`` (= != LIKE ILIKE), ``experiment_id`` (= != IN NOT IN),
``creation_time``/``last_update_time`` (numeric) and ``tags.<key>`` (= != LIKE ILIKE
IS NULL IS NOT NULL), and order on the four attributes. Default order
``creation_time DESC, experiment_id ASC``; an explicit order without experiment_id
gets ``experiment_id DESC`` appended, as in MLflow's SQL store. Missing values last.

Page tokens are MLflow's: base64 of the JSON ``{"offset": N}``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from kiln.entities import Experiment, Run
from kiln.errors import InvalidInput
from kiln.store.query.limits import (
    check_clause_count,
    check_filter_keys,
    check_list_items,
    check_order_by_count,
    load_token_json,
    token_offset,
)

ComparisonKind = Literal["metric", "param", "tag", "attribute", "dataset"]
OrderKind = Literal["metric", "param", "tag", "attribute"]
Value = str | float | tuple[str, ...] | None

MAX_RESULTS_THRESHOLD = 50000

NUMERIC_OPS = frozenset({"=", "!=", "<", ">", "<=", ">="})
STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
NULL_OPS = frozenset({"IS NULL", "IS NOT NULL"})
LIST_OPS = frozenset({"IN", "NOT IN"})

RUN_STRING_ATTRIBUTES = frozenset({"run_id", "run_name", "status", "user_id", "artifact_uri"})
RUN_NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time"})
RUN_LIST_ATTRIBUTES = frozenset({"run_id"})
DATASET_KEYS = frozenset({"name", "digest", "context"})
EXPERIMENT_NUMERIC_ATTRIBUTES = frozenset({"creation_time", "last_update_time"})
EXPERIMENT_ATTRIBUTES = frozenset({"name", "experiment_id"}) | EXPERIMENT_NUMERIC_ATTRIBUTES

_ATTRIBUTE_ALIASES = {
    "created": "start_time",
    "Created": "start_time",
    "run name": "run_name",
    "Run name": "run_name",
    "Run Name": "run_name",
}
_PREFIXES: dict[str, ComparisonKind] = {
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
_EXPERIMENT_PREFIXES = ("attribute", "attributes", "attr", "tag", "tags")


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


# --------------------------------------------------------------------------- scanner


_BARE_KEY = re.compile(r"[\w\-/:]+")
_WORD = re.compile(r"[A-Za-z_]+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])")
_SYMBOL_OPS = ("!=", "<=", ">=", "<>", "==", "=", "<", ">")


@dataclass(frozen=True, slots=True)
class _Part:
    text: str
    quoted: bool


@dataclass(frozen=True, slots=True)
class _RawClause:
    parts: tuple[_Part, ...]
    op: str
    value: Value
    value_kind: Literal["string", "number", "list", "none"]
    source: str


class _Scanner:
    """A hand-written recursive-descent reader over the filter text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> InvalidInput:
        return InvalidInput(f"invalid filter {self.text!r}: {message}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_ws()
        return self.pos >= len(self.text)

    def peek_token(self) -> str:
        """The next whitespace-delimited chunk, for error messages."""
        self.skip_ws()
        rest = self.text[self.pos :]
        return rest.split(None, 1)[0] if rest.strip() else "<end>"

    def word(self) -> str | None:
        """Read a keyword-like word if one starts here (no whitespace skipping)."""
        match = _WORD.match(self.text, self.pos)
        if match is None:
            return None
        end = match.end()
        if end < len(self.text) and (self.text[end].isalnum() or self.text[end] in '._-/:`"'):
            return None
        self.pos = end
        return match.group().upper()

    def quoted(self, quote: str) -> str:
        """Read a quoted run starting at ``quote``; a doubled quote is a literal one."""
        assert self.text[self.pos] == quote
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                # MLflow (sqlparse) keeps a backslash-escaped quote, backslash included.
                out.append(self.text[self.pos : self.pos + 2])
                self.pos += 2
                continue
            if char == quote:
                if self.text.startswith(quote * 2, self.pos):
                    out.append(quote)
                    self.pos += 2
                    continue
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise self.error(f"unterminated quote starting at {self.text[start : start + 20]!r}")

    def identifier(self) -> tuple[_Part, ...]:
        self.skip_ws()
        parts: list[_Part] = []
        while True:
            if self.pos < len(self.text) and self.text[self.pos] in '`"':
                parts.append(_Part(self.quoted(self.text[self.pos]), quoted=True))
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                if match is None:
                    break
                parts.append(_Part(match.group(), quoted=False))
                self.pos = match.end()
            if self.pos < len(self.text) and self.text[self.pos] == ".":
                self.pos += 1
                continue
            break
        if not parts:
            raise self.error(
                f"expected a key such as metrics.<name>, params.<name>, tags.<name> or "
                f"attributes.<name>, found {self.peek_token()!r}"
            )
        return tuple(parts)

    def operator(self) -> str:
        self.skip_ws()
        for symbol in _SYMBOL_OPS:
            if self.text.startswith(symbol, self.pos):
                if symbol in ("<>", "=="):
                    raise self.error(
                        f"unknown comparator {symbol!r}; use {'!=' if symbol == '<>' else '='}"
                    )
                self.pos += len(symbol)
                return symbol
        start = self.pos
        first = self.word()
        if first in ("LIKE", "ILIKE", "IN"):
            return first
        if first == "IS":
            self.skip_ws()
            second = self.word()
            if second == "NULL":
                return "IS NULL"
            if second == "NOT":
                self.skip_ws()
                if self.word() == "NULL":
                    return "IS NOT NULL"
            raise self.error("expected IS NULL or IS NOT NULL")
        if first == "NOT":
            self.skip_ws()
            second = self.word()
            if second == "IN":
                return "NOT IN"
            raise self.error(
                f"'NOT {second or self.peek_token()}' is not supported; the negated form "
                "exists only as NOT IN (and != for equality)"
            )
        self.pos = start
        raise self.error(
            f"expected a comparator (=, !=, <, >, <=, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, "
            f"IS NOT NULL), found {self.peek_token()!r}"
        )

    def value(self) -> tuple[Value, Literal["string", "number", "list"]]:
        self.skip_ws()
        if self.pos >= len(self.text):
            raise self.error("expected a value after the comparator, found the end")
        char = self.text[self.pos]
        if char in "'\"":
            return self.quoted(char), "string"
        if char == "(":
            return self.string_list(), "list"
        match = _NUMBER.match(self.text, self.pos)
        if match is not None:
            self.pos = match.end()
            return float(match.group()), "number"
        raise self.error(
            f"expected a quoted string, a number or a parenthesised list of strings, "
            f"found {self.peek_token()!r} (strings need single or double quotes)"
        )

    def string_list(self) -> tuple[str, ...]:
        self.pos += 1  # "("
        items: list[str] = []
        while True:
            self.skip_ws()
            if self.pos < len(self.text) and self.text[self.pos] == ")" and not items:
                raise self.error("an IN list must hold at least one quoted string")
            if self.pos >= len(self.text) or self.text[self.pos] not in "'\"":
                raise self.error(
                    f"an IN list holds quoted strings only, found {self.peek_token()!r}"
                )
            items.append(self.quoted(self.text[self.pos]))
            self.skip_ws()
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
                continue
            if self.pos < len(self.text) and self.text[self.pos] == ")":
                self.pos += 1
                return tuple(items)
            raise self.error(f"expected ',' or ')' in an IN list, found {self.peek_token()!r}")

    def clauses(self) -> list[_RawClause]:
        if self.at_end():
            raise self.error("the filter is blank; pass None or a clause such as metrics.x > 1")
        out: list[_RawClause] = []
        while True:
            self.skip_ws()
            start = self.pos
            if self.text.startswith("(", self.pos):
                raise self.error("parentheses are not supported; join clauses with AND")
            conj = self.word()
            if conj is not None:
                if conj in ("AND", "OR"):
                    raise self.error(f"expected a clause, found {conj!r}")
                self.pos = start
            parts = self.identifier()
            op = self.operator()
            value: Value = None
            value_kind: Literal["string", "number", "list", "none"] = "none"
            if op not in NULL_OPS:
                value, value_kind = self.value()
            out.append(
                _RawClause(parts, op, value, value_kind, self.text[start : self.pos].strip())
            )
            check_clause_count(len(out))
            if self.at_end():
                return out
            token = self.peek_token()
            conj = self.word()
            if conj == "AND":
                if self.at_end():
                    raise self.error("the filter ends with AND; a clause must follow it")
                continue
            if conj == "OR":
                raise self.error(
                    "OR is not supported (as in MLflow): clauses can only be joined with AND; "
                    "run one search per alternative instead"
                )
            raise self.error(f"expected AND or the end after {out[-1].source!r}, found {token!r}")


# --------------------------------------------------------------------------- run filters


def _split_identifier(
    parts: tuple[_Part, ...], source: str, prefixes: dict[str, ComparisonKind]
) -> tuple[ComparisonKind, str]:
    if len(parts) == 1:
        return "attribute", parts[0].text
    prefix = parts[0].text
    kind = prefixes.get(prefix)
    if kind is None:
        valid = ", ".join(sorted(prefixes))
        raise InvalidInput(
            f"invalid entity type {prefix!r} in {source!r}: use one of {valid} "
            "(quote keys that contain dots or spaces)"
        )
    rest = parts[1:]
    if len(rest) > 1 and any(part.quoted for part in rest):
        raise InvalidInput(f'invalid key in {source!r}: quote the whole key, e.g. {prefix}."a.b c"')
    key = ".".join(part.text for part in rest)
    if not key:
        raise InvalidInput(f"empty key in {source!r}")
    return kind, key


def _check_op(op: str, allowed: frozenset[str], what: str, source: str) -> None:
    if op not in allowed:
        order = ["=", "!=", "<", ">", "<=", ">=", "LIKE", "ILIKE", "IN", "NOT IN"]
        order += ["IS NULL", "IS NOT NULL"]
        names = ", ".join(o for o in order if o in allowed)
        raise InvalidInput(
            f"comparator {op!r} is not allowed for {what} in {source!r}: use {names}"
        )


def _check_value(raw: _RawClause, expected: str, what: str) -> None:
    if raw.op in NULL_OPS:
        return
    if raw.op in LIST_OPS:
        if raw.value_kind != "list":
            raise InvalidInput(
                f"{raw.op} needs a parenthesised list of quoted strings in {raw.source!r}, "
                "e.g. ('a', 'b')"
            )
        return
    if raw.value_kind == "list":
        raise InvalidInput(f"a list value needs IN or NOT IN in {raw.source!r}")
    if raw.value_kind != expected:
        if expected == "number":
            raise InvalidInput(f"{what} compares with a number (unquoted) in {raw.source!r}")
        raise InvalidInput(f"{what} compares with a quoted string in {raw.source!r}")


def _run_comparison(raw: _RawClause) -> Comparison:
    kind, key = _split_identifier(raw.parts, raw.source, _PREFIXES)
    op = raw.op
    if kind == "metric":
        _check_op(op, NUMERIC_OPS, f"metric {key!r}", raw.source)
        _check_value(raw, "number", f"metric {key!r}")
    elif kind in ("param", "tag"):
        _check_op(op, STRING_OPS | NULL_OPS, f"{kind} {key!r}", raw.source)
        _check_value(raw, "string", f"{kind} {key!r}")
    elif kind == "dataset":
        if key not in DATASET_KEYS:
            raise InvalidInput(
                f"invalid dataset key {key!r} in {raw.source!r}: use name, digest or context"
            )
        _check_op(op, STRING_OPS | LIST_OPS, f"dataset {key!r}", raw.source)
        _check_value(raw, "string", f"dataset {key!r}")
    else:
        key = _ATTRIBUTE_ALIASES.get(key, key)
        if key in RUN_NUMERIC_ATTRIBUTES:
            _check_op(op, NUMERIC_OPS, f"attribute {key!r}", raw.source)
            _check_value(raw, "number", f"attribute {key!r}")
        elif key in RUN_STRING_ATTRIBUTES:
            allowed = STRING_OPS | (LIST_OPS if key in RUN_LIST_ATTRIBUTES else frozenset())
            _check_op(op, allowed, f"attribute {key!r}", raw.source)
            _check_value(raw, "string", f"attribute {key!r}")
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
    if filter_string is None or filter_string == "":
        return []
    if not isinstance(filter_string, str):
        raise InvalidInput(f"filter must be a string, got {type(filter_string).__name__}")
    return list(_parse_run_filter(filter_string))


@functools.lru_cache(maxsize=512)
def _parse_run_filter(filter_string: str) -> tuple[Comparison, ...]:
    """Cached parse (comparisons are frozen and their values immutable)."""
    comparisons = tuple(_run_comparison(raw) for raw in _Scanner(filter_string).clauses())
    check_filter_keys((c.kind, c.key) for c in comparisons if c.kind != "attribute")
    check_list_items(c.value for c in comparisons)
    return comparisons


@functools.lru_cache(maxsize=512)
def like_to_regex(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    """Compile a SQL LIKE pattern: ``%`` any run, ``_`` one character, no escapes.

    The result is anchored at both ends, so ``.match`` tests the whole string.
    """
    pieces = ["\\A"]
    for char in pattern:
        if char == "%":
            pieces.append(".*")
        elif char == "_":
            pieces.append(".")
        else:
            pieces.append(re.escape(char))
    pieces.append("\\Z")
    flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
    return re.compile("".join(pieces), flags)


def _compare(lhs: str | float | None, op: str, value: Value) -> bool:
    if op == "IS NULL":
        return lhs is None
    if op == "IS NOT NULL":
        return lhs is not None
    if lhs is None:
        return False
    if op in LIST_OPS:
        assert isinstance(value, tuple)
        return (lhs in value) == (op == "IN")
    if op in ("LIKE", "ILIKE"):
        assert isinstance(value, str)
        return like_to_regex(value, op == "ILIKE").match(str(lhs)) is not None
    if isinstance(lhs, str):
        rhs: str | float = str(value)
    else:
        assert isinstance(value, float)
        rhs = value
    return _NUMERIC_COMPARE[op](lhs, rhs)


_NUMERIC_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


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
        if lhs is not None and _compare(lhs, comparison.op, comparison.value):
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
        if not _compare(lhs, comparison.op, comparison.value):
            return False
    return True


# --------------------------------------------------------------------------- order_by


def _split_order(clause: object) -> tuple[tuple[_Part, ...], bool]:
    if not isinstance(clause, str):
        raise InvalidInput(f"order_by entries must be strings, got {clause!r}")
    scanner = _Scanner(clause)
    if scanner.at_end():
        raise InvalidInput("invalid order_by clause '': it is empty")
    try:
        parts = scanner.identifier()
    except InvalidInput:
        raise InvalidInput(
            f"invalid order_by clause {clause!r}: expected '<key> [ASC|DESC]'"
        ) from None
    ascending = True
    if not scanner.at_end():
        direction = scanner.word()
        if direction not in ("ASC", "DESC") or not scanner.at_end():
            raise InvalidInput(
                f"invalid order_by clause {clause!r}: expected '<key> [ASC|DESC]', "
                "one key per entry"
            )
        ascending = direction == "ASC"
    return parts, ascending


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
        parts, ascending = _split_order(clause)
        kind, key = _split_identifier(parts, str(clause), _PREFIXES)
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


T = TypeVar("T")


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _sort_pass(
    items: list[T], value_of: Callable[[T], str | float | None], ascending: bool
) -> list[T]:
    """One stable pass: present values in the asked direction, then NaN, then missing."""
    present: list[tuple[Any, T]] = []
    nans: list[T] = []
    missing: list[T] = []
    for item in items:
        value = value_of(item)
        if value is None:
            missing.append(item)
        elif _is_nan(value):
            nans.append(item)
        else:
            present.append((value, item))
    present.sort(key=lambda pair: pair[0], reverse=not ascending)
    return [item for _, item in present] + nans + missing


def _run_sort_value(run: Run, key: OrderKey) -> str | float | None:
    return _run_value(run, key.kind, key.key)


def sort_runs(runs: Sequence[Run], order: Sequence[OrderKey]) -> list[Run]:
    """Sort runs by ``order`` plus MLflow's tiebreakers (see the module docstring)."""
    result = list(runs)
    for key in reversed(run_order_with_tiebreakers(order)):
        result = _sort_pass(result, functools.partial(_run_sort_value, key=key), key.ascending)
    return result


# --------------------------------------------------------------------------- experiments

_EXPERIMENT_PREFIX_KINDS: dict[str, ComparisonKind] = {
    p: _PREFIXES[p] for p in _EXPERIMENT_PREFIXES
}


def _experiment_comparison(raw: _RawClause) -> Comparison:
    kind, key = _split_identifier(raw.parts, raw.source, _EXPERIMENT_PREFIX_KINDS)
    op = raw.op
    if kind == "tag":
        _check_op(op, STRING_OPS | NULL_OPS, f"tag {key!r}", raw.source)
        _check_value(raw, "string", f"tag {key!r}")
    elif key in EXPERIMENT_NUMERIC_ATTRIBUTES:
        _check_op(op, NUMERIC_OPS, f"attribute {key!r}", raw.source)
        _check_value(raw, "number", f"attribute {key!r}")
    elif key == "name":
        _check_op(op, STRING_OPS, "attribute 'name'", raw.source)
        _check_value(raw, "string", "attribute 'name'")
    elif key == "experiment_id":
        _check_op(op, frozenset({"=", "!="}) | LIST_OPS, "attribute 'experiment_id'", raw.source)
        _check_value(raw, "string", "attribute 'experiment_id'")
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
    if filter_string is None or filter_string == "":
        return []
    if not isinstance(filter_string, str):
        raise InvalidInput(f"filter must be a string, got {type(filter_string).__name__}")
    comparisons = [_experiment_comparison(raw) for raw in _Scanner(filter_string).clauses()]
    check_filter_keys((c.kind, c.key) for c in comparisons if c.kind != "attribute")
    check_list_items(c.value for c in comparisons)
    return comparisons


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
        _compare(_experiment_value(experiment, c.kind, c.key), c.op, c.value) for c in comparisons
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
        parts, ascending = _split_order(clause)
        kind, key = _split_identifier(parts, str(clause), _EXPERIMENT_PREFIX_KINDS)
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
    result = list(experiments)
    for key in reversed(experiment_order_with_tiebreakers(order)):
        result = _sort_pass(
            result, functools.partial(_experiment_sort_value, key=key.key), key.ascending
        )
    return result


# --------------------------------------------------------------------------- paging


def encode_page_token(offset: int) -> str:
    """MLflow's page token: base64 of ``{"offset": N}``."""
    return base64.b64encode(json.dumps({"offset": offset}).encode("utf-8")).decode("ascii")


def decode_page_token(token: str | None) -> int:
    """The offset a page token carries; None or "" is offset 0.

    Raises:
        InvalidInput: the token was not made by ``encode_page_token``, or its
            offset is past ``MAX_PAGE_OFFSET``.
    """
    if not token:
        return 0
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            f"invalid page token {token[:40]!r}: pass back a next_page_token"
        ) from None
    return token_offset(load_token_json(raw, token), token)


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


def paginate(
    items: Sequence[T], page_token: str | None, max_results: int
) -> tuple[list[T], str | None]:
    """Slice one page out of fully sorted ``items``; returns (page, next token or None)."""
    start = decode_page_token(page_token)
    end = start + validate_max_results(max_results)
    return list(items[start:end]), (encode_page_token(end) if end < len(items) else None)


__all__ = [
    "DATASET_KEYS",
    "EXPERIMENT_ATTRIBUTES",
    "EXPERIMENT_NUMERIC_ATTRIBUTES",
    "LIST_OPS",
    "MAX_RESULTS_THRESHOLD",
    "NULL_OPS",
    "NUMERIC_OPS",
    "RUN_LIST_ATTRIBUTES",
    "RUN_NUMERIC_ATTRIBUTES",
    "RUN_STRING_ATTRIBUTES",
    "STRING_OPS",
    "Comparison",
    "OrderKey",
    "decode_page_token",
    "encode_page_token",
    "experiment_matches",
    "experiment_order_with_tiebreakers",
    "like_to_regex",
    "paginate",
    "parse_experiment_filter",
    "parse_experiment_order_by",
    "parse_order_by",
    "parse_run_filter",
    "run_matches",
    "run_order_with_tiebreakers",
    "sort_experiments",
    "sort_runs",
    "validate_max_results",
]
