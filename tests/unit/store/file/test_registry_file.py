"""The mlruns-folder registry passes the registry contract and keeps MLflow's layout."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kiln.errors import InvalidInput
from kiln.store.file.registry import FileRegistryStore, open_file_registry_store
from kiln.store.protocols.registry import RegistryStore
from kiln.testing.contracts import Capability, RegistryStoreContract, TickingClock


@pytest.fixture
def registry_clock() -> TickingClock:
    return TickingClock()


@pytest.fixture
def registry_store(tmp_path: Path, registry_clock: TickingClock) -> RegistryStore:
    return FileRegistryStore(tmp_path / "mlruns", clock=registry_clock)


class TestFileRegistryStore(RegistryStoreContract):
    """The shared contract; the mlruns layout has no workspaces: only ``default`` opens."""

    lacks = frozenset({Capability.WORKSPACES})

    @pytest.fixture
    def open_workspace(self, tmp_path: Path) -> Callable[[str], RegistryStore]:
        uri = (tmp_path / "mlruns").as_uri()
        return lambda workspace: open_file_registry_store(uri, workspace=workspace)


def test_layout_is_mlflows(tmp_path: Path) -> None:
    store = FileRegistryStore(tmp_path)
    store.create_registered_model("m", tags={"a/b": "1"}, description="d")
    store.create_model_version("m", "s3://b/1", run_id="r" * 32, tags={"t": "v"})
    store.create_model_version("m", "s3://b/2")
    store.set_registered_model_alias("m", "champ", 1)
    store.delete_model_version("m", 2)
    folder = tmp_path / "models" / "m"
    assert yaml.safe_load((folder / "meta.yaml").read_text())["description"] == "d"
    assert (folder / "tags" / "a" / "b").read_text() == "1"
    assert (folder / "aliases" / "champ").read_text() == "1"
    v1 = yaml.safe_load((folder / "version-1" / "meta.yaml").read_text())
    assert (v1["source"], v1["current_stage"], v1["version"]) == ("s3://b/1", "None", 1)
    assert (folder / "version-1" / "tags" / "t").read_text() == "v"
    v2 = yaml.safe_load((folder / "version-2" / "meta.yaml").read_text())
    assert v2["current_stage"] == "Deleted_Internal"
    assert not [p for p in folder.rglob("*") if p.name.startswith(".kiln-tmp-")]


def test_a_second_store_on_the_folder_sees_every_write(tmp_path: Path) -> None:
    """Two processes (server workers, the CLI) share the folder, not a memory."""
    first, second = FileRegistryStore(tmp_path), FileRegistryStore(tmp_path)
    first.create_registered_model("m")
    first.create_model_version("m", "s3://b/1")
    first.delete_model_version("m", 1)
    assert second.create_model_version("m", "s3://b/2").version == 2
    second.rename_registered_model("m", "n")
    assert first.create_model_version("n", "s3://b/3").version == 3
    assert sorted(os.listdir(tmp_path / "models" / "n")) == [
        "meta.yaml",
        "version-1",
        "version-2",
        "version-3",
    ]
    first.delete_registered_model("n")
    assert not (tmp_path / "models" / "n").exists()


def test_dot_is_not_a_model_name(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a unique path"):
        FileRegistryStore(tmp_path).create_registered_model(".")


def test_mlflow_reads_what_kiln_wrote_and_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.entities.model_registry as registry
    import mlflow.store.model_registry.file_store as file_store

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    # MLflow's create_model_version opens the tracking store: keep it in this folder.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tmp_path.as_uri())
    kiln = FileRegistryStore(tmp_path)
    kiln.create_registered_model("m", tags={"team": "a"})
    kiln.create_model_version("m", "s3://b/1", tags={"t": "v"})
    kiln.create_model_version("m", "s3://b/2")
    kiln.delete_model_version("m", 2)
    kiln.set_registered_model_alias("m", "champ", 1)
    theirs = file_store.FileStore(str(tmp_path))
    model = theirs.get_registered_model("m")
    assert (model.tags, model.aliases) == ({"team": "a"}, {"champ": "1"})
    version = theirs.get_model_version("m", "1")
    assert (version.source, version.tags, version.aliases) == ("s3://b/1", {"t": "v"}, ["champ"])
    mv = theirs.create_model_version("m", "s3://b/3", tags=[registry.ModelVersionTag("x", "y")])
    assert mv.version == 3
    theirs.transition_model_version_stage("m", "3", "Production", False)
    again = kiln.get_model_version("m", 3)
    assert (again.source, again.tags, again.current_stage) == ("s3://b/3", {"x": "y"}, "Production")
    assert [v.version for v in kiln.search_model_versions()] == [3, 1]


def test_reading_writes_nothing(tmp_path: Path) -> None:
    """An import's source (an MLflow folder) stays as it was."""
    store = FileRegistryStore(tmp_path / "mlruns")
    assert list(store.search_registered_models()) == []
    assert not (tmp_path / "mlruns").exists()
    store.create_registered_model("m")
    before = sorted(p.name for p in (tmp_path / "mlruns" / "models").iterdir())
    assert FileRegistryStore(tmp_path / "mlruns").get_registered_model("m").name == "m"
    assert sorted(p.name for p in (tmp_path / "mlruns" / "models").iterdir()) == before
