"""The contract suites: one per store kind, run by every backend of that kind.

Import them from here::

    from kiln.testing.contracts import Capability, TrackingStoreContract

A backend's test class subclasses the suite, provides its fixtures (the store, and
``open_workspace``) and declares what it lacks in ``lacks``
(``kiln.testing.contracts.capabilities``). One module per kind: ``tracking`` (made
of ``tracking_experiments``, ``tracking_runs``, ``tracking_metrics``,
``tracking_search``, ``tracking_datasets``, ``tracking_capabilities``),
``registry``, ``logged_models``, ``artifacts``, ``history`` (``HistoryImport``).
"""

from __future__ import annotations

from kiln.testing.contracts.artifacts import ArtifactStoreContract
from kiln.testing.contracts.capabilities import OTHER_WORKSPACE, BackendContract, Capability
from kiln.testing.contracts.history import HistoryImportContract
from kiln.testing.contracts.history_data import fill_history, snapshot
from kiln.testing.contracts.logged_models import LoggedModelStoreContract
from kiln.testing.contracts.registry import RegistryStoreContract
from kiln.testing.contracts.support import TickingClock
from kiln.testing.contracts.tracking import TrackingStoreContract
from kiln.testing.contracts.tracking_datasets import DatasetInputContract
from kiln.testing.contracts.tracking_metrics import MetricPointContract

__all__ = [
    "OTHER_WORKSPACE",
    "ArtifactStoreContract",
    "BackendContract",
    "Capability",
    "DatasetInputContract",
    "HistoryImportContract",
    "LoggedModelStoreContract",
    "MetricPointContract",
    "RegistryStoreContract",
    "TickingClock",
    "TrackingStoreContract",
    "fill_history",
    "snapshot",
]
