"""The capability part of the ``TrackingStore`` contract: workspaces and history import.

Each test asserts what the backend's test class declares (``lacks``, see
``kiln.testing.contracts.capabilities``): the full behaviour where the backend has
the capability, the declared fallback where it lacks it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiln.entities import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    DEFAULT_WORKSPACE,
    LifecycleStage,
    Param,
    RunTag,
    ViewType,
)
from kiln.errors import NotFound
from kiln.store.memory.tracking import open_memory_store
from kiln.store.protocols.history import HistoryImport
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.transfer.history import IMPORTED_FROM_TAG, copy_history
from kiln.testing.contracts.capabilities import OTHER_WORKSPACE, BackendContract, Capability
from kiln.testing.contracts.support import T0, new_run

Opener = Callable[[str], TrackingStore]


class TrackingCapabilityContract(BackendContract):
    """Mixed into ``TrackingStoreContract``; uses its ``store`` and ``open_workspace``."""

    # workspaces ----------------------------------------------------------------
    def test_other_workspace_cannot_see_experiments(
        self, store: TrackingStore, open_workspace: Opener
    ) -> None:
        if self.refuses_workspaces(open_workspace):
            return
        other = open_workspace(OTHER_WORKSPACE)
        assert other.workspace == OTHER_WORKSPACE
        experiment_id = store.create_experiment("private")
        with pytest.raises(NotFound, match=experiment_id):
            other.get_experiment(experiment_id)
        assert other.get_experiment_by_name("private") is None
        visible = {e.experiment_id for e in other.search_experiments(view_type=ViewType.ALL)}
        assert experiment_id not in visible
        assert DEFAULT_EXPERIMENT_ID not in visible
        with pytest.raises(NotFound, match=experiment_id):
            other.delete_experiment(experiment_id)
        with pytest.raises(NotFound, match=experiment_id):
            other.create_run(experiment_id)
        assert store.get_experiment(experiment_id).lifecycle_stage is LifecycleStage.ACTIVE

    def test_workspaces_have_separate_names_and_defaults(
        self, store: TrackingStore, open_workspace: Opener
    ) -> None:
        if self.refuses_workspaces(open_workspace):
            return
        other = open_workspace(OTHER_WORKSPACE)
        mine = store.create_experiment("shared-name")
        theirs = other.create_experiment("shared-name")
        assert mine != theirs
        assert other.get_experiment(theirs).workspace == OTHER_WORKSPACE
        with pytest.raises(NotFound, match=f"'{DEFAULT_EXPERIMENT_ID}'"):
            other.get_experiment(DEFAULT_EXPERIMENT_ID)
        their_default = other.get_experiment_by_name(DEFAULT_EXPERIMENT_NAME)
        assert their_default is not None
        assert their_default.experiment_id != DEFAULT_EXPERIMENT_ID
        assert their_default.workspace == OTHER_WORKSPACE

    def test_other_workspace_cannot_touch_runs(
        self, store: TrackingStore, open_workspace: Opener
    ) -> None:
        if self.refuses_workspaces(open_workspace):
            return
        other = open_workspace(OTHER_WORKSPACE)
        run = new_run(store)
        with pytest.raises(NotFound, match=run.run_id):
            other.get_run(run.run_id)
        with pytest.raises(NotFound, match=run.run_id):
            other.log_param(run.run_id, Param("p", "v"))
        with pytest.raises(NotFound, match=run.run_id):
            other.delete_run(run.run_id)
        with pytest.raises(NotFound, match=run.run_id):
            other.get_metric_history(run.run_id, "m")
        assert other.search_runs([DEFAULT_EXPERIMENT_ID], run_view_type=ViewType.ALL).items == []
        fetched = store.get_run(run.run_id)
        assert fetched.info.lifecycle_stage is LifecycleStage.ACTIVE
        assert fetched.data.params == {}

    # history import --------------------------------------------------------------
    def test_kiln_import_keeps_run_ids_as_declared(self, store: TrackingStore) -> None:
        """With ``HistoryImport`` a copied run keeps its id; without, it gets a new
        one and the tag naming its source (the full suite: ``HistoryImportContract``)."""
        source = open_memory_store("memory://", workspace=DEFAULT_WORKSPACE)
        experiment_id = source.create_experiment("imported", tags=[RunTag("k", "v")])
        run = source.create_run(experiment_id, start_time=T0, run_name="r")
        report = copy_history(source, store, copy_artifacts=False)
        copied = store.get_run(report.run_ids[run.run_id])
        assert copied.info.run_name == "r"
        assert store.get_experiment(copied.info.experiment_id).tags == {"k": "v"}
        if Capability.HISTORY_IMPORT in self.lacks:
            assert not isinstance(store, HistoryImport)
            assert not report.ids_kept
            assert copied.run_id != run.run_id
            assert copied.data.tags[IMPORTED_FROM_TAG] == run.run_id
        else:
            assert isinstance(store, HistoryImport)
            assert report.ids_kept
            assert copied.run_id == run.run_id
            assert IMPORTED_FROM_TAG not in copied.data.tags
        again = copy_history(source, store, copy_artifacts=False)
        assert (again.runs_copied, again.runs_skipped) == (0, 1)


__all__ = ["TrackingCapabilityContract"]
