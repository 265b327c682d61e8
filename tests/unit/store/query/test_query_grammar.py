"""The one filter scanner (kiln.store.query.grammar) and its dialects, and the shared
clause helpers: every kind reads its filters with the same tokens."""

from __future__ import annotations

import pytest

from kiln.errors import InvalidInput
from kiln.store.query.clauses import parse_filter, split_key
from kiln.store.query.grammar import REGISTRY, RUNS, Dialect, KeyPart, RawClause, Scanner
from kiln.store.query.registry import RegistryClause, parse_registry_filter


def _one(text: str, dialect: Dialect = RUNS) -> RawClause:
    (clause,) = Scanner(text, dialect).clauses()
    return clause


def test_scanner_reads_parts_comparator_and_typed_value() -> None:
    clause = _one("tags.`a b` ILIKE 'x''y%'")
    assert clause.parts == (KeyPart("tags", False), KeyPart("a b", True))
    assert (clause.op, clause.value, clause.value_kind) == ("ILIKE", "x'y%", "string")
    assert clause.source == "tags.`a b` ILIKE 'x''y%'"
    number = _one("metrics.m >= 1e3")
    assert (number.value, number.value_kind, number.value_text) == (1000.0, "number", "1e3")
    listed = _one("run_id not in ('a', \"b\")")
    assert (listed.op, listed.value, listed.value_kind) == ("NOT IN", ("a", "b"), "list")
    null = _one("params.p is not null")
    assert (null.op, null.value, null.value_kind) == ("IS NOT NULL", None, "none")


def test_scanner_keeps_a_backslash_escaped_quote_as_mlflow_does() -> None:
    assert _one(r"params.p = 'a\'b'").value == r"a\'b"
    assert _one(r"name = 'a\'b'", REGISTRY).value == r"a\'b"


def test_registry_dialect_differs_only_where_it_says() -> None:
    assert _one("name <> 'x'", REGISTRY).op == "!="
    with pytest.raises(InvalidInput, match="unknown comparator '<>'"):
        _one("name <> 'x'")
    assert _one("tags.my key = 'x'", REGISTRY).parts[1] == KeyPart("my key", False)
    with pytest.raises(InvalidInput, match="expected a comparator"):
        _one("tags.my key = 'x'")
    # a space before a comparator word ends the key
    assert _one("tags.my key IN ('x')", REGISTRY).op == "IN"
    assert _one("name IN ('a', )", REGISTRY).value == ("a",)
    with pytest.raises(InvalidInput, match="quoted strings only"):
        _one("run_id IN ('a', )")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 'x", "Invalid filter .*cannot parse: unterminated quote"),
        ("name", "Invalid filter 'name': cannot parse: expected a comparator"),
        ("name = 'a' OR name = 'b'", "OR is not supported"),
        ("(name = 'a')", "parentheses"),
    ],
)
def test_registry_syntax_errors_keep_the_registry_wording(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_registry_filter(text, for_versions=False)


@pytest.mark.parametrize("key", ["domain", "admin", "plugin", "unlike"])
def test_registry_tag_keys_ending_in_a_keyword_parse(key: str) -> None:
    # The old regex grammar read "tags.domain = 'x'" as "tags.doma IN ..." and refused it.
    assert parse_registry_filter(f"tags.{key} = 'x'", for_versions=False) == [
        RegistryClause("tag", key, "=", "x")
    ]


def test_registry_prefixes_fold_case_and_unknown_prefixes_name_an_attribute() -> None:
    assert parse_registry_filter("TAGS.t = 'v'", for_versions=False) == [
        RegistryClause("tag", "t", "=", "v")
    ]
    with pytest.raises(InvalidInput, match=r"Invalid attribute name: foo\.bar"):
        parse_registry_filter("foo.bar = 'v'", for_versions=False)


def test_registry_version_numbers_keep_int64_precision() -> None:
    big = 2**63 - 1
    assert parse_registry_filter(f"version_number = {big}", for_versions=True) == [
        RegistryClause("attribute", "version_number", "=", big)
    ]
    with pytest.raises(InvalidInput, match="numeric attribute"):
        parse_registry_filter("version_number = 1.5", for_versions=True)


def test_split_key_strict_and_lenient() -> None:
    parts = (KeyPart("x", False), KeyPart("y", False))
    with pytest.raises(InvalidInput, match="invalid entity type 'x'"):
        split_key(parts, "x.y = 1", {"tags": "tag"}, default="attribute")
    assert split_key(parts, "x.y", {"tags": "tag"}, default="attribute", strict=False) == (
        "attribute",
        "x.y",
    )
    upper = (KeyPart("TAGS", False), KeyPart("k", False))
    assert split_key(upper, "", {"tags": "tag"}, default="attribute", fold_case=True) == (
        "tag",
        "k",
    )


def test_parse_filter_takes_none_and_refuses_non_strings() -> None:
    assert parse_filter(None, lambda raw: RegistryClause("tag", "k", raw.op, "v")) == []
    with pytest.raises(InvalidInput, match="filter must be a string, got int"):
        parse_filter(3, lambda raw: RegistryClause("tag", "k", raw.op, "v"))  # type: ignore[arg-type]
