"""The one page-token codec (kiln.store.query.page_token): round trips, tampered
tokens and tokens carried over to another query."""

from __future__ import annotations

import base64
import json

import pytest

from kiln.errors import InvalidInput
from kiln.store.query.page_token import decode_page_token, encode_page_token, paginate

QUERY = {"experiment_ids": ["1"], "filter": "metrics.m > 1", "order_by": []}


@pytest.mark.parametrize("fingerprint", [None, QUERY])
def test_round_trip(fingerprint: dict[str, object] | None) -> None:
    for offset in (0, 1, 999):
        assert decode_page_token(encode_page_token(offset, fingerprint), fingerprint) == offset


def test_offset_only_token_is_mlflows_format() -> None:
    assert base64.b64decode(encode_page_token(7)) == b'{"offset": 7}'


def test_url_safe_alphabet_is_read_too() -> None:
    # the filter's ">" puts "+" or "/" into the standard alphabet's output
    token = encode_page_token(3, {"filter": ">>>???"})
    assert "+" in token or "/" in token
    safe = token.replace("+", "-").replace("/", "_")
    assert decode_page_token(safe, {"filter": ">>>???"}) == 3


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(b'{"page": 1}').decode(),
        encode_page_token(5)[:-2],  # cut short: bad padding
    ],
)
def test_tampered_tokens_are_invalid_input(token: str) -> None:
    with pytest.raises(InvalidInput, match=r"invalid page token .*pass back a next_page_token"):
        decode_page_token(token)


def test_an_edited_offset_is_refused() -> None:
    tampered = base64.b64encode(json.dumps({"offset": -4}).encode()).decode()
    with pytest.raises(InvalidInput, match="bad offset -4"):
        decode_page_token(tampered)


def test_a_token_from_another_query_is_refused() -> None:
    token = encode_page_token(10, QUERY)
    other = {**QUERY, "filter": "metrics.m > 2"}
    with pytest.raises(
        InvalidInput, match=r"different search \(experiment_ids, filter or order_by changed\)"
    ):
        decode_page_token(token, other)
    with pytest.raises(InvalidInput, match="different search"):
        decode_page_token(encode_page_token(10), QUERY)  # no fingerprint at all


def test_a_non_string_token_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="page token must be a string"):
        decode_page_token(12)  # type: ignore[arg-type]


def test_paginate_walks_every_item_once_and_checks_the_query() -> None:
    items = list(range(7))
    seen: list[int] = []
    token: str | None = None
    while True:
        page, token = paginate(items, token, 3, QUERY)
        seen.extend(page)
        if token is None:
            break
    assert seen == items
    _, token = paginate(items, None, 3, QUERY)
    with pytest.raises(InvalidInput, match="different search"):
        paginate(items, token, 3, {**QUERY, "order_by": ["x"]})
