"""The one tokenizer of MLflow's filter and ``order_by`` strings, for every kind.

Runs, experiments, registered models, model versions and logged models all read their
filters with ``Scanner``: clauses ``<key> <op> <value>`` joined by ``AND``. Each kind's
module then checks the keys, comparators and value types it allows. Where a kind's
syntax differs at the token level (the registry takes ``<>``, unquoted keys with
spaces and a trailing comma in IN lists), a ``Dialect`` says so; there is no second
scanner.

Tokens: keys are dot-separated parts, each bare (``[\\w-/:]+``) or quoted with
backticks or double quotes; strings take single or double quotes, a doubled quote is
one quote and a backslash keeps the next character (as MLflow's sqlparse does);
numbers are decimal floats; lists are ``('a', "b")``. Keywords are case-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from kiln.errors import InvalidInput
from kiln.store.query.limits import check_clause_count

Value = str | float | int | tuple[str, ...] | None
ValueKind = Literal["string", "number", "list", "none"]

NUMERIC_OPS = frozenset({"=", "!=", "<", ">", "<=", ">="})
STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
NULL_OPS = frozenset({"IS NULL", "IS NOT NULL"})
LIST_OPS = frozenset({"IN", "NOT IN"})
_BARE_KEY = re.compile(r"[\w\-/:]+")
_WORD = re.compile(r"[A-Za-z_]+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])")
_SYMBOL_OPS = ("!=", "<=", ">=", "<>", "==", "=", "<", ">")
# Words that end an unquoted key with spaces (``Dialect.spaced_keys``).
_KEY_STOP_WORDS = frozenset({"AND", "OR", "IN", "NOT", "LIKE", "ILIKE", "IS"})


@dataclass(frozen=True, slots=True)
class Dialect:
    """Token-level differences between the kinds' grammars.

    ``error_format`` words syntax errors (``{text}``: the filter, ``{message}``: what
    is wrong); ``op_aliases`` maps extra comparators onto canonical ones;
    ``spaced_keys`` lets an unquoted key hold spaces (``tags.my key = 'x'``);
    ``trailing_comma`` takes ``('a',)`` as an IN list.
    """

    error_format: str = "invalid filter {text!r}: {message}"
    op_aliases: tuple[tuple[str, str], ...] = ()
    spaced_keys: bool = False
    trailing_comma: bool = False


RUNS = Dialect()
REGISTRY = Dialect(
    error_format="Invalid filter {text!r}: cannot parse: {message}",
    op_aliases=(("<>", "!="),),
    spaced_keys=True,
    trailing_comma=True,
)


@dataclass(frozen=True, slots=True)
class KeyPart:
    """One dot-separated part of a key, and whether it was quoted."""

    text: str
    quoted: bool


@dataclass(frozen=True, slots=True)
class RawClause:
    """One clause as scanned: key parts, upper-case comparator and typed value.

    ``value_text`` is the value as written (for numbers whose precision matters);
    ``source`` is the clause's text, for error messages.
    """

    parts: tuple[KeyPart, ...]
    op: str
    value: Value
    value_kind: ValueKind
    source: str
    value_text: str = ""


class Scanner:
    """A hand-written recursive-descent reader over a filter or ``order_by`` entry."""

    def __init__(self, text: str, dialect: Dialect = RUNS) -> None:
        self.text = text
        self.pos = 0
        self.dialect = dialect

    def error(self, message: str) -> InvalidInput:
        return InvalidInput(self.dialect.error_format.format(text=self.text, message=message))

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

    def _bare_part(self) -> str | None:
        match = _BARE_KEY.match(self.text, self.pos)
        if match is None:
            return None
        self.pos = match.end()
        while self.dialect.spaced_keys:
            gap = self.pos
            while gap < len(self.text) and self.text[gap] == " ":
                gap += 1
            more = _BARE_KEY.match(self.text, gap) if gap > self.pos else None
            if more is None or more.group().upper() in _KEY_STOP_WORDS:
                break
            self.pos = more.end()
        return self.text[match.start() : self.pos]

    def identifier(self) -> tuple[KeyPart, ...]:
        self.skip_ws()
        parts: list[KeyPart] = []
        while True:
            if self.pos < len(self.text) and self.text[self.pos] in '`"':
                parts.append(KeyPart(self.quoted(self.text[self.pos]), quoted=True))
            else:
                bare = self._bare_part()
                if bare is None:
                    break
                parts.append(KeyPart(bare, quoted=False))
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
        aliases = dict(self.dialect.op_aliases)
        for symbol in _SYMBOL_OPS:
            if self.text.startswith(symbol, self.pos):
                self.pos += len(symbol)
                if symbol in aliases:
                    return aliases[symbol]
                if symbol in ("<>", "=="):
                    raise self.error(
                        f"unknown comparator {symbol!r}; use {'!=' if symbol == '<>' else '='}"
                    )
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
                self.skip_ws()
                if not (self.dialect.trailing_comma and self.text.startswith(")", self.pos)):
                    continue
            if self.pos < len(self.text) and self.text[self.pos] == ")":
                self.pos += 1
                return tuple(items)
            raise self.error(f"expected ',' or ')' in an IN list, found {self.peek_token()!r}")

    def clause(self) -> RawClause:
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
        if op in NULL_OPS:
            return RawClause(parts, op, None, "none", self.text[start : self.pos].strip())
        self.skip_ws()
        value_start = self.pos
        value, value_kind = self.value()
        source = self.text[start : self.pos].strip()
        return RawClause(parts, op, value, value_kind, source, self.text[value_start : self.pos])

    def clauses(self) -> list[RawClause]:
        """Every clause of the filter, in order.

        Raises:
            InvalidInput: blank text, bad syntax, ``OR`` or parentheses, or more
                clauses than ``MAX_FILTER_CLAUSES``.
        """
        if self.at_end():
            raise self.error("the filter is blank; pass None or a clause such as metrics.x > 1")
        out: list[RawClause] = []
        while True:
            out.append(self.clause())
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


__all__ = [
    "LIST_OPS",
    "NULL_OPS",
    "NUMERIC_OPS",
    "REGISTRY",
    "RUNS",
    "STRING_OPS",
    "Dialect",
    "KeyPart",
    "RawClause",
    "Scanner",
    "Value",
    "ValueKind",
]
