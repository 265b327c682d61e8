"""``kiln import``/``export`` carry the registry and logged models, and say so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from kiln.config import Settings
from kiln.errors import NotFound
from kiln.server.app import create_app
from kiln.store.file.registry import FileRegistryStore
from kiln.store.open import open_logged_model_store, open_registry_store, open_tracking_store
from kiln.store.rest.registry import RestRegistryStore
from kiln.testing.server import serve_in_thread

Invoke = Callable[..., Result]


def test_import_then_export_carries_registry_and_logged_models(
    kiln_cli: Invoke, store_uri: str, tmp_path: Path
) -> None:
    mlruns = tmp_path / "mlruns"
    tracking = open_tracking_store(mlruns.as_uri(), workspace="default")
    experiment_id = tracking.create_experiment("exp")
    root = tracking.get_experiment(experiment_id).artifact_location
    model = open_logged_model_store(mlruns.as_uri(), workspace="default").create_logged_model(
        experiment_id, root, name="m", params={"p": "1"}
    )
    registry = FileRegistryStore(mlruns)
    registry.create_registered_model("wine", tags={"team": "a"})
    registry.create_model_version("wine", f"models:/{model.model_id}", model_id=model.model_id)
    registry.set_registered_model_alias("wine", "champion", 1)

    imported = kiln_cli("import", str(mlruns))  # a bare path, as users type it
    assert imported.exit_code == 0, imported.output
    assert "registered models created" in imported.stdout
    assert open_registry_store(store_uri, workspace="default").get_registered_model(
        "wine"
    ).aliases == {"champion": 1}
    assert open_logged_model_store(store_uri, workspace="default").get_logged_model(
        model.model_id
    ).params == {"p": "1"}

    backup = tmp_path / "backup"
    exported = kiln_cli("export", "--to", backup.as_uri())
    assert exported.exit_code == 0, exported.output
    copy = FileRegistryStore(backup).get_model_version_by_alias("wine", "champion")
    assert copy.model_id == model.model_id
    assert (backup / experiment_id / "models" / model.model_id / "meta.yaml").is_file()


def test_a_server_destination_gets_the_registry_and_a_note_about_logged_models(
    kiln_cli: Invoke, tmp_path: Path
) -> None:
    mlruns = tmp_path / "mlruns"
    open_tracking_store(mlruns.as_uri(), workspace="default").create_experiment("exp")
    FileRegistryStore(mlruns).create_registered_model("wine")
    settings = Settings(
        home=tmp_path / "home",
        tracking_uri="unused",
        backend_store_uri=f"sqlite:///{tmp_path / 'server.db'}",
    )
    with serve_in_thread(create_app(settings)) as url:
        result = kiln_cli("import", str(mlruns), "--to", url)
        assert result.exit_code == 0, result.output
        assert "logged models" in result.stdout
        assert "not copied" in result.stdout
        served = open_registry_store(url, workspace="default")
        assert isinstance(served, RestRegistryStore)
        try:
            assert served.get_registered_model("wine").name == "wine"
        finally:
            served.close()


def test_kiln_workspace_chooses_the_models_copied(
    kiln_cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry and logged models of KILN_WORKSPACE are copied into that workspace,
    as its runs are (they once came from and went to ``default``)."""
    monkeypatch.setenv("KILN_WORKSPACE", "team-b")
    source = f"sqlite:///{tmp_path / 'source.db'}"
    tracking = open_tracking_store(source, workspace="team-b")
    experiment_id = tracking.create_experiment("exp")
    root = tracking.get_experiment(experiment_id).artifact_location
    models = open_logged_model_store(source, workspace="team-b")
    model = models.create_logged_model(experiment_id, root, name="m")
    registry = open_registry_store(source, workspace="team-b")
    registry.create_registered_model("wine")
    registry.create_model_version("wine", f"models:/{model.model_id}", model_id=model.model_id)

    dest = f"sqlite:///{tmp_path / 'dest.db'}"
    result = kiln_cli("import", source, "--to", dest)
    assert result.exit_code == 0, result.output
    copied = open_registry_store(dest, workspace="team-b").get_model_version("wine", 1)
    assert copied.model_id == model.model_id
    copied_model = open_logged_model_store(dest, workspace="team-b").get_logged_model(
        model.model_id
    )
    assert copied_model.name == "m"
    with pytest.raises(NotFound, match="wine"):
        open_registry_store(dest, workspace="default").get_registered_model("wine")
