"""The contract every ``TrackingStore`` passes (see ``kiln.store.protocols.tracking``).

A backend's test module subclasses ``TrackingStoreContract`` and provides a fixture
``store`` returning a fresh, empty store of the default workspace::

    class TestMemoryStore(TrackingStoreContract):
        @pytest.fixture
        def store(self) -> TrackingStore:
            return open_memory_store("memory://")

Optionally it also overrides ``other_workspace_store``: a store over the same
backend (same database, folder or server) bound to workspace ``"team-b"``. Without
it the tenant-isolation tests are skipped.

The tests use only the Protocol, never sleep, and pass explicit start times where
order matters, so they run unchanged against SQL, file, REST and memory stores.
"""

from __future__ import annotations

import math
import re

import pytest

from kiln.entities import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    DEFAULT_WORKSPACE,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from kiln.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from kiln.store.protocols.tracking import TrackingStore
from kiln.testing.dataset_contract import DatasetInputContract
from kiln.testing.metric_contract import MetricPointContract

OTHER_WORKSPACE = "team-b"
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_T0 = 1_700_000_000_000


def _new_run(store: TrackingStore, experiment_id: str | None = None, **kwargs: object) -> Run:
    return store.create_run(experiment_id or DEFAULT_EXPERIMENT_ID, **kwargs)  # type: ignore[arg-type]


def _names(runs: object) -> list[str]:
    return [run.info.run_name for run in runs]  # type: ignore[attr-defined]


def _all_runs(store: TrackingStore, experiment_ids: list[str], **kwargs: object) -> list[Run]:
    """Every page of a search, joined."""
    out: list[Run] = []
    token: str | None = None
    while True:
        page = store.search_runs(experiment_ids, page_token=token, **kwargs)  # type: ignore[arg-type]
        out.extend(page.items)
        token = page.next_page_token
        if token is None:
            return out


