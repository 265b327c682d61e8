"""Reading every page of a store's search, for the copies of ``kiln import``/``export``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from kiln.entities import Page

T = TypeVar("T")


def all_items(search: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item ``search(page_token)`` answers, following ``next_page_token`` to the end."""
    token: str | None = None
    while True:
        page = search(token)
        yield from page.items
        token = page.next_page_token
        if not token:
            return


__all__ = ["all_items"]
