"""The run part of the ``TrackingStore`` contract: create, update, delete and restore
runs, run names, params and tags.
"""

from __future__ import annotations

import re

import pytest

from kiln.entities import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_WORKSPACE,
    LifecycleStage,
    Metric,
    Param,
    RunStatus,
    RunTag,
)
from kiln.errors import Conflict, InvalidInput, NotFound
from kiln.store.protocols.tracking import TrackingStore
from kiln.testing.contracts.support import T0, new_run

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


class TrackingRunContract:
    """Mixed into ``TrackingStoreContract``; uses its ``store`` fixture."""

    # runs --------------------------------------------------------------------
    def test_create_run(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("runs")
        run = store.create_run(
            experiment_id,
            user_id="alice",
            start_time=T0,
            tags=[RunTag("team", "vision")],
            run_name="first",
        )
        assert _RUN_ID.match(run.info.run_id)
        assert run.run_id == run.info.run_id
        assert run.info.experiment_id == experiment_id
        assert run.info.run_name == "first"
        assert run.info.user_id == "alice"
        assert run.info.status is RunStatus.RUNNING
        assert run.info.start_time == T0
        assert run.info.end_time is None
        assert run.info.lifecycle_stage is LifecycleStage.ACTIVE
        assert run.info.workspace == DEFAULT_WORKSPACE
        assert run.info.artifact_uri.endswith(f"{run.run_id}/artifacts")
        assert run.data.tags == {
            "team": "vision",
            "mlflow.runName": "first",
            "mlflow.user": "alice",
        }
        assert run.data.params == {}
        assert run.data.metrics == {}
        assert store.get_run(run.run_id) == run

    def test_create_run_defaults(self, store: TrackingStore) -> None:
        first = new_run(store)
        second = new_run(store)
        assert first.run_id != second.run_id
        assert first.info.experiment_id == DEFAULT_EXPERIMENT_ID
        assert first.info.start_time > 1_600_000_000_000  # "now", in milliseconds
        assert first.info.run_name
        assert first.data.tags["mlflow.runName"] == first.info.run_name
        assert "mlflow.user" not in first.data.tags

    def test_run_name_from_tag(self, store: TrackingStore) -> None:
        tagged = new_run(store, tags=[RunTag("mlflow.runName", "from-tag")])
        assert tagged.info.run_name == "from-tag"
        both = new_run(store, tags=[RunTag("mlflow.runName", "same")], run_name="same")
        assert both.info.run_name == "same"
        assert both.data.tags["mlflow.runName"] == "same"

    def test_run_name_and_tag_disagreeing_is_invalid(self, store: TrackingStore) -> None:
        with pytest.raises(InvalidInput, match=r"mlflow\.runName"):
            new_run(store, tags=[RunTag("mlflow.runName", "a")], run_name="b")
        assert store.search_runs([DEFAULT_EXPERIMENT_ID]).items == []

    def test_run_name_too_long_is_invalid(self, store: TrackingStore) -> None:
        with pytest.raises(InvalidInput, match="run name"):
            new_run(store, run_name="x" * 251)

    def test_create_run_with_bad_tag_is_invalid(self, store: TrackingStore) -> None:
        with pytest.raises(InvalidInput, match="tag key"):
            new_run(store, tags=[RunTag("../escape", "v")])
        assert store.search_runs([DEFAULT_EXPERIMENT_ID]).items == []

    @pytest.mark.parametrize("run_id", ["f" * 32, "0123456789abcdef0123456789abcdef"])
    def test_unknown_run_is_not_found(self, store: TrackingStore, run_id: str) -> None:
        with pytest.raises(NotFound, match=run_id):
            store.get_run(run_id)
        with pytest.raises(NotFound, match=run_id):
            store.get_metric_history(run_id, "loss")

    @pytest.mark.parametrize("run_id", ["", "not-a-run", "F" * 32, "../" * 11])
    def test_malformed_run_id_is_rejected(self, store: TrackingStore, run_id: str) -> None:
        # the message names the bad id, or the field when the id is empty (MLflow's REST answer)
        with pytest.raises((NotFound, InvalidInput), match=rf"'{re.escape(run_id)}'|'run_id'"):
            store.get_run(run_id)

    @pytest.mark.parametrize(
        "call",
        [
            lambda s, r: s.log_metric(r, Metric("m", 1.0, T0, 0)),
            lambda s, r: s.log_param(r, Param("p", "v")),
            lambda s, r: s.set_tag(r, RunTag("t", "v")),
            lambda s, r: s.delete_tag(r, "t"),
            lambda s, r: s.log_batch(r, metrics=[Metric("m", 1.0, T0, 0)]),
            lambda s, r: s.update_run_info(r, status=RunStatus.FINISHED),
            lambda s, r: s.delete_run(r),
            lambda s, r: s.restore_run(r),
        ],
        ids=["metric", "param", "tag", "delete_tag", "batch", "update", "delete", "restore"],
    )
    def test_writes_to_unknown_run_are_not_found(self, store: TrackingStore, call: object) -> None:
        with pytest.raises(NotFound, match="e" * 32):
            call(store, "e" * 32)  # type: ignore[operator]

    def test_update_run_info(self, store: TrackingStore) -> None:
        run = new_run(store, start_time=T0)
        info = store.update_run_info(run.run_id, status=RunStatus.FINISHED, end_time=T0 + 5)
        assert info.status is RunStatus.FINISHED
        assert info.end_time == T0 + 5
        assert info.run_name == run.info.run_name
        assert store.get_run(run.run_id).info == info
        again = store.update_run_info(run.run_id, status=RunStatus.FAILED)
        assert again.status is RunStatus.FAILED
        assert again.end_time == T0 + 5

    def test_update_run_name_updates_the_tag(self, store: TrackingStore) -> None:
        run = new_run(store, run_name="before")
        info = store.update_run_info(run.run_id, run_name="after")
        assert info.run_name == "after"
        fetched = store.get_run(run.run_id)
        assert fetched.info.run_name == "after"
        assert fetched.data.tags["mlflow.runName"] == "after"

    def test_setting_the_run_name_tag_renames_the_run(self, store: TrackingStore) -> None:
        run = new_run(store, run_name="before")
        store.set_tag(run.run_id, RunTag("mlflow.runName", "renamed"))
        assert store.get_run(run.run_id).info.run_name == "renamed"

    def test_delete_and_restore_run(self, store: TrackingStore) -> None:
        run = new_run(store)
        store.delete_run(run.run_id)
        assert store.get_run(run.run_id).info.lifecycle_stage is LifecycleStage.DELETED
        store.delete_run(run.run_id)  # idempotent
        store.restore_run(run.run_id)
        restored = store.get_run(run.run_id)
        assert restored.info.lifecycle_stage is LifecycleStage.ACTIVE
        store.log_param(run.run_id, Param("after", "restore"))
        assert store.get_run(run.run_id).data.params == {"after": "restore"}

    @pytest.mark.parametrize(
        "call",
        [
            lambda s, r: s.log_metric(r, Metric("m", 1.0, T0, 0)),
            lambda s, r: s.log_param(r, Param("p", "v")),
            lambda s, r: s.set_tag(r, RunTag("t", "v")),
            lambda s, r: s.delete_tag(r, "team"),
            lambda s, r: s.log_batch(r, params=[Param("p", "v")]),
            lambda s, r: s.update_run_info(r, status=RunStatus.FINISHED, end_time=T0),
        ],
        ids=["metric", "param", "tag", "delete_tag", "batch", "update"],
    )
    def test_writes_to_deleted_run_are_a_conflict(self, store: TrackingStore, call: object) -> None:
        run = new_run(store, tags=[RunTag("team", "x")])
        store.delete_run(run.run_id)
        with pytest.raises(Conflict, match=run.run_id):
            call(store, run.run_id)  # type: ignore[operator]
        after = store.get_run(run.run_id)
        assert after.data == run.data
        assert after.info.status is RunStatus.RUNNING

    def test_returned_runs_are_snapshots(self, store: TrackingStore) -> None:
        run = new_run(store)
        run.data.tags["sneaky"] = "edit"
        run.data.params["p"] = "v"
        fetched = store.get_run(run.run_id)
        assert "sneaky" not in fetched.data.tags
        assert fetched.data.params == {}

    # params ------------------------------------------------------------------
    def test_params_are_write_once(self, store: TrackingStore) -> None:
        run = new_run(store)
        store.log_param(run.run_id, Param("lr", "0.1"))
        store.log_param(run.run_id, Param("lr", "0.1"))
        with pytest.raises(Conflict, match="lr"):
            store.log_param(run.run_id, Param("lr", "0.2"))
        assert store.get_run(run.run_id).data.params == {"lr": "0.1"}

    def test_param_value_limits(self, store: TrackingStore) -> None:
        run = new_run(store)
        store.log_param(run.run_id, Param("long", "x" * 6000))
        store.log_param(run.run_id, Param("empty", ""))
        with pytest.raises(InvalidInput, match="6000"):
            store.log_param(run.run_id, Param("toolong", "x" * 6001))
        assert store.get_run(run.run_id).data.params == {"long": "x" * 6000, "empty": ""}

    # tags --------------------------------------------------------------------
    def test_tags_set_overwrite_delete(self, store: TrackingStore) -> None:
        run = new_run(store)
        store.set_tag(run.run_id, RunTag("stage", "dev"))
        store.set_tag(run.run_id, RunTag("stage", "prod"))
        store.set_tag(run.run_id, RunTag("note", "x" * 8000))
        tags = store.get_run(run.run_id).data.tags
        assert tags["stage"] == "prod"
        assert tags["note"] == "x" * 8000
        store.delete_tag(run.run_id, "stage")
        assert "stage" not in store.get_run(run.run_id).data.tags
        with pytest.raises(NotFound, match="stage"):
            store.delete_tag(run.run_id, "stage")

    def test_tag_value_limit(self, store: TrackingStore) -> None:
        run = new_run(store)
        with pytest.raises(InvalidInput, match="8000"):
            store.set_tag(run.run_id, RunTag("note", "x" * 8001))


__all__ = ["TrackingRunContract"]
