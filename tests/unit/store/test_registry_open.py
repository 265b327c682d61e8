"""open_registry_store: the registry's URI table."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.errors import InvalidUri
from kiln.store.file.registry import FileRegistryStore
from kiln.store.memory.registry import MemoryRegistryStore
from kiln.store.open import open_registry_store
from kiln.store.rest.registry import RestRegistryStore
from kiln.store.sql.engine import dispose_engine, normalize_uri
from kiln.store.sql.registry import SqlRegistryStore


def test_sqlite_uri_opens_the_sql_registry(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'k.db'}"
    store = open_registry_store(uri, workspace="team")
    assert isinstance(store, SqlRegistryStore)
    assert store.workspace == "team"
    store.create_registered_model("m")
    assert open_registry_store(uri, workspace="team").get_registered_model("m").name == "m"
    dispose_engine(normalize_uri(uri))


def test_other_schemes() -> None:
    assert isinstance(open_registry_store("memory://", workspace="default"), MemoryRegistryStore)
    rest = open_registry_store("http://127.0.0.1:5000", workspace="default")
    assert isinstance(rest, RestRegistryStore)
    rest.close()


def test_file_uris_open_the_mlruns_registry(tmp_path: Path) -> None:
    store = open_registry_store((tmp_path / "mlruns").as_uri(), workspace="default")
    assert isinstance(store, FileRegistryStore)
    store.create_registered_model("m")
    assert (tmp_path / "mlruns" / "models" / "m" / "meta.yaml").is_file()


def test_unknown_schemes_have_no_registry() -> None:
    with pytest.raises(InvalidUri, match="no model registry"):
        open_registry_store("ftp://host/x", workspace="default")
