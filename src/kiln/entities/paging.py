"""One page of a paginated listing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """``items`` of one page; ``next_page_token`` is None on the last page."""

    items: Sequence[T]
    next_page_token: str | None = None

    @property
    def token(self) -> str | None:
        """MLflow's ``PagedList.token``: scripts page with ``page_token=page.token``."""
        return self.next_page_token

    def to_list(self) -> list[T]:
        """MLflow's ``PagedList.to_list()``: the items as a plain list."""
        return list(self.items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> T:
        return self.items[index]


__all__ = ["Page"]
