"""The one LIKE/ILIKE translation (kiln.store.query.like), as SQL reads LIKE."""

from __future__ import annotations

import pytest

from kiln.store.query.like import like


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("abc", "abc", True),
        ("abc", "a%", True),
        ("abc", "%c", True),
        ("abc", "a_c", True),
        ("abc", "a_", False),
        ("abc", "b%", False),  # anchored at the start
        ("abc", "%b", False),  # and at the end
        ("abc\n", "abc", False),  # "$" would let a trailing newline through; SQL does not
        ("a\nc", "a%c", True),  # % spans newlines, as in SQL
        ("a.c", "a.c", True),
        ("abc", "a.c", False),  # regex characters are literal
        ("a\\c", "a\\c", True),  # no escape character: a backslash is a backslash
        ("ABC", "abc", False),
    ],
)
def test_like(value: str, pattern: str, expected: bool) -> None:
    assert like(value, pattern) is expected


def test_ilike_ignores_case_only() -> None:
    assert like("ABC", "a%c", case_insensitive=True)
    assert not like("ABD", "a%c", case_insensitive=True)