class TrackingStoreContract(DatasetInputContract, MetricPointContract):
    """Subclass in a backend's test module and define the ``store`` fixture.

    Dataset-input tests come from ``kiln.testing.dataset_contract``, the tests of
    idempotent metric writes from ``kiln.testing.metric_contract``.
    """

    @pytest.fixture
    def other_workspace_store(self) -> TrackingStore:
        pytest.skip("this backend's tests define no other_workspace_store fixture")

    # store -------------------------------------------------------------------
    def test_store_satisfies_the_protocol(self, store: TrackingStore) -> None:
        assert isinstance(store, TrackingStore)
        assert store.workspace == DEFAULT_WORKSPACE
        assert isinstance(store.default_artifact_root, str)
        assert store.default_artifact_root

    # experiments -------------------------------------------------------------
    def test_default_experiment_exists(self, store: TrackingStore) -> None:
        default = store.get_experiment(DEFAULT_EXPERIMENT_ID)
        assert default.name == DEFAULT_EXPERIMENT_NAME
        assert default.lifecycle_stage is LifecycleStage.ACTIVE
        assert default.workspace == DEFAULT_WORKSPACE
        by_name = store.get_experiment_by_name(DEFAULT_EXPERIMENT_NAME)
        assert by_name is not None
        assert by_name.experiment_id == DEFAULT_EXPERIMENT_ID

    def test_create_experiment(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("churn", tags=[RunTag("team", "growth")])
        assert experiment_id.isdigit()
        assert experiment_id != DEFAULT_EXPERIMENT_ID
        experiment = store.get_experiment(experiment_id)
        assert experiment.experiment_id == experiment_id
        assert experiment.name == "churn"
        assert experiment.tags == {"team": "growth"}
        assert experiment.lifecycle_stage is LifecycleStage.ACTIVE
        assert experiment.artifact_location.rstrip("/").endswith(experiment_id)
        assert isinstance(experiment.creation_time, int)
        assert isinstance(experiment.last_update_time, int)
        assert experiment.last_update_time >= experiment.creation_time

    def test_experiment_ids_are_distinct(self, store: TrackingStore) -> None:
        ids = {store.create_experiment(f"e{i}") for i in range(5)}
        assert len(ids) == 5
        assert DEFAULT_EXPERIMENT_ID not in ids

    def test_create_experiment_with_artifact_location(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("located", artifact_location="s3://bucket/x")
        assert store.get_experiment(experiment_id).artifact_location == "s3://bucket/x"

    def test_duplicate_experiment_name_is_rejected(self, store: TrackingStore) -> None:
        store.create_experiment("dup")
        with pytest.raises(AlreadyExists, match="dup"):
            store.create_experiment("dup")

    def test_name_of_a_deleted_experiment_stays_taken(self, store: TrackingStore) -> None:
        store.delete_experiment(store.create_experiment("gone"))
        with pytest.raises(AlreadyExists, match="gone"):
            store.create_experiment("gone")

    @pytest.mark.parametrize("bad", ["", "   ", "x" * 501])
    def test_invalid_experiment_name_is_rejected(self, store: TrackingStore, bad: str) -> None:
        with pytest.raises(InvalidInput, match="experiment name"):
            store.create_experiment(bad)

    def test_unknown_experiment_is_not_found(self, store: TrackingStore) -> None:
        with pytest.raises(NotFound, match="123456"):
            store.get_experiment("123456")
        assert store.get_experiment_by_name("no-such-experiment") is None

    @pytest.mark.parametrize(
        "call",
        [
            lambda s: s.rename_experiment("123456", "x"),
            lambda s: s.delete_experiment("123456"),
            lambda s: s.restore_experiment("123456"),
            lambda s: s.set_experiment_tag("123456", RunTag("k", "v")),
            lambda s: s.delete_experiment_tag("123456", "k"),
            lambda s: s.create_run("123456"),
        ],
        ids=["rename", "delete", "restore", "set_tag", "delete_tag", "create_run"],
    )
    def test_writes_to_unknown_experiment_are_not_found(
        self, store: TrackingStore, call: object
    ) -> None:
        with pytest.raises(NotFound, match=r"experiment.*'123456'"):
            call(store)  # type: ignore[operator]

    def test_rename_experiment(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("old")
        store.rename_experiment(experiment_id, "new")
        assert store.get_experiment(experiment_id).name == "new"
        assert store.get_experiment_by_name("old") is None
        found = store.get_experiment_by_name("new")
        assert found is not None
        assert found.experiment_id == experiment_id
        store.rename_experiment(experiment_id, "new")  # same name: no-op

    def test_rename_experiment_rejects_taken_and_invalid_names(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("first")
        store.create_experiment("second")
        with pytest.raises(AlreadyExists, match="second"):
            store.rename_experiment(experiment_id, "second")
        with pytest.raises(InvalidInput, match="experiment name"):
            store.rename_experiment(experiment_id, "")
        assert store.get_experiment(experiment_id).name == "first"

    def test_rename_deleted_experiment_is_a_conflict(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("doomed")
        store.delete_experiment(experiment_id)
        with pytest.raises(Conflict, match=experiment_id):
            store.rename_experiment(experiment_id, "other")

    def test_delete_and_restore_experiment_cascade_to_runs(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("lifecycle")
        run = _new_run(store, experiment_id)
        store.delete_experiment(experiment_id)
        deleted = store.get_experiment(experiment_id)
        assert deleted.lifecycle_stage is LifecycleStage.DELETED
        assert store.get_run(run.run_id).info.lifecycle_stage is LifecycleStage.DELETED
        by_name = store.get_experiment_by_name("lifecycle")
        assert by_name is not None
        assert by_name.lifecycle_stage is LifecycleStage.DELETED
        store.restore_experiment(experiment_id)
        assert store.get_experiment(experiment_id).lifecycle_stage is LifecycleStage.ACTIVE
        assert store.get_run(run.run_id).info.lifecycle_stage is LifecycleStage.ACTIVE

    def test_delete_twice_and_restore_active_are_not_found(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("twice")
        with pytest.raises(NotFound, match=experiment_id):
            store.restore_experiment(experiment_id)
        store.delete_experiment(experiment_id)
        with pytest.raises(NotFound, match=experiment_id):
            store.delete_experiment(experiment_id)

    def test_create_run_in_deleted_experiment_is_a_conflict(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("closed")
        store.delete_experiment(experiment_id)
        with pytest.raises(Conflict, match=experiment_id):
            store.create_run(experiment_id)

    def test_experiment_tags(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("tagged", tags=[RunTag("a", "1")])
        store.set_experiment_tag(experiment_id, RunTag("a", "2"))
        store.set_experiment_tag(experiment_id, RunTag("b", "x" * 20000))
        assert store.get_experiment(experiment_id).tags == {"a": "2", "b": "x" * 20000}
        store.delete_experiment_tag(experiment_id, "a")
        assert store.get_experiment(experiment_id).tags == {"b": "x" * 20000}
        with pytest.raises(NotFound, match="'a'"):
            store.delete_experiment_tag(experiment_id, "a")

    def test_experiment_tag_limits(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("limits")
        with pytest.raises(InvalidInput, match="20000"):
            store.set_experiment_tag(experiment_id, RunTag("big", "x" * 20001))
        with pytest.raises(InvalidInput, match="experiment tag key"):
            store.set_experiment_tag(experiment_id, RunTag("../up", "v"))
        with pytest.raises(InvalidInput, match="experiment tag key"):
            store.create_experiment("bad-tags", tags=[RunTag("", "v")])
        assert store.get_experiment_by_name("bad-tags") is None
        assert store.get_experiment(experiment_id).tags == {}

    def test_experiment_tag_on_deleted_experiment_is_a_conflict(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("frozen", tags=[RunTag("k", "v")])
        store.delete_experiment(experiment_id)
        with pytest.raises(Conflict, match=experiment_id):
            store.set_experiment_tag(experiment_id, RunTag("k", "w"))
        with pytest.raises(Conflict, match=experiment_id):
            store.delete_experiment_tag(experiment_id, "k")

    def test_search_experiments_view_types(self, store: TrackingStore) -> None:
        live = store.create_experiment("live")
        dead = store.create_experiment("dead")
        store.delete_experiment(dead)

        def ids(view: ViewType) -> set[str]:
            return {e.experiment_id for e in store.search_experiments(view_type=view)}

        assert ids(ViewType.ACTIVE_ONLY) == {DEFAULT_EXPERIMENT_ID, live}
        assert ids(ViewType.DELETED_ONLY) == {dead}
        assert ids(ViewType.ALL) == {DEFAULT_EXPERIMENT_ID, live, dead}
        assert {e.experiment_id for e in store.search_experiments()} == {
            DEFAULT_EXPERIMENT_ID,
            live,
        }

    def test_search_experiments_filters(self, store: TrackingStore) -> None:
        a = store.create_experiment("fraud-a", tags=[RunTag("team", "risk")])
        b = store.create_experiment("Fraud-B", tags=[RunTag("team", "growth")])
        c = store.create_experiment("churn")

        def names(filter_string: str) -> set[str]:
            return {e.name for e in store.search_experiments(filter_string=filter_string)}

        assert names("name = 'fraud-a'") == {"fraud-a"}
        assert names("attributes.name LIKE 'fraud%'") == {"fraud-a"}
        assert names("name ILIKE 'fraud%'") == {"fraud-a", "Fraud-B"}
        assert names("name != 'churn' AND name != 'Default'") == {"fraud-a", "Fraud-B"}
        assert names("tags.team = 'risk'") == {"fraud-a"}
        assert names("tags.team LIKE '%o%'") == {"Fraud-B"}
        assert names("tags.team IS NULL") == {"churn", "Default"}
        assert names("tags.team IS NOT NULL AND name ILIKE '%b'") == {"Fraud-B"}
        assert names(f"experiment_id IN ('{a}', '{c}')") == {"fraud-a", "churn"}
        created = store.get_experiment(b).creation_time
        assert created is not None
        assert "Fraud-B" in names(f"creation_time >= {created}")
        assert "Fraud-B" not in names(f"creation_time < {created}")
        assert names("last_update_time < 0") == set()

    def test_search_experiments_order_and_pagination(self, store: TrackingStore) -> None:
        for name in ["e3", "e1", "e4", "e0", "e2"]:
            store.create_experiment(name)
        seen: list[str] = []
        token: str | None = None
        while True:
            page = store.search_experiments(max_results=2, order_by=["name DESC"], page_token=token)
            assert len(page.items) <= 2
            seen.extend(e.name for e in page.items)
            token = page.next_page_token
            if token is None:
                break
        assert seen == ["e4", "e3", "e2", "e1", "e0", "Default"]

    def test_search_experiments_default_order(self, store: TrackingStore) -> None:
        for i in range(4):
            store.create_experiment(f"order-{i}")
        found = list(store.search_experiments().items)
        expected = sorted(found, key=lambda e: (-(e.creation_time or 0), int(e.experiment_id)))
        assert [e.experiment_id for e in found] == [e.experiment_id for e in expected]
        by_id = store.search_experiments(order_by=["experiment_id ASC"])
        assert [e.experiment_id for e in by_id] == sorted((e.experiment_id for e in found), key=int)

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"filter_string": "name = 'a' OR name = 'b'"}, "OR"),
            ({"filter_string": "params.a = 'x'"}, "params"),
            ({"filter_string": "name > 'a'"}, "'>'"),
            ({"order_by": ["tags.a"]}, "order_by"),
            ({"max_results": 0}, "max_results"),
            ({"max_results": 50001}, "max_results"),
            ({"page_token": "garbage!"}, "page token"),
        ],
    )
    def test_search_experiments_rejects_bad_arguments(
        self, store: TrackingStore, kwargs: dict[str, object], message: str
    ) -> None:
        with pytest.raises(InvalidInput, match=message):
            store.search_experiments(**kwargs)  # type: ignore[arg-type]

    # runs --------------------------------------------------------------------
    def test_create_run(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("runs")
        run = store.create_run(
            experiment_id,
            user_id="alice",
            start_time=_T0,
            tags=[RunTag("team", "vision")],
            run_name="first",
        )
        assert _RUN_ID.match(run.info.run_id)
        assert run.run_id == run.info.run_id
        assert run.info.experiment_id == experiment_id
        assert run.info.run_name == "first"
        assert run.info.user_id == "alice"
        assert run.info.status is RunStatus.RUNNING
        assert run.info.start_time == _T0
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
        first = _new_run(store)
        second = _new_run(store)
        assert first.run_id != second.run_id
        assert first.info.experiment_id == DEFAULT_EXPERIMENT_ID
        assert first.info.start_time > 1_600_000_000_000  # "now", in milliseconds
        assert first.info.run_name
        assert first.data.tags["mlflow.runName"] == first.info.run_name
        assert "mlflow.user" not in first.data.tags

    def test_run_name_from_tag(self, store: TrackingStore) -> None:
        tagged = _new_run(store, tags=[RunTag("mlflow.runName", "from-tag")])
        assert tagged.info.run_name == "from-tag"
        both = _new_run(store, tags=[RunTag("mlflow.runName", "same")], run_name="same")
        assert both.info.run_name == "same"
        assert both.data.tags["mlflow.runName"] == "same"

    def test_run_name_and_tag_disagreeing_is_invalid(self, store: TrackingStore) -> None:
        with pytest.raises(InvalidInput, match=r"mlflow\.runName"):
            _new_run(store, tags=[RunTag("mlflow.runName", "a")], run_name="b")
        assert store.search_runs([DEFAULT_EXPERIMENT_ID]).items == []

    def test_run_name_too_long_is_invalid(self, store: TrackingStore) -> None:
        with pytest.raises(InvalidInput, match="run name"):
            _new_run(store, run_name="x" * 251)

    def test_create_run_with_bad_tag_is_invalid(self, store: TrackingStore) -> None:
        with pytest.raises(InvalidInput, match="tag key"):
            _new_run(store, tags=[RunTag("../escape", "v")])
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
            lambda s, r: s.log_metric(r, Metric("m", 1.0, _T0, 0)),
            lambda s, r: s.log_param(r, Param("p", "v")),
            lambda s, r: s.set_tag(r, RunTag("t", "v")),
            lambda s, r: s.delete_tag(r, "t"),
            lambda s, r: s.log_batch(r, metrics=[Metric("m", 1.0, _T0, 0)]),
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
        run = _new_run(store, start_time=_T0)
        info = store.update_run_info(run.run_id, status=RunStatus.FINISHED, end_time=_T0 + 5)
        assert info.status is RunStatus.FINISHED
        assert info.end_time == _T0 + 5
        assert info.run_name == run.info.run_name
        assert store.get_run(run.run_id).info == info
        again = store.update_run_info(run.run_id, status=RunStatus.FAILED)
        assert again.status is RunStatus.FAILED
        assert again.end_time == _T0 + 5

    def test_update_run_name_updates_the_tag(self, store: TrackingStore) -> None:
        run = _new_run(store, run_name="before")
        info = store.update_run_info(run.run_id, run_name="after")
        assert info.run_name == "after"
        fetched = store.get_run(run.run_id)
        assert fetched.info.run_name == "after"
        assert fetched.data.tags["mlflow.runName"] == "after"

    def test_setting_the_run_name_tag_renames_the_run(self, store: TrackingStore) -> None:
        run = _new_run(store, run_name="before")
        store.set_tag(run.run_id, RunTag("mlflow.runName", "renamed"))
        assert store.get_run(run.run_id).info.run_name == "renamed"

    def test_delete_and_restore_run(self, store: TrackingStore) -> None:
        run = _new_run(store)
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
            lambda s, r: s.log_metric(r, Metric("m", 1.0, _T0, 0)),
            lambda s, r: s.log_param(r, Param("p", "v")),
            lambda s, r: s.set_tag(r, RunTag("t", "v")),
            lambda s, r: s.delete_tag(r, "team"),
            lambda s, r: s.log_batch(r, params=[Param("p", "v")]),
            lambda s, r: s.update_run_info(r, status=RunStatus.FINISHED, end_time=_T0),
        ],
        ids=["metric", "param", "tag", "delete_tag", "batch", "update"],
    )
    def test_writes_to_deleted_run_are_a_conflict(self, store: TrackingStore, call: object) -> None:
        run = _new_run(store, tags=[RunTag("team", "x")])
        store.delete_run(run.run_id)
        with pytest.raises(Conflict, match=run.run_id):
            call(store, run.run_id)  # type: ignore[operator]
        after = store.get_run(run.run_id)
        assert after.data == run.data
        assert after.info.status is RunStatus.RUNNING

    def test_returned_runs_are_snapshots(self, store: TrackingStore) -> None:
        run = _new_run(store)
        run.data.tags["sneaky"] = "edit"
        run.data.params["p"] = "v"
        fetched = store.get_run(run.run_id)
        assert "sneaky" not in fetched.data.tags
        assert fetched.data.params == {}

    # params ------------------------------------------------------------------
    def test_params_are_write_once(self, store: TrackingStore) -> None:
        run = _new_run(store)
        store.log_param(run.run_id, Param("lr", "0.1"))
        store.log_param(run.run_id, Param("lr", "0.1"))
        with pytest.raises(Conflict, match="lr"):
            store.log_param(run.run_id, Param("lr", "0.2"))
        assert store.get_run(run.run_id).data.params == {"lr": "0.1"}

    def test_param_value_limits(self, store: TrackingStore) -> None:
        run = _new_run(store)
        store.log_param(run.run_id, Param("long", "x" * 6000))
        store.log_param(run.run_id, Param("empty", ""))
        with pytest.raises(InvalidInput, match="6000"):
            store.log_param(run.run_id, Param("toolong", "x" * 6001))
        assert store.get_run(run.run_id).data.params == {"long": "x" * 6000, "empty": ""}

    # metrics -----------------------------------------------------------------
    def test_metric_history_is_ordered_by_step_then_timestamp(self, store: TrackingStore) -> None:
        run = _new_run(store)
        for value, timestamp, step in [(3.0, 30, 2), (1.0, 10, 0), (2.5, 25, 1), (2.0, 20, 1)]:
            store.log_metric(run.run_id, Metric("loss", value, _T0 + timestamp, step))
        history = store.get_metric_history(run.run_id, "loss")
        assert [(m.step, m.timestamp - _T0, m.value) for m in history] == [
            (0, 10, 1.0),
            (1, 20, 2.0),
            (1, 25, 2.5),
            (2, 30, 3.0),
        ]
        assert all(m.key == "loss" for m in history)
        assert store.get_metric_history(run.run_id, "other") == []

    def test_metric_history_keeps_special_values_once(self, store: TrackingStore) -> None:
        run = _new_run(store)
        for step, value in enumerate([math.nan, math.inf, -math.inf, 1.5]):
            store.log_metric(run.run_id, Metric("m", value, _T0, step))
            store.log_metric(run.run_id, Metric("m", value, _T0, step))  # an exact repeat
        history = store.get_metric_history(run.run_id, "m")
        assert len(history) == 4
        assert math.isnan(history[0].value)
        assert [m.value for m in history[1:]] == [math.inf, -math.inf, 1.5]

    def test_integer_metric_values_read_back_as_numbers(self, store: TrackingStore) -> None:
        run = _new_run(store)
        store.log_metric(run.run_id, Metric("count", 7, _T0, 0))
        data = store.get_run(run.run_id).data
        assert data.metrics["count"] == 7.0
        assert isinstance(data.metrics["count"], float)
        assert isinstance(data.metric_objects["count"].value, float)

    def test_latest_metric_prefers_step_then_timestamp_then_value(
        self, store: TrackingStore
    ) -> None:
        run = _new_run(store)
        rid = run.run_id
        store.log_metric(rid, Metric("by_step", 9.0, _T0 + 100, 1))
        store.log_metric(rid, Metric("by_step", 5.0, _T0 + 50, 2))  # newer step, older time
        store.log_metric(rid, Metric("by_time", 1.0, _T0 + 20, 3))
        store.log_metric(rid, Metric("by_time", 2.0, _T0 + 10, 3))
        store.log_metric(rid, Metric("by_value", 1.0, _T0, 0))
        store.log_metric(rid, Metric("by_value", 4.0, _T0, 0))
        store.log_metric(rid, Metric("by_value", 2.0, _T0, 0))
        store.log_metric(rid, Metric("nan_loses", 3.0, _T0, 0))
        store.log_metric(rid, Metric("nan_loses", math.nan, _T0, 0))
        store.log_metric(rid, Metric("nan_alone", math.nan, _T0, 0))
        metrics = store.get_run(rid).data.metric_objects
        assert metrics["by_step"] == Metric("by_step", 5.0, _T0 + 50, 2)
        assert metrics["by_time"] == Metric("by_time", 1.0, _T0 + 20, 3)
        assert metrics["by_value"].value == 4.0
        assert metrics["nan_loses"].value == 3.0
        assert math.isnan(metrics["nan_alone"].value)

    @pytest.mark.parametrize(
        "key", ["", "../up", "a/../b", "/abs", "a//b", "x/", "bad\\key", "k" * 251]
    )
    def test_bad_keys_are_invalid(self, store: TrackingStore, key: str) -> None:
        run = _new_run(store)
        with pytest.raises(InvalidInput, match="key"):
            store.log_metric(run.run_id, Metric(key, 1.0, _T0, 0))
        with pytest.raises(InvalidInput, match="key"):
            store.log_param(run.run_id, Param(key, "v"))
        with pytest.raises(InvalidInput, match="key"):
            store.set_tag(run.run_id, RunTag(key, "v"))
        after = store.get_run(run.run_id).data
        assert (after.metrics, after.params) == ({}, {})
        assert set(after.tags) == {"mlflow.runName"}

    def test_keys_with_allowed_punctuation_round_trip(self, store: TrackingStore) -> None:
        run = _new_run(store)
        key = "train/loss-v2.final:best value_1"
        store.log_metric(run.run_id, Metric(key, 1.0, _T0, 0))
        store.log_param(run.run_id, Param(key, "v"))
        data = store.get_run(run.run_id).data
        assert key in data.metrics
        assert data.params[key] == "v"
        assert len(store.get_metric_history(run.run_id, key)) == 1

    # tags --------------------------------------------------------------------
    def test_tags_set_overwrite_delete(self, store: TrackingStore) -> None:
        run = _new_run(store)
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
        run = _new_run(store)
        with pytest.raises(InvalidInput, match="8000"):
            store.set_tag(run.run_id, RunTag("note", "x" * 8001))

    # log_batch ---------------------------------------------------------------
    def test_log_batch_stores_everything(self, store: TrackingStore) -> None:
        run = _new_run(store)
        store.log_batch(
            run.run_id,
            metrics=[Metric("loss", 0.5, _T0, 0), Metric("loss", 0.4, _T0 + 1, 1)],
            params=[Param("lr", "0.1"), Param("lr", "0.1"), Param("depth", "3")],
            tags=[RunTag("stage", "dev")],
        )
        data = store.get_run(run.run_id).data
        assert data.params == {"lr": "0.1", "depth": "3"}
        assert data.tags["stage"] == "dev"
        assert data.metric_objects["loss"] == Metric("loss", 0.4, _T0 + 1, 1)
        assert len(store.get_metric_history(run.run_id, "loss")) == 2
        store.log_batch(run.run_id)  # empty batch: no-op

    def test_log_batch_with_one_bad_item_stores_nothing(self, store: TrackingStore) -> None:
        run = _new_run(store)
        with pytest.raises(InvalidInput, match="key"):
            store.log_batch(
                run.run_id,
                metrics=[Metric("good", 1.0, _T0, 0), Metric("../bad", 1.0, _T0, 0)],
                params=[Param("p", "v")],
                tags=[RunTag("t", "v")],
            )
        self._assert_untouched(store, run)

    def test_log_batch_param_conflict_stores_nothing(self, store: TrackingStore) -> None:
        run = _new_run(store)
        store.log_param(run.run_id, Param("lr", "0.1"))
        with pytest.raises(Conflict, match="lr"):
            store.log_batch(
                run.run_id,
                metrics=[Metric("m", 1.0, _T0, 0)],
                params=[Param("new", "v"), Param("lr", "0.2")],
                tags=[RunTag("t", "v")],
            )
        data = store.get_run(run.run_id).data
        assert data.params == {"lr": "0.1"}
        assert data.metrics == {}
        assert "t" not in data.tags
        assert store.get_metric_history(run.run_id, "m") == []

    def test_log_batch_contradicting_itself_stores_nothing(self, store: TrackingStore) -> None:
        run = _new_run(store)
        with pytest.raises(InvalidInput, match="twice"):
            store.log_batch(run.run_id, params=[Param("p", "1"), Param("p", "2")])
        self._assert_untouched(store, run)

    @pytest.mark.parametrize(
        ("metrics", "params", "tags", "message"),
        [
            (1001, 0, 0, "at most 1000 metrics. Got 1001 metrics"),
            (0, 101, 0, "at most 100 params. Got 101 params"),
            (0, 0, 101, "at most 100 tags. Got 101 tags"),
            (950, 0, 51, r"at most 1000 metrics, params, and tags\. Got 1001"),
        ],
    )
    def test_log_batch_limits(
        self, store: TrackingStore, metrics: int, params: int, tags: int, message: str
    ) -> None:
        run = _new_run(store)
        with pytest.raises(InvalidInput, match=message):
            store.log_batch(
                run.run_id,
                metrics=[Metric("m", float(i), _T0, i) for i in range(metrics)],
                params=[Param(f"p{i}", "v") for i in range(params)],
                tags=[RunTag(f"t{i}", "v") for i in range(tags)],
            )
        self._assert_untouched(store, run)

    def test_log_batch_at_the_limits_is_accepted(self, store: TrackingStore) -> None:
        # Params and tags count separately (as in MLflow): 100 of each fit one batch.
        run = _new_run(store)
        store.log_batch(
            run.run_id,
            metrics=[Metric("m", float(i), _T0, i) for i in range(800)],
            params=[Param(f"p{i}", "v") for i in range(100)],
            tags=[RunTag(f"t{i}", "v") for i in range(100)],
        )
        data = store.get_run(run.run_id).data
        assert len(data.params) == 100
        assert {f"t{i}" for i in range(100)} <= data.tags.keys()
        assert data.metrics["m"] == 799.0
        assert len(store.get_metric_history(run.run_id, "m")) == 800

    @staticmethod
    def _assert_untouched(store: TrackingStore, run: Run) -> None:
        after = store.get_run(run.run_id)
        assert after.data.params == {}
        assert after.data.metrics == {}
        assert after.data.tags == run.data.tags

    # search_runs -------------------------------------------------------------
    @pytest.fixture
    def populated(self, store: TrackingStore) -> dict[str, str]:
        """Five runs in one experiment; returns run name -> run id (plus "experiment")."""
        experiment_id = store.create_experiment("search")
        specs: list[tuple[str, int, dict[str, float], dict[str, str], dict[str, str]]] = [
            ("alpha", 1, {"loss": 0.5, "acc": 0.8}, {"opt": "adam", "lr": "0.1"}, {"g": "x"}),
            ("beta", 2, {"loss": 0.2}, {"opt": "sgd", "lr": "0.01"}, {"g": "y"}),
            ("gamma", 3, {"loss": math.nan}, {"opt": "Adam"}, {"g": "x"}),
            ("delta", 4, {"acc": 0.9}, {}, {}),
            ("epsilon", 5, {"loss": 0.9}, {"opt": "adamw"}, {"g": "y"}),
        ]
        ids: dict[str, str] = {"experiment": experiment_id}
        for name, offset, metrics, params, tags in specs:
            run = store.create_run(experiment_id, start_time=_T0 + offset, run_name=name)
            store.log_batch(
                run.run_id,
                metrics=[Metric(k, v, _T0, 0) for k, v in metrics.items()],
                params=[Param(k, v) for k, v in params.items()],
                tags=[RunTag(k, v) for k, v in tags.items()],
            )
            ids[name] = run.run_id
        store.update_run_info(ids["beta"], status=RunStatus.FINISHED, end_time=_T0 + 10)
        store.update_run_info(ids["delta"], status=RunStatus.FAILED, end_time=_T0 + 20)
        return ids

    def test_search_runs_default_order_is_newest_first(
        self, store: TrackingStore, populated: dict[str, str]
    ) -> None:
        page = store.search_runs([populated["experiment"]])
        assert _names(page) == ["epsilon", "delta", "gamma", "beta", "alpha"]
        assert page.next_page_token is None
        alpha = next(run for run in page if run.info.run_name == "alpha")
        assert alpha == store.get_run(populated["alpha"])

    @pytest.mark.parametrize(
        ("filter_string", "expected"),
        [
            ("metrics.loss < 0.6", {"alpha", "beta"}),
            ("metrics.loss >= 0.5", {"alpha", "epsilon"}),
            ("metrics.loss != 0.5", {"beta", "gamma", "epsilon"}),
            ("metrics.acc > 0", {"alpha", "delta"}),
            ("metrics.loss > 0 AND metrics.acc > 0", {"alpha"}),
            ("params.opt = 'adam'", {"alpha"}),
            ("params.opt != 'adam'", {"beta", "gamma", "epsilon"}),
            ("params.opt LIKE 'adam%'", {"alpha", "epsilon"}),
            ("params.opt ILIKE 'adam%'", {"alpha", "gamma", "epsilon"}),
            ("params.opt ILIKE '_dam'", {"alpha", "gamma"}),
            ("params.opt IS NULL", {"delta"}),
            ("params.lr IS NOT NULL", {"alpha", "beta"}),
            ("params.lr = '0.1' AND params.opt = 'adam'", {"alpha"}),
            ("tags.g = 'x'", {"alpha", "gamma"}),
            ("tags.g ILIKE 'Y'", {"beta", "epsilon"}),
            ("tags.g LIKE 'Y'", set()),
            ("tags.g IS NULL", {"delta"}),
            ("tags.`mlflow.runName` = 'beta'", {"beta"}),
            ("attributes.status = 'FINISHED'", {"beta"}),
            ("attributes.status != 'RUNNING'", {"beta", "delta"}),
            ("status LIKE 'F%'", {"beta", "delta"}),
            ("attributes.run_name = 'gamma'", {"gamma"}),
            ("run_name ILIKE '%TA'", {"beta", "delta"}),
            (f"attributes.start_time >= {_T0 + 4}", {"delta", "epsilon"}),
            (f"created < {_T0 + 2}", {"alpha"}),
            (f"attributes.end_time > {_T0 + 15}", {"delta"}),
            ("params.opt = 'nothing'", set()),
        ],
    )
    def test_search_runs_filters(
        self,
        store: TrackingStore,
        populated: dict[str, str],
        filter_string: str,
        expected: set[str],
    ) -> None:
        page = store.search_runs([populated["experiment"]], filter_string=filter_string)
        assert set(_names(page)) == expected

    def test_search_runs_nan_metrics_only_satisfy_not_equal(
        self, store: TrackingStore, populated: dict[str, str]
    ) -> None:
        experiment = [populated["experiment"]]
        for op in ("=", "<", ">", "<=", ">="):
            found = _names(store.search_runs(experiment, filter_string=f"metrics.loss {op} 0"))
            assert "gamma" not in found, op
        assert "gamma" in _names(store.search_runs(experiment, filter_string="metrics.loss != 0"))

    def test_search_runs_by_run_id_list(
        self, store: TrackingStore, populated: dict[str, str]
    ) -> None:
        a, b = populated["alpha"], populated["beta"]
        experiment = [populated["experiment"]]
        found = store.search_runs(experiment, filter_string=f"attributes.run_id IN ('{a}', '{b}')")
        assert set(_names(found)) == {"alpha", "beta"}
        rest = store.search_runs(experiment, filter_string=f"run_id NOT IN ('{a}', '{b}')")
        assert set(_names(rest)) == {"gamma", "delta", "epsilon"}

    @pytest.mark.parametrize(
        ("order_by", "expected"),
        [
            (["metrics.loss"], ["beta", "alpha", "epsilon", "gamma", "delta"]),
            (["metrics.loss DESC"], ["epsilon", "alpha", "beta", "gamma", "delta"]),
            (["metrics.acc ASC"], ["alpha", "delta", "epsilon", "gamma", "beta"]),
            (["params.lr"], ["beta", "alpha", "epsilon", "delta", "gamma"]),
            (["params.lr DESC"], ["alpha", "beta", "epsilon", "delta", "gamma"]),
            (["tags.g", "metrics.loss DESC"], ["alpha", "gamma", "epsilon", "beta", "delta"]),
            (["attributes.start_time ASC"], ["alpha", "beta", "gamma", "delta", "epsilon"]),
            (["run_name"], ["alpha", "beta", "delta", "epsilon", "gamma"]),
            (["end_time DESC"], ["delta", "beta", "epsilon", "gamma", "alpha"]),
            (["status", "start_time"], ["delta", "beta", "alpha", "gamma", "epsilon"]),
        ],
    )
    def test_search_runs_order_by(
        self,
        store: TrackingStore,
        populated: dict[str, str],
        order_by: list[str],
        expected: list[str],
    ) -> None:
        page = store.search_runs([populated["experiment"]], order_by=order_by)
        assert _names(page) == expected

    def test_search_runs_view_types(self, store: TrackingStore, populated: dict[str, str]) -> None:
        experiment = [populated["experiment"]]
        store.delete_run(populated["beta"])
        active = store.search_runs(experiment, run_view_type=ViewType.ACTIVE_ONLY)
        assert "beta" not in _names(active)
        assert len(active) == 4
        deleted = store.search_runs(experiment, run_view_type=ViewType.DELETED_ONLY)
        assert _names(deleted) == ["beta"]
        assert len(store.search_runs(experiment, run_view_type=ViewType.ALL)) == 5

    def test_search_runs_pagination_has_no_gaps_or_duplicates(self, store: TrackingStore) -> None:
        experiment_id = store.create_experiment("pages")
        created = {
            store.create_run(experiment_id, start_time=_T0 + i % 3, run_name=f"r{i}").run_id
            for i in range(11)
        }
        for order_by in ([], ["metrics.none DESC"], ["start_time ASC"]):
            seen: list[str] = []
            token: str | None = None
            pages = 0
            while True:
                page = store.search_runs(
                    [experiment_id], max_results=4, order_by=order_by, page_token=token
                )
                pages += 1
                assert len(page.items) <= 4
                seen.extend(run.run_id for run in page.items)
                token = page.next_page_token
                if token is None:
                    break
            assert pages == 3
            assert len(seen) == len(set(seen)) == 11
            assert set(seen) == created
            whole = store.search_runs([experiment_id], order_by=order_by)
            assert [run.run_id for run in whole] == seen

    def test_search_runs_across_experiments(self, store: TrackingStore) -> None:
        first = store.create_experiment("first")
        second = store.create_experiment("second")
        third = store.create_experiment("third")
        store.create_run(first, run_name="one", start_time=_T0 + 1)
        store.create_run(second, run_name="two", start_time=_T0 + 2)
        store.create_run(third, run_name="three", start_time=_T0 + 3)
        assert _names(store.search_runs([first, second])) == ["two", "one"]
        assert _names(_all_runs(store, [third, first], max_results=1)) == ["three", "one"]
        assert _names(store.search_runs([first, "987654"])) == ["one"]
        assert store.search_runs([]).items == []

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"filter_string": "metrics.loss > 1 OR params.a = 'b'"}, "OR"),
            ({"filter_string": "metrics.loss > 'x'"}, "number"),
            ({"filter_string": "params.a > 'x'"}, "'>'"),
            ({"filter_string": "attributes.nope = 'x'"}, "nope"),
            ({"filter_string": "params.a = 'unterminated"}, "quote"),
            ({"order_by": ["metrics.loss SIDEWAYS"]}, "order_by"),
            ({"order_by": ["attributes.nope"]}, "nope"),
            ({"max_results": 0}, "max_results"),
            ({"max_results": 50001}, "max_results"),
            ({"page_token": "garbage!"}, "page token"),
        ],
    )
    def test_search_runs_rejects_bad_arguments(
        self, store: TrackingStore, kwargs: dict[str, object], message: str
    ) -> None:
        with pytest.raises(InvalidInput, match=message):
            store.search_runs([DEFAULT_EXPERIMENT_ID], **kwargs)  # type: ignore[arg-type]

    # workspaces --------------------------------------------------------------
    def test_other_workspace_cannot_see_experiments(
        self, store: TrackingStore, other_workspace_store: TrackingStore
    ) -> None:
        other = other_workspace_store
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
        self, store: TrackingStore, other_workspace_store: TrackingStore
    ) -> None:
        other = other_workspace_store
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
        self, store: TrackingStore, other_workspace_store: TrackingStore
    ) -> None:
        other = other_workspace_store
        run = _new_run(store)
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


__all__ = ["OTHER_WORKSPACE", "TrackingStoreContract"]
