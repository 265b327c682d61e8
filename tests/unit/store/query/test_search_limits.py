"""Every parser and page-token codec enforces the search limits the same way (at the
limit: taken; one past: ``InvalidInput`` naming the limit), and the readers of
integers and JSON refuse what Python itself would fail on."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from kiln.errors import InvalidInput
from kiln.server.responses import MAX_INT_DIGITS, decode_json
from kiln.store.query.experiments import parse_experiment_filter
from kiln.store.query.limits import (
    MAX_FILTER_CLAUSES,
    MAX_FILTER_KEYS,
    MAX_FILTER_LIST_ITEMS,
    MAX_ORDER_BY_KEYS,
    MAX_PAGE_OFFSET,
)
from kiln.store.query.logged_models import (
    parse_logged_model_filter,
    parse_logged_model_order_by,
)
from kiln.store.query.page_token import decode_page_token, encode_page_token
from kiln.store.query.registry import parse_registry_filter
from kiln.store.query.runs import parse_order_by, parse_run_filter
from kiln.store.rules.registry import validate_version
from kiln.wire.fields import MAX_JSON_DEPTH, as_int, nested_deeper_than, opt_enum

FINGERPRINT = {"experiment_ids": ["0"], "filter": "", "order_by": []}

# name -> (encode offset, decode token)
CODECS: dict[str, tuple[Callable[[int], str], Callable[[str], int]]] = {
    "offset only": (encode_page_token, decode_page_token),
    "with a query fingerprint": (
        lambda offset: encode_page_token(offset, FINGERPRINT),
        lambda token: decode_page_token(token, FINGERPRINT),
    ),
}

# name -> parse(filter string)
FILTERS: dict[str, Callable[[str], object]] = {
    "runs": parse_run_filter,
    "experiments": parse_experiment_filter,
    "logged models": parse_logged_model_filter,
    "registered models": lambda text: parse_registry_filter(text, for_versions=False),
    "model versions": lambda text: parse_registry_filter(text, for_versions=True),
}
# An IN list each grammar takes.
IN_KEYS = {
    "runs": "attributes.run_id",
    "experiments": "experiment_id",
    "logged models": "name",
    "registered models": "name",
    "model versions": "name",
}


def _b64(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_page_tokens_carry_offsets_up_to_the_limit(codec: str) -> None:
    encode, decode = CODECS[codec]
    assert decode(encode(MAX_PAGE_OFFSET)) == MAX_PAGE_OFFSET
    with pytest.raises(InvalidInput, match=f"above the limit of {MAX_PAGE_OFFSET}"):
        decode(encode(MAX_PAGE_OFFSET + 1))
    with pytest.raises(InvalidInput, match=f"above the limit of {MAX_PAGE_OFFSET}"):
        decode(encode(10**4000))


@pytest.mark.parametrize("codec", sorted(CODECS))
@pytest.mark.parametrize(
    "raw",
    [
        "7" * (MAX_INT_DIGITS + 1),  # json.loads raises a bare ValueError
        '{"offset": ' + "7" * (MAX_INT_DIGITS + 1) + "}",
        "[" * 100_000 + "]" * 100_000,  # json.loads raises RecursionError
        '{"offset": 1, "x": ' + "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1) + "}",
        '{"offset": [[[1]]]}',
        '{"offset": true}',
    ],
    ids=["huge int", "huge offset", "deep", "deep sibling", "nested offset", "boolean"],
)
def test_hostile_page_tokens_are_invalid_input(codec: str, raw: str) -> None:
    _, decode = CODECS[codec]
    with pytest.raises(InvalidInput, match="invalid page token"):
        decode(_b64(raw))


@pytest.mark.parametrize("grammar", sorted(FILTERS))
def test_filters_take_up_to_the_clause_limit(grammar: str) -> None:
    parse = FILTERS[grammar]
    at_limit = " and ".join(f"tags.t != 'v{i}'" for i in range(MAX_FILTER_CLAUSES))
    parse(at_limit)
    with pytest.raises(InvalidInput, match=f"the limit is {MAX_FILTER_CLAUSES} clauses"):
        parse(at_limit + " and tags.t != 'last'")


@pytest.mark.parametrize("grammar", sorted(FILTERS))
def test_filters_take_up_to_the_key_limit(grammar: str) -> None:
    parse = FILTERS[grammar]
    parse(" and ".join(f"tags.t{i} = 'v'" for i in range(MAX_FILTER_KEYS)))
    past = " and ".join(f"tags.t{i} = 'v'" for i in range(MAX_FILTER_KEYS + 1))
    with pytest.raises(InvalidInput, match=f"names {MAX_FILTER_KEYS + 1} distinct"):
        parse(past)


@pytest.mark.parametrize("grammar", sorted(FILTERS))
def test_filters_take_up_to_the_in_list_limit(grammar: str) -> None:
    parse, key = FILTERS[grammar], IN_KEYS[grammar]
    half = MAX_FILTER_LIST_ITEMS // 2
    items = ", ".join(f"'i{n}'" for n in range(half))
    two_lists = f"{key} IN ({items}) and {key} NOT IN ({items})"
    parse(two_lists)
    with pytest.raises(InvalidInput, match=f"the limit is {MAX_FILTER_LIST_ITEMS} in all"):
        parse(two_lists.replace("IN (", "IN ('one more', ", 1))


def test_run_order_by_takes_up_to_the_key_limit() -> None:
    keys = [f"metrics.m{i}" for i in range(MAX_ORDER_BY_KEYS)]
    assert len(parse_order_by(keys)) == MAX_ORDER_BY_KEYS
    with pytest.raises(InvalidInput, match=f"order_by has {MAX_ORDER_BY_KEYS + 1} entries"):
        parse_order_by([*keys, "params.p"])


def test_logged_model_order_by_takes_up_to_the_key_limit() -> None:
    entries: list[dict[str, Any]] = [
        {"field_name": f"metrics.m{i}"} for i in range(MAX_ORDER_BY_KEYS)
    ]
    assert len(parse_logged_model_order_by(entries)) == MAX_ORDER_BY_KEYS
    with pytest.raises(InvalidInput, match=f"the limit is {MAX_ORDER_BY_KEYS} keys"):
        parse_logged_model_order_by([*entries, {"field_name": "name"}])


@pytest.mark.parametrize(
    "text", ["7" * 5000, "-" + "7" * 5000, "0" * 5000 + "7" * 20, "9" * 20, "1" + "0" * 19]
)
def test_integer_strings_past_int64_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput, match="out of the int64 range"):
        as_int(text, "step")
    with pytest.raises(InvalidInput, match="out of the int64 range"):
        validate_version(text)
    with pytest.raises(InvalidInput, match="must be one of"):
        opt_enum({"status": text}, "status", {1: "RUNNING"})


def test_zero_padded_integers_within_int64_still_read() -> None:
    assert as_int("0" * 30 + "42", "step") == 42
    assert as_int("0" * 5000 + "1", "step") == 1  # int() alone refuses 5,001 digits
    assert as_int("-" + "0" * 30 + "42", "step") == -42
    assert validate_version(" 0007 ") == 7
    clauses = parse_registry_filter("version_number = " + "0" * 30 + "3", for_versions=True)
    assert clauses[0].value == 3


def test_a_registry_filter_on_a_huge_version_number_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="at most 19 digits"):
        parse_registry_filter("version_number > " + "7" * 5000, for_versions=True)


def _nested(depth: int) -> str:
    """An object holding ``depth - 1`` nested arrays: ``depth`` levels in all."""
    return '{"a":' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


@pytest.mark.parametrize("depth", [1, 2, MAX_JSON_DEPTH])
def test_json_up_to_the_depth_limit_decodes(depth: int) -> None:
    raw = _nested(depth)
    assert not nested_deeper_than(json.loads(raw), raw)
    assert decode_json(raw.encode())["a"] is not None


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1025, 100_000])
def test_json_past_the_depth_limit_is_invalid_input(depth: int) -> None:
    raw = _nested(depth)
    assert depth > 1024 or nested_deeper_than(json.loads(raw), raw)
    with pytest.raises(InvalidInput, match=f"the limit is {MAX_JSON_DEPTH} levels"):
        decode_json(raw.encode())


def test_json_with_many_shallow_containers_is_not_too_deep() -> None:
    """The bracket count only decides when to walk; width is not depth."""
    raw = json.dumps({"metrics": [{"key": f"m{i}", "value": [i]} for i in range(1000)]})
    assert not nested_deeper_than(json.loads(raw), raw)
    assert len(decode_json(raw.encode())["metrics"]) == 1000


@pytest.mark.parametrize(
    "raw",
    [
        '{"step": ' + "7" * (MAX_INT_DIGITS + 1) + "}",
        '{"value": NaN, "step": -' + "7" * (MAX_INT_DIGITS + 1) + "}",
        '{"a": [1, {"b": ' + "7" * 5000 + "}]}",
    ],
)
def test_json_integers_past_the_digit_limit_are_invalid_input(raw: str) -> None:
    with pytest.raises(InvalidInput, match=f"the limit is {MAX_INT_DIGITS}"):
        decode_json(raw.encode())


def test_json_integers_up_to_the_digit_limit_decode() -> None:
    document = decode_json(('{"step": ' + "7" * MAX_INT_DIGITS + "}").encode())
    assert len(str(document["step"])) == MAX_INT_DIGITS
