"""Judging scoring answers: status, shape, finiteness."""

from __future__ import annotations

import pytest

from kiln.errors import AnswerMismatch
from kiln.examples.checks import check_answer


@pytest.mark.parametrize(
    ("body", "expected", "numbers"),
    [
        (b'{"predictions": [1.5, 2]}', 2, [1.5, 2.0]),
        (b"[0, 1, 1]", 3, [0.0, 1.0, 1.0]),
        (b'{"predictions": [[0.2, 0.8]]}', 1, [0.2, 0.8]),
        (b'{"predictions": [{"a": 1.0, "b": 2.0}]}', 1, [1.0, 2.0]),
    ],
)
def test_good_answers_give_their_numbers(body: bytes, expected: int, numbers: list[float]) -> None:
    assert check_answer(200, body, expected) == numbers


@pytest.mark.parametrize(
    ("status", "body", "expected", "message"),
    [
        (401, b'{"error_code": "UNAUTHENTICATED"}', 1, "HTTP 401"),
        (200, b"not json", 1, "not JSON"),
        (200, b'{"outputs": [1]}', 1, "no list of predictions"),
        (200, b'{"predictions": [1, 2]}', 3, "expected 3 predictions, got 2"),
        (200, b'{"predictions": [NaN]}', 1, "not finite"),
        (200, b'{"predictions": [1e999]}', 1, "not finite"),
        (200, b'{"predictions": ["high"]}', 1, "'high' is not a number"),
        (200, b'{"predictions": [null]}', 1, "None is not a number"),
        (200, b'{"predictions": [true]}', 1, "True is not a number"),
        (200, b'{"predictions": [[]]}', 1, "not a number or a row of numbers"),
    ],
)
def test_bad_answers_say_what_is_wrong(
    status: int, body: bytes, expected: int, message: str
) -> None:
    with pytest.raises(AnswerMismatch, match=message):
        check_answer(status, body, expected)
