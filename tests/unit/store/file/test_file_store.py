"""FileTrackingStore: what only the mlruns layout can show (the contract suite is below).

The expected file contents here were taken from folders MLflow 3.17's own FileStore
wrote (``MLFLOW_ALLOW_FILE_STORE=true``); tests/integration/test_mlruns_roundtrip.py
checks the same against the real mlflow package.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kiln.entities import (
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from kiln.errors import AlreadyExists, Conflict, InvalidInput, InvalidUri, NotFound
from kiln.store.file import layout
from kiln.store.file.folders import root_from_uri
from kiln.store.file.tracking import FileTrackingStore, open_file_store
from kiln.store.open import open_tracking_store
from kiln.store.protocols.history import HistoryImport
from kiln.store.protocols.tracking import TrackingStore
from kiln.testing.contracts import Capability, TrackingStoreContract

RUN_ID = "0123456789abcdef0123456789abcdef"


class _Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: int = 1_700_000_000_000) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 1
        return self.now


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "mlruns"


@pytest.fixture
def file_store(root: Path) -> FileTrackingStore:
    return FileTrackingStore(root, clock=_Clock())


class TestFileStore(TrackingStoreContract):
    """The shared contract; the mlruns layout has no workspaces: only ``default`` opens."""

    lacks = frozenset({Capability.WORKSPACES})

    @pytest.fixture
    def store(self, tmp_path: Path) -> TrackingStore:
        return open_file_store((tmp_path / "contract-mlruns").as_uri(), workspace="default")

    @pytest.fixture
    def open_workspace(self, tmp_path: Path) -> Callable[[str], TrackingStore]:
        uri = (tmp_path / "contract-mlruns").as_uri()
        return lambda workspace: open_file_store(uri, workspace=workspace)


def _meta(path: Path) -> dict[str, object]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


# -- opening ---------------------------------------------------------------------------------


def test_open_creates_default_experiment_and_trash(root: Path) -> None:
    store = open_file_store(root.as_uri(), workspace="default")
    assert isinstance(store, TrackingStore)
    assert isinstance(store, HistoryImport)
    assert (root / ".trash").is_dir()
    meta = _meta(root / "0" / "meta.yaml")
    assert meta["name"] == "Default"
    assert meta["experiment_id"] == "0"
    assert meta["artifact_location"] == f"{root.as_uri()}/0"
    assert store.get_experiment("0").name == "Default"


def test_uri_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    real = tmp_path.resolve()
    assert root_from_uri("file:rel/mlruns") == real / "rel" / "mlruns"
    assert root_from_uri(f"file://{tmp_path}/x") == real / "x"
    assert root_from_uri(f"file://localhost{tmp_path}/x") == real / "x"
    store = open_tracking_store("plain/mlruns", workspace="default")
    assert isinstance(store, FileTrackingStore)
    assert store.root == real / "plain" / "mlruns"
    assert (real / "plain" / "mlruns" / "0" / "meta.yaml").is_file()


@pytest.mark.parametrize(
    ("uri", "match"),
    [("file://otherhost/mlruns", "host 'otherhost'"), ("s3://bucket/x", "not a file URI")],
)
def test_bad_uris(uri: str, match: str) -> None:
    with pytest.raises(InvalidUri, match=match):
        open_file_store(uri, workspace="default")


def test_uri_naming_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    with pytest.raises(InvalidUri, match="names a file"):
        open_file_store(target.as_uri(), workspace="default")


def test_only_the_default_workspace_opens(root: Path) -> None:
    with pytest.raises(InvalidInput, match="mlruns layout has no workspaces"):
        open_file_store(root.as_uri(), workspace="team-a")


def test_artifact_root_option(tmp_path: Path) -> None:
    store = open_file_store(
        (tmp_path / "m").as_uri(), artifact_root=str(tmp_path / "art"), workspace="default"
    )
    assert store.default_artifact_root == (tmp_path / "art").resolve().as_uri()
    experiment_id = store.create_experiment("e")
    run = store.create_run(experiment_id)
    expected = f"{(tmp_path / 'art').resolve().as_uri()}/{experiment_id}/{run.run_id}/artifacts"
    assert run.info.artifact_uri == expected
    # MLflow only finds runs whose artifacts/ folder exists, wherever artifacts go.
    assert (tmp_path / "m" / experiment_id / run.run_id / "artifacts").is_dir()


# -- what goes on disk ------------------------------------------------------------------------


def test_experiment_meta_yaml_is_what_mlflow_writes(
    file_store: FileTrackingStore, root: Path
) -> None:
    experiment_id = file_store.create_experiment("exp one", tags=[RunTag("team", "a/b")])
    created = file_store.get_experiment(experiment_id).creation_time
    assert (root / experiment_id / "meta.yaml").read_text() == (
        f"artifact_location: {root.as_uri()}/{experiment_id}\n"
        f"creation_time: {created}\n"
        "effective_trace_archival_retention: null\n"
        f"experiment_id: '{experiment_id}'\n"
        f"last_update_time: {created}\n"
        "lifecycle_stage: active\n"
        "name: exp one\n"
        "trace_location: null\n"
        "workspace: default\n"
    )
    assert (root / experiment_id / "tags" / "team").read_bytes() == b"a/b"


def test_run_layout_is_what_mlflow_writes(file_store: FileTrackingStore, root: Path) -> None:
    experiment_id = file_store.create_experiment("e")
    run = file_store.create_run(experiment_id, user_id="ann", start_time=1000, run_name="r1")
    run_dir = root / experiment_id / run.run_id
    file_store.log_batch(
        run.run_id,
        metrics=[
            Metric("loss", 1.5, 10, 0),
            Metric("loss", float("nan"), 11, 1),
            Metric("loss", float("inf"), 12, 2),
            Metric("loss", float("-inf"), 13, 3),
            Metric("acc/top1", 1e20, 14, 5),
            Metric("i", 3, 15, 0),
        ],
        params=[Param("alpha", "0.5"), Param("nested/key", "v")],
        tags=[RunTag("t", "multi\nline\n")],
    )
    file_store.update_run_info(run.run_id, status=RunStatus.FINISHED, end_time=2000)

    assert sorted(p.name for p in run_dir.iterdir()) == [
        "artifacts",
        "meta.yaml",
        "metrics",
        "params",
        "tags",
    ]
    assert (run_dir / "metrics" / "loss").read_text() == (
        "10 1.5 0\n11 nan 1\n12 inf 2\n13 -inf 3\n"
    )
    assert (run_dir / "metrics" / "acc" / "top1").read_text() == "14 1e+20 5\n"
    assert (run_dir / "metrics" / "i").read_text() == "15 3.0 0\n"
    assert (run_dir / "params" / "alpha").read_bytes() == b"0.5"
    assert (run_dir / "params" / "nested" / "key").read_bytes() == b"v"
    assert (run_dir / "tags" / "t").read_bytes() == b"multi\nline\n"
    assert (run_dir / "tags" / "mlflow.runName").read_bytes() == b"r1"
    assert (run_dir / "meta.yaml").read_text() == (
        f"artifact_uri: {root.as_uri()}/{experiment_id}/{run.run_id}/artifacts\n"
        "end_time: 2000\n"
        "entry_point_name: ''\n"
        f"experiment_id: '{experiment_id}'\n"
        "lifecycle_stage: active\n"
        f"run_id: {run.run_id}\n"
        "run_name: r1\n"
        "source_name: ''\n"
        "source_type: 4\n"
        "source_version: ''\n"
        "start_time: 1000\n"
        "status: 3\n"
        "tags: []\n"
        "user_id: ann\n"
    )
    got = file_store.get_run(run.run_id)
    assert got.data.params == {"alpha": "0.5", "nested/key": "v"}
    assert got.data.metrics["acc/top1"] == 1e20
    assert math.isinf(got.data.metrics["loss"])
    assert got.data.tags["t"] == "multi\nline\n"


def test_deleted_time_follows_mlflow(file_store: FileTrackingStore, root: Path) -> None:
    run = file_store.create_run("0")
    meta_path = root / "0" / run.run_id / "meta.yaml"
    assert _meta(meta_path)["deleted_time"] is None  # written as null on create
    file_store.delete_run(run.run_id)
    meta = _meta(meta_path)
    assert meta["lifecycle_stage"] == "deleted"
    assert isinstance(meta["deleted_time"], int)
    file_store.restore_run(run.run_id)
    assert "deleted_time" not in _meta(meta_path)  # left out on other rewrites


def test_deleted_experiment_moves_to_trash_with_its_runs(
    file_store: FileTrackingStore, root: Path
) -> None:
    experiment_id = file_store.create_experiment("e", tags=[RunTag("k", "v")])
    run = file_store.create_run(experiment_id)
    file_store.delete_experiment(experiment_id)
    assert not (root / experiment_id).exists()
    trashed = root / ".trash" / experiment_id
    meta = _meta(trashed / "meta.yaml")
    assert meta["lifecycle_stage"] == "deleted"
    assert meta["tags"] == {"k": "v"}  # MLflow dumps tags into meta.yaml on rewrites
    assert _meta(trashed / run.run_id / "meta.yaml")["lifecycle_stage"] == "deleted"
    assert file_store.get_run(run.run_id).info.lifecycle_stage is LifecycleStage.DELETED
    assert file_store.get_experiment_by_name("e") is not None
    with pytest.raises(AlreadyExists, match="deleted state"):
        file_store.create_experiment("e")
    with pytest.raises(Conflict, match="restore the experiment"):
        file_store.restore_run(run.run_id)

    file_store.restore_experiment(experiment_id)
    assert (root / experiment_id / "meta.yaml").is_file()
    assert not trashed.exists()
    assert file_store.get_run(run.run_id).info.lifecycle_stage is LifecycleStage.ACTIVE
    assert file_store.get_experiment(experiment_id).tags == {"k": "v"}


def test_default_experiment_cannot_be_deleted(file_store: FileTrackingStore) -> None:
    with pytest.raises(InvalidInput, match="default experiment"):
        file_store.delete_experiment("0")


def test_experiment_ids_are_sequential_and_never_reused(file_store: FileTrackingStore) -> None:
    first = file_store.create_experiment("a")
    second = file_store.create_experiment("b")
    assert (first, second) == ("1", "2")
    file_store.delete_experiment(second)
    assert file_store.create_experiment("c") == "3"


def test_run_name_tag_and_meta_stay_in_step(file_store: FileTrackingStore, root: Path) -> None:
    run = file_store.create_run("0", run_name="before")
    file_store.set_tag(run.run_id, RunTag("mlflow.runName", "after"))
    assert _meta(root / "0" / run.run_id / "meta.yaml")["run_name"] == "after"
    assert file_store.get_run(run.run_id).info.run_name == "after"
    file_store.update_run_info(run.run_id, run_name="third")
    assert (root / "0" / run.run_id / "tags" / "mlflow.runName").read_text() == "third"


# -- atomic and crash-safe writes --------------------------------------------------------------


def test_a_batch_with_a_param_conflict_writes_nothing(
    file_store: FileTrackingStore, root: Path
) -> None:
    run = file_store.create_run("0")
    file_store.log_param(run.run_id, Param("p", "1"))
    with pytest.raises(Conflict, match="write-once"):
        file_store.log_batch(
            run.run_id,
            metrics=[Metric("m", 1.0, 1, 0)],
            params=[Param("q", "x"), Param("p", "2")],
            tags=[RunTag("t", "v")],
        )
    run_dir = root / "0" / run.run_id
    assert not (run_dir / "metrics" / "m").exists()
    assert not (run_dir / "params" / "q").exists()
    assert not (run_dir / "tags" / "t").exists()


def test_keys_that_would_be_file_and_folder_are_refused_before_writing(
    file_store: FileTrackingStore, root: Path
) -> None:
    run = file_store.create_run("0")
    file_store.log_metric(run.run_id, Metric("a", 1.0, 1, 0))
    with pytest.raises(InvalidInput, match="'a' exists"):
        file_store.log_batch(run.run_id, metrics=[Metric("b", 1.0, 1, 0), Metric("a/x", 1.0, 1, 0)])
    assert not (root / "0" / run.run_id / "metrics" / "b").exists()
    with pytest.raises(InvalidInput, match="cannot both be stored"):
        file_store.log_batch(run.run_id, params=[Param("p", "1"), Param("p/q", "2")])
    file_store.set_tag(run.run_id, RunTag("dir/leaf", "v"))
    with pytest.raises(InvalidInput, match="keys below 'dir/' exist"):
        file_store.set_tag(run.run_id, RunTag("dir", "v"))


def test_a_failed_replace_keeps_the_old_value_and_leaves_no_temp_file(
    file_store: FileTrackingStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    experiment_id = file_store.create_experiment("e")
    meta_path = root / experiment_id / "meta.yaml"
    before = meta_path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        file_store.rename_experiment(experiment_id, "renamed")
    monkeypatch.undo()
    assert meta_path.read_bytes() == before
    assert not [p for p in (root / experiment_id).iterdir() if p.name.startswith(".kiln-tmp-")]
    assert file_store.get_experiment(experiment_id).name == "e"


def test_half_created_entities_are_skipped(file_store: FileTrackingStore, root: Path) -> None:
    # A crash between mkdir and the meta.yaml write leaves folders without meta.yaml.
    (root / "7").mkdir()
    (root / "0" / RUN_ID / "metrics").mkdir(parents=True)
    (root / "0" / f"{layout.TEMP_PREFIX}abc").write_text("partial")
    assert [e.experiment_id for e in file_store.search_experiments()] == ["0"]
    assert list(file_store.search_runs(["0"])) == []
    with pytest.raises(NotFound, match="does not exist"):
        file_store.get_run(RUN_ID)
    assert file_store.create_experiment("next") == "8"  # the claimed id is not reused


def test_a_torn_last_metric_line_is_ignored(file_store: FileTrackingStore, root: Path) -> None:
    run = file_store.create_run("0")
    file_store.log_metric(run.run_id, Metric("m", 1.0, 5, 0))
    with (root / "0" / run.run_id / "metrics" / "m").open("a") as handle:
        handle.write("17000")  # a writer died mid-line
    assert file_store.get_metric_history(run.run_id, "m") == [Metric("m", 1.0, 5, 0)]


# -- reading what MLflow (old and new) wrote ------------------------------------------------------


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_reads_legacy_and_mlflow3_folders(root: Path) -> None:
    _write(
        root / "0" / "meta.yaml",
        "artifact_location: /old/mlruns/0\nexperiment_id: 0\nlifecycle_stage: active\n"
        "name: Default\n",
    )
    run_dir = root / "0" / RUN_ID
    _write(
        run_dir / "meta.yaml",
        f"artifact_uri: /old/mlruns/0/{RUN_ID}/artifacts\nend_time: 20\nentry_point_name: ''\n"
        f"experiment_id: 0\nrun_uuid: {RUN_ID}\nsource_type: 4\nstart_time: 10\nstatus: 4\n"
        "tags: []\nuser_id: bob\n",
    )
    _write(run_dir / "tags" / "mlflow.runName", "legacy-name")
    _write(run_dir / "metrics" / "two_fields", "100 0.5\n")
    _write(run_dir / "metrics" / "five_fields", "100 0.5 7 train abc123\n")
    _write(run_dir / "params" / "p", "x")
    # Folders MLflow 3 adds that Kiln does not model:
    _write(root / "0" / "datasets" / "d1" / "meta.yaml", "name: d\n")
    _write(root / "0" / "traces" / "tr-1" / "trace_info.yaml", "x: 1\n")
    _write(root / "0" / "models" / "m-1" / "meta.yaml", "model_id: m-1\n")
    _write(run_dir / "inputs" / "i1" / "meta.yaml", "source_type: DATASET\n")
    _write(run_dir / "outputs" / "m-1" / "meta.yaml", "source_type: RUN_OUTPUT\n")
    _write(root / "models" / "registered" / "meta.yaml", "name: registry\n")

    store = open_file_store(root.as_uri(), workspace="default")
    experiment = store.get_experiment("0")
    assert experiment.lifecycle_stage is LifecycleStage.ACTIVE
    assert [e.experiment_id for e in store.search_experiments(view_type=ViewType.ALL)] == ["0"]
    run = store.get_run(RUN_ID)
    assert run.info == RunInfo(
        run_id=RUN_ID,
        experiment_id="0",
        run_name="legacy-name",
        user_id="bob",
        status=RunStatus.FAILED,
        start_time=10,
        end_time=20,
        artifact_uri=f"/old/mlruns/0/{RUN_ID}/artifacts",
    )
    assert run.data.metric_objects["two_fields"] == Metric("two_fields", 0.5, 100, 0)
    # MLflow 3.17 itself reads step 0 from 5-field lines; the step is in the file.
    assert run.data.metric_objects["five_fields"] == Metric("five_fields", 0.5, 100, 7)
    assert [r.run_id for r in store.search_runs(["0"])] == [RUN_ID]


def test_runs_whose_meta_names_another_id_are_ignored(root: Path) -> None:
    store = open_file_store(root.as_uri(), workspace="default")
    real = store.create_run("0")
    forged = root / "0" / RUN_ID
    forged.mkdir()
    (forged / "meta.yaml").write_bytes((root / "0" / real.run_id / "meta.yaml").read_bytes())
    assert [r.run_id for r in store.search_runs(["0"])] == [real.run_id]
    with pytest.raises(NotFound, match="malformed"):
        store.get_run(RUN_ID)


# -- HistoryImport -------------------------------------------------------------------------------


def _source_run(run_id: str = RUN_ID) -> Run:
    info = RunInfo(
        run_id=run_id,
        experiment_id="999",
        run_name="imported",
        user_id="carol",
        status=RunStatus.KILLED,
        start_time=5,
        end_time=9,
        artifact_uri="s3://elsewhere/artifacts",
        lifecycle_stage=LifecycleStage.DELETED,
    )
    data = RunData(params={"p": "1"}, tags={"mlflow.runName": "imported", "k": "v"})
    return Run(info=info, data=data)


def test_import_run_keeps_id_times_status_and_stage(file_store: FileTrackingStore) -> None:
    history = [Metric("m", float("nan"), 3, 0), Metric("m", 2.0, 4, 1)]
    info = file_store.import_run(_source_run(), "0", history)
    assert info.artifact_uri.endswith(f"/0/{RUN_ID}/artifacts")
    got = file_store.get_run(RUN_ID)
    assert got.info == info
    assert (got.info.status, got.info.start_time, got.info.end_time) == (RunStatus.KILLED, 5, 9)
    assert got.info.lifecycle_stage is LifecycleStage.DELETED
    assert got.data.tags == {"mlflow.runName": "imported", "k": "v"}
    assert got.data.params == {"p": "1"}
    points = file_store.get_metric_history(RUN_ID, "m")
    assert math.isnan(points[0].value)
    assert points[1] == Metric("m", 2.0, 4, 1)
    with pytest.raises(AlreadyExists, match="already exists"):
        file_store.import_run(_source_run(), "0", history)


def test_import_experiment_keeps_a_free_id_and_times(file_store: FileTrackingStore) -> None:
    source = Experiment(
        experiment_id="558780768249449364",
        name="imported",
        artifact_location="s3://elsewhere",
        lifecycle_stage=LifecycleStage.DELETED,
        creation_time=11,
        last_update_time=12,
        tags={"a": "b"},
    )
    new_id = file_store.import_experiment(source)
    assert new_id == "558780768249449364"
    got = file_store.get_experiment(new_id)
    assert (got.creation_time, got.last_update_time) == (11, 12)
    assert got.lifecycle_stage is LifecycleStage.DELETED
    assert got.tags == {"a": "b"}
    assert got.artifact_location == f"{file_store.default_artifact_root}/{new_id}"
    again = Experiment(experiment_id=new_id, name="other", artifact_location="x")
    assert file_store.import_experiment(again) != new_id  # id taken: a fresh one
    with pytest.raises(AlreadyExists, match="already exists"):
        file_store.import_experiment(source)


def test_delete_refuses_to_overwrite_a_trashed_folder(
    file_store: FileTrackingStore, root: Path
) -> None:
    experiment_id = file_store.create_experiment("e")
    run = file_store.create_run(experiment_id)
    (root / ".trash" / experiment_id / "leftover").mkdir(parents=True)
    with pytest.raises(Conflict, match="already exists and is not empty"):
        file_store.delete_experiment(experiment_id)
    # checked before anything was written
    assert file_store.get_run(run.run_id).info.lifecycle_stage is LifecycleStage.ACTIVE
    assert file_store.get_experiment(experiment_id).lifecycle_stage is LifecycleStage.ACTIVE
    (root / ".trash" / experiment_id / "leftover").rmdir()  # an empty leftover is fine
    file_store.delete_experiment(experiment_id)
    assert file_store.get_experiment(experiment_id).lifecycle_stage is LifecycleStage.DELETED
