"""Pages: (being written; see /work/notes/issue14.md)."""

from __future__ import annotations

from kiln.server.ui.core import UiRoute

ROUTES: list[UiRoute] = []

__all__ = ["ROUTES"]
