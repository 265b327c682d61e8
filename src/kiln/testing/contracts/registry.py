"""The contract every ``RegistryStore`` passes (see ``kiln.store.protocols.registry``).

A backend's test module subclasses ``RegistryStoreContract``, provides two
fixtures, ``registry_store`` (a fresh, empty store of workspace ``default``) and
``open_workspace`` (a callable opening the same storage bound to a workspace), and
declares what the backend lacks (``kiln.testing.contracts.capabilities``). Stores
should be built with a ``TickingClock`` so timestamps are distinct without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiln.entities import ModelVersionStage, ModelVersionStatus
from kiln.errors import AlreadyExists, InvalidInput, NotFound
from kiln.store.protocols.registry import RegistryStore
from kiln.testing.contracts.capabilities import OTHER_WORKSPACE, BackendContract


def _versions(store: RegistryStore, name: str, count: int) -> None:
    for i in range(count):
        store.create_model_version(name, f"s3://bucket/{name}/{i}", run_id=f"{i:032x}")


class RegistryStoreContract(BackendContract):
    """Subclass in a test module that defines ``registry_store`` and ``open_workspace``."""

    # registered models -------------------------------------------------------
    def test_create_and_get(self, registry_store: RegistryStore) -> None:
        created = registry_store.create_registered_model(
            "churn", tags={"team": "growth"}, description="first"
        )
        assert created.name == "churn"
        assert created.tags == {"team": "growth"}
        assert created.description == "first"
        assert created.creation_timestamp == created.last_updated_timestamp
        fetched = registry_store.get_registered_model("churn")
        assert fetched == created
        assert fetched.latest_versions == ()
        assert fetched.aliases == {}

    def test_duplicate_name_is_rejected(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("churn")
        with pytest.raises(AlreadyExists, match="already exists"):
            registry_store.create_registered_model("churn")

    @pytest.mark.parametrize("bad", ["", "  ", "a/b", "a:b", ".."])
    def test_invalid_names_are_rejected(self, registry_store: RegistryStore, bad: str) -> None:
        with pytest.raises(InvalidInput, match="name"):
            registry_store.create_registered_model(bad)

    def test_missing_model_is_not_found(self, registry_store: RegistryStore) -> None:
        with pytest.raises(NotFound, match="name=ghost not found"):
            registry_store.get_registered_model("ghost")
        with pytest.raises(NotFound, match="ghost"):
            registry_store.create_model_version("ghost", "s3://x")

    def test_update_description(self, registry_store: RegistryStore) -> None:
        before = registry_store.create_registered_model("m")
        after = registry_store.update_registered_model("m", "new words")
        assert after.description == "new words"
        assert after.last_updated_timestamp > before.last_updated_timestamp

    def test_rename_moves_versions_aliases_and_tags(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("old", tags={"k": "v"})
        _versions(registry_store, "old", 2)
        registry_store.set_registered_model_alias("old", "champion", 2)
        renamed = registry_store.rename_registered_model("old", "new")
        assert renamed.name == "new"
        assert renamed.tags == {"k": "v"}
        assert renamed.aliases == {"champion": 2}
        with pytest.raises(NotFound, match="old"):
            registry_store.get_registered_model("old")
        mv = registry_store.get_model_version("new", 2)
        assert mv.name == "new"
        assert mv.aliases == ("champion",)
        assert registry_store.create_model_version("new", "s3://x").version == 3

    def test_rename_onto_taken_name_fails(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("a")
        registry_store.create_registered_model("b")
        with pytest.raises(AlreadyExists, match="b"):
            registry_store.rename_registered_model("a", "b")
        assert registry_store.get_registered_model("a").name == "a"

    def test_delete_cascades_versions(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m", tags={"k": "v"})
        _versions(registry_store, "m", 2)
        registry_store.set_registered_model_alias("m", "prod", 1)
        registry_store.delete_registered_model("m")
        with pytest.raises(NotFound, match="m"):
            registry_store.get_model_version("m", 1)
        assert list(registry_store.search_model_versions("name = 'm'")) == []
        recreated = registry_store.create_registered_model("m")
        assert recreated.tags == {}
        assert recreated.aliases == {}
        assert registry_store.create_model_version("m", "s3://x").version == 1

    def test_model_tags(self, registry_store: RegistryStore) -> None:
        before = registry_store.create_registered_model("m")
        registry_store.set_registered_model_tag("m", "k", "v1")
        registry_store.set_registered_model_tag("m", "k", "v2")
        after = registry_store.get_registered_model("m")
        assert after.tags == {"k": "v2"}
        assert after.last_updated_timestamp == before.last_updated_timestamp
        registry_store.delete_registered_model_tag("m", "k")
        registry_store.delete_registered_model_tag("m", "never-set")
        assert registry_store.get_registered_model("m").tags == {}
        with pytest.raises(NotFound, match="ghost"):
            registry_store.set_registered_model_tag("ghost", "k", "v")
        with pytest.raises(InvalidInput, match="key"):
            registry_store.set_registered_model_tag("m", "../up", "v")

    # model versions ----------------------------------------------------------
    def test_versions_number_from_one(self, registry_store: RegistryStore) -> None:
        before = registry_store.create_registered_model("m")
        mv = registry_store.create_model_version(
            "m",
            "mlflow-artifacts:/1/abc/artifacts/model",
            run_id="a" * 32,
            tags={"t": "1"},
            run_link="http://x/run",
            description="d",
            model_id="m-123",
            storage_location="s3://bucket/artifacts/model",
        )
        assert mv.version == 1
        assert mv.status is ModelVersionStatus.READY
        assert mv.current_stage is ModelVersionStage.NONE
        assert (mv.source, mv.run_id, mv.run_link, mv.description, mv.model_id) == (
            "mlflow-artifacts:/1/abc/artifacts/model",
            "a" * 32,
            "http://x/run",
            "d",
            "m-123",
        )
        assert mv.tags == {"t": "1"}
        assert registry_store.create_model_version("m", "s3://x").version == 2
        assert registry_store.get_model_version("m", "1") == mv
        model = registry_store.get_registered_model("m")
        assert model.last_updated_timestamp > before.last_updated_timestamp

    def test_version_numbers_are_not_reused(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        _versions(registry_store, "m", 2)
        registry_store.delete_model_version("m", 2)
        assert registry_store.create_model_version("m", "s3://x").version == 3

    def test_bad_version_numbers(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        with pytest.raises(InvalidInput, match="version"):
            registry_store.get_model_version("m", "one")
        with pytest.raises(NotFound, match=r"version=7"):
            registry_store.get_model_version("m", 7)

    def test_update_and_delete_version(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        _versions(registry_store, "m", 2)
        updated = registry_store.update_model_version("m", 1, "better")
        assert updated.description == "better"
        assert updated.last_updated_timestamp > updated.creation_timestamp
        registry_store.set_registered_model_alias("m", "champion", 1)
        registry_store.delete_model_version("m", 1)
        with pytest.raises(NotFound, match="version=1"):
            registry_store.get_model_version("m", 1)
        assert registry_store.get_registered_model("m").aliases == {}
        with pytest.raises(NotFound, match="version=1"):
            registry_store.delete_model_version("m", 1)

    def test_version_tags(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        _versions(registry_store, "m", 1)
        registry_store.set_model_version_tag("m", 1, "k", "v")
        assert registry_store.get_model_version("m", 1).tags == {"k": "v"}
        registry_store.delete_model_version_tag("m", 1, "k")
        registry_store.delete_model_version_tag("m", 1, "absent")
        assert registry_store.get_model_version("m", 1).tags == {}
        with pytest.raises(NotFound, match="version=9"):
            registry_store.set_model_version_tag("m", 9, "k", "v")

    def test_download_uri_prefers_storage_location(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "runs:/r/model", storage_location="s3://b/r/model")
        registry_store.create_model_version("m", "s3://b/plain")
        assert registry_store.get_model_version_download_uri("m", 1) == "s3://b/r/model"
        assert registry_store.get_model_version_download_uri("m", 2) == "s3://b/plain"

    # stages ------------------------------------------------------------------
    def test_transition_and_latest_versions(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        _versions(registry_store, "m", 4)
        registry_store.transition_model_version_stage("m", 1, "production")
        registry_store.transition_model_version_stage("m", 2, "Staging")
        moved = registry_store.transition_model_version_stage("m", 3, "Production")
        assert moved.current_stage is ModelVersionStage.PRODUCTION
        latest = registry_store.get_latest_versions("m")
        assert [(mv.version, mv.current_stage.value) for mv in latest] == [
            (2, "Staging"),
            (3, "Production"),
            (4, "None"),
        ]
        prod = registry_store.get_latest_versions("m", ["production"])
        assert [mv.version for mv in prod] == [3]
        model = registry_store.get_registered_model("m")
        assert [mv.version for mv in model.latest_versions] == [2, 3, 4]
        with pytest.raises(InvalidInput, match="Invalid Model Version stage"):
            registry_store.transition_model_version_stage("m", 1, "Canary")

    def test_archive_existing_versions(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        _versions(registry_store, "m", 3)
        registry_store.transition_model_version_stage("m", 1, "Production")
        registry_store.transition_model_version_stage("m", 2, "Production")
        registry_store.transition_model_version_stage("m", 3, "Production", True)
        stages = [registry_store.get_model_version("m", v).current_stage for v in (1, 2, 3)]
        assert stages == [
            ModelVersionStage.ARCHIVED,
            ModelVersionStage.ARCHIVED,
            ModelVersionStage.PRODUCTION,
        ]
        with pytest.raises(InvalidInput, match="not an Active stage"):
            registry_store.transition_model_version_stage("m", 1, "Archived", True)

    # aliases -----------------------------------------------------------------
    def test_aliases(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        _versions(registry_store, "m", 3)
        registry_store.set_registered_model_alias("m", "champion", 1)
        registry_store.set_registered_model_alias("m", "challenger", "2")
        assert registry_store.get_model_version_by_alias("m", "champion").version == 1
        registry_store.set_registered_model_alias("m", "champion", 3)
        by_alias = registry_store.get_model_version_by_alias("m", "champion")
        assert (by_alias.version, by_alias.aliases) == (3, ("champion",))
        assert registry_store.get_registered_model("m").aliases == {"challenger": 2, "champion": 3}
        assert registry_store.get_model_version_by_alias("m", "latest").version == 3
        registry_store.delete_registered_model_alias("m", "champion")
        registry_store.delete_registered_model_alias("m", "champion")
        with pytest.raises(InvalidInput, match="alias champion not found"):
            registry_store.get_model_version_by_alias("m", "champion")

    @pytest.mark.parametrize(
        ("alias", "message"),
        [
            ("latest", "reserved"),
            ("LATEST", "reserved"),
            ("v1", "reserved"),
            ("V12", "reserved"),
            ("bad alias", "Invalid alias name"),
            ("", "cannot be empty|missing value"),
        ],
    )
    def test_alias_rules(self, registry_store: RegistryStore, alias: str, message: str) -> None:
        registry_store.create_registered_model("m")
        _versions(registry_store, "m", 1)
        with pytest.raises(InvalidInput, match=message):
            registry_store.set_registered_model_alias("m", alias, 1)

    def test_alias_needs_existing_version(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        with pytest.raises(NotFound, match="version=1"):
            registry_store.set_registered_model_alias("m", "champion", 1)
        with pytest.raises(NotFound, match="Latest version not found"):
            registry_store.get_model_version_by_alias("m", "latest")

    # search ------------------------------------------------------------------
    def test_search_models_filters(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("Alpha", tags={"team": "a"})
        registry_store.create_registered_model("alpha-2", tags={"team": "b"})
        registry_store.create_registered_model("beta", tags={"team": "a"})
        registry_store.create_registered_model("prompt", tags={"mlflow.prompt.is_prompt": "true"})

        def names(filter_string: str | None) -> list[str]:
            return [m.name for m in registry_store.search_registered_models(filter_string)]

        assert names(None) == ["Alpha", "alpha-2", "beta"]
        assert names("name = 'beta'") == ["beta"]
        assert names("name LIKE 'alpha%'") == ["alpha-2"]
        assert names("name ILIKE 'alpha%'") == ["Alpha", "alpha-2"]
        assert names("name != 'beta'") == ["Alpha", "alpha-2"]
        assert names("name IN ('beta', 'Alpha')") == ["Alpha", "beta"]
        assert names("tags.team = 'a'") == ["Alpha", "beta"]
        assert names("tags.`team` = 'a' AND name ILIKE '%a%'") == ["Alpha", "beta"]
        assert names("tags.missing = 'a'") == []
        assert names("tags.`mlflow.prompt.is_prompt` = 'true'") == ["prompt"]
        with pytest.raises(InvalidInput, match="Invalid attribute name"):
            names("run_id = 'x'")
        with pytest.raises(InvalidInput, match="quoted"):
            names("name = beta")

    def test_search_models_order_and_pages(self, registry_store: RegistryStore) -> None:
        for name in ["c", "a", "b", "d", "e"]:
            registry_store.create_registered_model(name)
        registry_store.update_registered_model("b", "touched")
        by_time = registry_store.search_registered_models(order_by=["last_updated_timestamp DESC"])
        assert [m.name for m in by_time] == ["b", "e", "d", "a", "c"]
        desc = registry_store.search_registered_models(order_by=["name DESC"])
        assert [m.name for m in desc] == ["e", "d", "c", "b", "a"]
        seen: list[str] = []
        token: str | None = None
        for _ in range(3):
            page = registry_store.search_registered_models(max_results=2, page_token=token)
            seen.extend(m.name for m in page)
            token = page.next_page_token
        assert seen == ["a", "b", "c", "d", "e"]
        assert token is None
        with pytest.raises(InvalidInput, match="order by key"):
            registry_store.search_registered_models(order_by=["run_id"])
        with pytest.raises(InvalidInput, match="at most 1000"):
            registry_store.search_registered_models(max_results=1001)

    def test_search_versions(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("a")
        registry_store.create_registered_model("b")
        run1, run2 = "1" * 32, "2" * 32
        registry_store.create_model_version("a", "s3://x/a1", run_id=run1, tags={"k": "v"})
        registry_store.create_model_version("a", "s3://x/a2", run_id=run2)
        registry_store.create_model_version("b", "s3://x/b1", run_id=run1)

        def found(filter_string: str | None, order: list[str] | None = None) -> list[str]:
            page = registry_store.search_model_versions(filter_string, order_by=order or ())
            return [f"{mv.name}/{mv.version}" for mv in page]

        assert found(None) == ["b/1", "a/2", "a/1"]
        assert found("name = 'a'") == ["a/2", "a/1"]
        assert found(f"run_id = '{run1}'") == ["b/1", "a/1"]
        assert found(f"run_id IN ('{run2}', 'zzz')") == ["a/2"]
        assert found("tags.k = 'v'") == ["a/1"]
        assert found("source_path LIKE 's3://x/a%'") == ["a/2", "a/1"]
        assert found("version_number >= 2") == ["a/2"]
        assert found(None, ["name ASC", "version_number ASC"]) == ["a/1", "a/2", "b/1"]
        assert found("name = 'a' AND version_number = 1") == ["a/1"]
        page = registry_store.search_model_versions(max_results=2)
        assert page.next_page_token is not None
        rest = registry_store.search_model_versions(max_results=2, page_token=page.next_page_token)
        assert [f"{mv.name}/{mv.version}" for mv in rest] == ["a/1"]
        with pytest.raises(InvalidInput, match="Invalid comparator"):
            found("source_path IN ('a')")

    # workspaces --------------------------------------------------------------
    def test_workspaces_are_isolated(
        self, registry_store: RegistryStore, open_workspace: Callable[[str], RegistryStore]
    ) -> None:
        if self.refuses_workspaces(open_workspace):
            return
        other_registry_store = open_workspace(OTHER_WORKSPACE)
        registry_store.create_registered_model("shared-name")
        registry_store.create_model_version("shared-name", "s3://default")
        other = other_registry_store.create_registered_model("shared-name")
        assert other_registry_store.workspace == other.workspace == OTHER_WORKSPACE
        assert other_registry_store.create_model_version("shared-name", "s3://o").version == 1
        registry_store.create_registered_model("only-default")
        with pytest.raises(NotFound, match="only-default"):
            other_registry_store.get_registered_model("only-default")
        assert [m.name for m in other_registry_store.search_registered_models()] == ["shared-name"]
        assert [mv.source for mv in other_registry_store.search_model_versions()] == ["s3://o"]
        other_registry_store.delete_registered_model("shared-name")
        assert registry_store.get_model_version("shared-name", 1).source == "s3://default"


__all__ = ["RegistryStoreContract"]
