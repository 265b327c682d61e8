"""Logged models and the registry travel with kiln import/export: mlruns, SQLite, mlruns."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiln.entities import RunTag
from kiln.entities.logged_model import LoggedModelMetric, LoggedModelOutput, LoggedModelStatus
from kiln.store.open import (
    open_artifact_store,
    open_logged_model_store,
    open_registry_store,
    open_tracking_store,
)
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.store.protocols.registry import RegistryStore
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.sql.engine import dispose_engine, normalize_uri
from kiln.store.transfer.history import copy_history
from kiln.store.transfer.models import ModelTransferReport, copy_logged_models, copy_registry


@dataclass
class Side:
    tracking: TrackingStore
    models: LoggedModelStore
    registry: RegistryStore


def _side(uri: str) -> Side:
    return Side(
        open_tracking_store(uri, workspace="default"),
        open_logged_model_store(uri, workspace="default"),
        open_registry_store(uri, workspace="default"),
    )


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> Iterator[str]:
    uri = normalize_uri(f"sqlite:///{tmp_path / 'kiln.db'}")
    yield uri
    dispose_engine(uri)


def _seed(side: Side) -> tuple[str, str]:
    """One run that logged model ``m`` (files, metrics) and registered it twice."""
    experiment_id = side.tracking.create_experiment("exp", tags=[RunTag("team", "a")])
    run = side.tracking.create_run(experiment_id, user_id="ann", start_time=1)
    run_id = run.info.run_id
    root = side.tracking.get_experiment(experiment_id).artifact_location
    model = side.models.create_logged_model(
        experiment_id, root, name="m", source_run_id=run_id, params={"depth": "3"}, tags={"t": "1"}
    )
    files = open_artifact_store(model.artifact_location)
    files.write_stream("MLmodel", io.BytesIO(b"flavors: {}\n"))
    side.models.log_logged_model_metrics(
        model.model_id, [LoggedModelMetric("acc", 0.9, 5, 0, run_id, "test", "d1")]
    )
    side.models.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    side.models.log_outputs(run_id, [LoggedModelOutput(model.model_id, 0)])
    side.registry.create_registered_model("wine", tags={"owner": "ann"}, description="d")
    side.registry.create_model_version("wine", "s3://gone/1")
    side.registry.create_model_version(
        "wine", f"models:/{model.model_id}", run_id=run_id, model_id=model.model_id, tags={"k": "v"}
    )
    side.registry.create_model_version("wine", f"runs:/{run_id}/model", run_id=run_id)
    side.registry.delete_model_version("wine", 1)
    side.registry.transition_model_version_stage("wine", 2, "Production")
    side.registry.set_registered_model_alias("wine", "champion", 2)
    return model.model_id, run_id


def _copy(source: Side, dest: Side) -> ModelTransferReport:
    history = copy_history(source.tracking, dest.tracking)
    report = ModelTransferReport()
    copy_logged_models(source.models, dest.models, dest.tracking, history, report)
    copy_registry(
        source.registry,
        dest.registry,
        report,
        run_ids=history.run_ids,
        dest_tracking=dest.tracking,
        dest_models=dest.models,
    )
    return report


def test_round_trip_keeps_models_versions_aliases_and_files(
    tmp_path: Path, sqlite_uri: str
) -> None:
    source = _side((tmp_path / "src").as_uri())
    model_id, run_id = _seed(source)
    middle = _side(sqlite_uri)
    report = _copy(source, middle)
    assert (report.logged_models_copied, report.model_versions_copied, report.aliases) == (1, 2, 1)
    back = _side((tmp_path / "back").as_uri())
    _copy(middle, back)

    for side in (middle, back):
        model = side.models.get_logged_model(model_id)
        original = source.models.get_logged_model(model_id)
        assert (model.name, model.params, model.tags, model.status) == (
            original.name,
            original.params,
            original.tags,
            LoggedModelStatus.READY,
        )
        assert model.metrics == original.metrics
        assert model.source_run_id == run_id  # ids kept: HistoryImport on every store here
        with open_artifact_store(model.artifact_location).open_read("MLmodel") as stream:
            assert stream.read() == b"flavors: {}\n"
        assert side.models.get_outputs(run_id) == [LoggedModelOutput(model_id, 0)]
        registered = side.registry.get_registered_model("wine")
        assert (registered.tags, registered.description) == ({"owner": "ann"}, "d")
        assert registered.aliases == {"champion": 2}
        two = side.registry.get_model_version("wine", 2)
        assert (two.model_id, two.tags, two.current_stage) == (model_id, {"k": "v"}, "Production")
        assert two.download_uri == model.artifact_location
        three = side.registry.get_model_version("wine", 3)
        assert three.source == f"runs:/{run_id}/model"
        run = side.tracking.get_run(run_id)
        assert three.download_uri == f"{run.info.artifact_uri}/model"
        assert [v.version for v in side.registry.search_model_versions()] == [3, 2]


def test_copying_again_adds_nothing(tmp_path: Path, sqlite_uri: str) -> None:
    source = _side((tmp_path / "src").as_uri())
    model_id, run_id = _seed(source)
    dest = _side(sqlite_uri)
    _copy(source, dest)
    again = _copy(source, dest)
    assert (again.logged_models_copied, again.logged_models_skipped) == (0, 1)
    assert (again.model_versions_copied, again.model_versions_skipped, again.aliases) == (0, 2, 0)
    assert len(dest.models.get_logged_model(model_id).metrics) == 1
    assert dest.models.get_outputs(run_id) == [LoggedModelOutput(model_id, 0)]
    assert len(dest.registry.search_model_versions().items) == 2
