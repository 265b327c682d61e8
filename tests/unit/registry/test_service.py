"""RegistryService: source resolution, register_model and models:/ URIs."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from kiln.entities import Run
from kiln.errors import InvalidInput, NotFound
from kiln.registry.service import RegistryService
from kiln.registry.uris import ModelUri, parse_model_uri, parse_runs_uri
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.memory.registry import MemoryRegistryStore
from kiln.store.open import open_artifact_store, open_tracking_store
from kiln.store.protocols.tracking import TrackingStore
from kiln.testing.contracts import TickingClock


@pytest.fixture
def tracking(tmp_path: Path) -> TrackingStore:
    return open_tracking_store(
        (tmp_path / "mlruns").as_uri(),
        workspace="default",
        artifact_root=(tmp_path / "artifacts").as_uri(),
    )


def _log_model(run: Run, path: str = "model") -> None:
    """What a run that logged a model holds: ``<path>/MLmodel``."""
    files = open_artifact_store(run.info.artifact_uri)
    files.write_stream(f"{path}/MLmodel", io.BytesIO(b"flavors: {}\n"))


@pytest.fixture
def service(tracking: TrackingStore) -> RegistryService:
    return RegistryService(
        MemoryRegistryStore(workspace="default", clock=TickingClock()),
        tracking=tracking,
        artifact_options=ArtifactOptions(),
    )


def test_runs_source_resolves_to_the_run_artifacts(
    service: RegistryService, tracking: TrackingStore
) -> None:
    run = tracking.create_run("0")
    _log_model(run)
    mv = service.register_model(f"runs:/{run.run_id}/model", "churn")
    assert (mv.version, mv.run_id, mv.source) == (1, run.run_id, f"runs:/{run.run_id}/model")
    expected = f"{run.info.artifact_uri.rstrip('/')}/model"
    assert service.get_model_version_download_uri("churn", 1) == expected
    assert service.register_model(f"runs:/{run.run_id}/model", "churn").version == 2


def test_runs_source_with_a_different_run_id_is_rejected(
    service: RegistryService, tracking: TrackingStore
) -> None:
    run = tracking.create_run("0")
    service.create_registered_model("m")
    with pytest.raises(InvalidInput, match="must identify the resource"):
        service.create_model_version("m", f"runs:/{run.run_id}/model", run_id="f" * 32)


def test_runs_source_of_a_missing_run_is_not_found(service: RegistryService) -> None:
    service.create_registered_model("m")
    with pytest.raises(NotFound, match="0" * 32):
        service.create_model_version("m", f"runs:/{'0' * 32}/model")


def test_register_with_a_bad_uri_creates_no_model(service: RegistryService) -> None:
    with pytest.raises(InvalidInput, match="runs:/"):
        service.register_model("runs://model", "wine")
    with pytest.raises(NotFound, match="wine"):
        service.get_registered_model("wine")


def test_models_source_copies_the_referenced_version(
    service: RegistryService, tracking: TrackingStore
) -> None:
    run = tracking.create_run("0")
    _log_model(run)
    first = service.register_model(f"runs:/{run.run_id}/model", "a")
    service.set_registered_model_alias("a", "champion", 1)
    copy = service.register_model("models:/a@champion", "b")
    assert (copy.source, copy.run_id) == ("models:/a/1", run.run_id)
    assert service.get_model_version_download_uri("b", 1) == first.storage_location


def test_logged_model_sources_use_the_locator(tracking: TrackingStore) -> None:
    located: list[str] = []

    def locate(model_id: str) -> tuple[str, str | None]:
        located.append(model_id)
        return f"s3://bucket/models/{model_id}/artifacts", "c" * 32

    service = RegistryService(
        MemoryRegistryStore(workspace="default"),
        tracking=tracking,
        logged_models=locate,
        artifact_options=ArtifactOptions(),
    )
    mv = service.register_model("models:/m-abc", "lm")
    assert (mv.model_id, mv.run_id) == ("m-abc", "c" * 32)
    assert service.get_model_version_download_uri("lm", 1) == "s3://bucket/models/m-abc/artifacts"
    assert located == ["m-abc"]


def test_plain_sources_are_kept(service: RegistryService) -> None:
    mv = service.register_model("s3://bucket/model", "m", tags={"k": "v"}, description="d")
    assert (mv.source, mv.storage_location, mv.tags, mv.description) == (
        "s3://bucket/model",
        None,
        {"k": "v"},
        "d",
    )


def test_version_for_uri(service: RegistryService) -> None:
    for _ in range(3):
        service.register_model("s3://x", "m")
    service.transition_model_version_stage("m", 2, "Production")
    service.set_registered_model_alias("m", "champion", 1)
    assert service.get_version_for_uri("models:/m/3").version == 3
    assert service.get_version_for_uri("models:/m@champion").version == 1
    assert service.get_version_for_uri("models:/m/latest").version == 3
    assert service.get_version_for_uri("models:/m/production").version == 2
    assert service.resolve_model_uri("models:/m/1") == "s3://x"
    with pytest.raises(NotFound, match="stage 'Staging'"):
        service.get_version_for_uri("models:/m/Staging")
    with pytest.raises(InvalidInput, match="logged model"):
        service.get_version_for_uri("models:/m-123")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/m/1", ModelUri(name="m", version=1)),
        ("models:/m@prod", ModelUri(name="m", alias="prod")),
        ("models:/m/Production", ModelUri(name="m", stage="Production")),
        ("models:/m/latest", ModelUri(name="m", latest=True)),
        ("models:/m-1234", ModelUri(model_id="m-1234")),
    ],
)
def test_parse_model_uri(uri: str, expected: ModelUri) -> None:
    assert parse_model_uri(uri) == expected


@pytest.mark.parametrize("uri", ["models:/", "models://host/m/1", "runs:/x/y", "models:/a/b/c"])
def test_parse_model_uri_rejects(uri: str) -> None:
    with pytest.raises(InvalidInput, match="models:/"):
        parse_model_uri(uri)


def test_parse_runs_uri() -> None:
    assert parse_runs_uri("runs:/abc/model/sub/") == ("abc", "model/sub")
    assert parse_runs_uri("runs:/abc") == ("abc", "")
    with pytest.raises(InvalidInput, match="runs:/"):
        parse_runs_uri("runs:/")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("not-a-uri", "nor an absolute path"),
        ("model", "nor an absolute path"),
        ("./relative/model", "nor an absolute path"),
        ("s3://", "names nothing"),
        ("http://[::1", "Invalid model version source"),
    ],
)
def test_unparsable_sources_are_refused_everywhere(
    service: RegistryService, source: str, message: str
) -> None:
    service.create_registered_model("m")
    with pytest.raises(InvalidInput, match=re.escape(message)):
        service.create_model_version("m", source)
    with pytest.raises(InvalidInput, match=re.escape(message)):
        service.register_model(source, "other")
    with pytest.raises(NotFound, match="other"):
        service.get_registered_model("other")


def test_register_refuses_a_run_that_logged_no_model(
    service: RegistryService, tracking: TrackingStore
) -> None:
    run = tracking.create_run("0")
    _log_model(run, "elsewhere")
    with pytest.raises(InvalidInput, match="holds no model: there is no MLmodel"):
        service.register_model(f"runs:/{run.run_id}/model", "churn")
    with pytest.raises(NotFound, match="churn"):
        service.get_registered_model("churn")
    assert service.register_model(f"runs:/{run.run_id}/elsewhere", "churn").version == 1
    # The REST path (MLflow's create-model-version) checks syntax only, as MLflow does.
    service.create_model_version("churn", f"runs:/{run.run_id}/model")


def test_register_checks_local_folders_and_logged_models(
    tracking: TrackingStore, tmp_path: Path
) -> None:
    folder = tmp_path / "exported"
    folder.mkdir()

    def locate(model_id: str) -> tuple[str, str | None]:
        return str(folder), None

    service = RegistryService(
        MemoryRegistryStore(workspace="default"),
        tracking=tracking,
        logged_models=locate,
        artifact_options=ArtifactOptions(),
    )
    with pytest.raises(InvalidInput, match="holds no model"):
        service.register_model(str(folder), "local")
    with pytest.raises(InvalidInput, match="holds no model"):
        service.register_model("models:/m-" + "a" * 32, "logged")
    (folder / "MLmodel").write_text("flavors: {}\n")
    assert service.register_model(folder.as_uri(), "local").version == 1
    assert service.register_model("models:/m-" + "a" * 32, "logged").version == 1
