"""What a backend may lack, declared by its test class and checked by the suites.

A contract suite never skips for a missing capability. A backend's test class
declares what its backend lacks::

    class TestFileStore(TrackingStoreContract):
        lacks = frozenset({Capability.WORKSPACES})

and every test that needs the capability asserts the declared behaviour instead
(e.g. opening another workspace is refused with ``InvalidInput``). A backend that
does not declare a lack must pass the full tests, so a declaration that is wrong
either way fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum
from typing import ClassVar, Protocol

import pytest

from kiln.entities import DEFAULT_WORKSPACE
from kiln.errors import InvalidInput

OTHER_WORKSPACE = "team-b"


class Capability(Enum):
    """An optional capability of a store backend."""

    WORKSPACES = "workspaces"
    """Several workspaces over the same storage, each seeing only its own data.
    Lacking it: opening any workspace but ``default`` raises ``InvalidInput``."""

    HISTORY_IMPORT = "history import"
    """The tracking store implements ``kiln.store.protocols.history.HistoryImport``,
    so ``kiln import`` keeps run ids. Lacking it: ``copy_history`` re-creates runs
    under new ids, each tagged with its source run id."""

    RUNLESS_MODEL_METRICS = "logged-model metrics without a run"
    """A logged model's metric may name no run (``run_id`` None). Lacking it (the
    REST API logs a model's metrics through their run): such a metric raises
    ``InvalidInput`` and nothing of the call is written."""

    LOGGED_MODEL_IMPORT = "logged-model import"
    """``import_logged_model`` stores a model as it was, id included. Lacking it (no
    REST call keeps a model's id): it raises ``InvalidInput`` and writes nothing."""


class _Bound(Protocol):
    @property
    def workspace(self) -> str: ...


class BackendContract:
    """The base of every contract suite: the backend's declared lacks.

    A subclass for a backend provides, besides the suite's store fixture, the
    fixture ``open_workspace``: a callable opening the same storage (database,
    folder, server state) bound to the workspace it is given.
    """

    lacks: ClassVar[frozenset[Capability]] = frozenset()

    def refuses_workspaces(self, open_workspace: Callable[[str], _Bound]) -> bool:
        """Whether the backend declares it lacks workspaces, after asserting that it
        does what that declares: ``default`` opens, ``team-b`` is refused, clearly.

        A test of workspace isolation starts with ``if self.refuses_workspaces(...):
        return``: where another workspace cannot even be opened, it cannot see
        anything either.
        """
        if Capability.WORKSPACES not in self.lacks:
            return False
        assert open_workspace(DEFAULT_WORKSPACE).workspace == DEFAULT_WORKSPACE
        refusal = rf"workspace '{re.escape(OTHER_WORKSPACE)}' is not available.*no workspaces"
        with pytest.raises(InvalidInput, match=refusal):
            open_workspace(OTHER_WORKSPACE)
        return True


__all__ = ["OTHER_WORKSPACE", "BackendContract", "Capability"]
