"""The experiment part of the ``TrackingStore`` contract: create, rename, delete,
restore, tags and ``search_experiments``.
"""

from __future__ import annotations

import pytest

from kiln.entities import (
    DEFAULT_EXPERIMENT_ID,
    DEFAULT_EXPERIMENT_NAME,
    DEFAULT_WORKSPACE,
    LifecycleStage,
    RunTag,
    ViewType,
)
from kiln.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from kiln.store.protocols.tracking import TrackingStore
from kiln.testing.contracts.support import new_run


class TrackingExperimentContract:
    """Mixed into ``TrackingStoreContract``; uses its ``store`` fixture."""

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
        run = new_run(store, experiment_id)
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


__all__ = ["TrackingExperimentContract"]
