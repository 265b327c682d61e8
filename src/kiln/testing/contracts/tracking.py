"""The contract every ``TrackingStore`` passes (see ``kiln.store.protocols.tracking``).

A backend's test module subclasses ``TrackingStoreContract`` and provides two
fixtures: ``store``, a fresh, empty store of the default workspace, and
``open_workspace``, a callable opening the same storage bound to a workspace. It
declares what the backend lacks (``kiln.testing.contracts.capabilities``)::

    class TestSqliteStore(TrackingStoreContract):
        @pytest.fixture
        def store(self, db_uri: str) -> TrackingStore:
            return open_sql_store(db_uri, workspace="default")

        @pytest.fixture
        def open_workspace(self, db_uri: str) -> Callable[[str], TrackingStore]:
            return lambda workspace: open_sql_store(db_uri, workspace=workspace)

    class TestFileStore(TrackingStoreContract):
        lacks = frozenset({Capability.WORKSPACES})
        ...

The tests use only the Protocol, never sleep, and pass explicit start times where
order matters, so they run unchanged against SQL, file, REST and memory stores.
One module per part: experiments, runs, metrics, ``search_runs``, dataset inputs,
capabilities.
"""

from __future__ import annotations

from kiln.entities import DEFAULT_WORKSPACE
from kiln.store.protocols.tracking import TrackingStore
from kiln.testing.contracts.tracking_capabilities import TrackingCapabilityContract
from kiln.testing.contracts.tracking_datasets import DatasetInputContract
from kiln.testing.contracts.tracking_experiments import TrackingExperimentContract
from kiln.testing.contracts.tracking_metrics import MetricPointContract, TrackingMetricContract
from kiln.testing.contracts.tracking_runs import TrackingRunContract
from kiln.testing.contracts.tracking_search import TrackingSearchContract


class TrackingStoreContract(
    TrackingExperimentContract,
    TrackingRunContract,
    TrackingMetricContract,
    MetricPointContract,
    TrackingSearchContract,
    DatasetInputContract,
    TrackingCapabilityContract,
):
    """Subclass in a backend's test module; define ``store`` and ``open_workspace``."""

    def test_store_satisfies_the_protocol(self, store: TrackingStore) -> None:
        assert isinstance(store, TrackingStore)
        assert store.workspace == DEFAULT_WORKSPACE
        assert isinstance(store.default_artifact_root, str)
        assert store.default_artifact_root


__all__ = ["TrackingStoreContract"]
