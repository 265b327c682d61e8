"""mlruns written by the real MLflow -> Kiln store -> mlruns that the real MLflow reads.

MLflow 3 refuses its file store unless ``MLFLOW_ALLOW_FILE_STORE=true``. Only
``MlflowClient`` is used (no fluent API), so no MLflow global state leaks between tests.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from kiln.entities import ViewType
from kiln.store.file import layout
from kiln.store.open import open_tracking_store
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.transfer.history import IMPORTED_FROM_TAG, copy_history

pytestmark = pytest.mark.integration
MLFLOW_ALL = 3  # mlflow.entities.ViewType.ALL

from mlflow.entities import Dataset as MlflowDataset  # noqa: E402
from mlflow.entities import DatasetInput as MlflowDatasetInput  # noqa: E402
from mlflow.entities import InputTag as MlflowInputTag  # noqa: E402
from mlflow.entities import Metric as MlflowMetric  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


@pytest.fixture
def mlflow_client_for(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")

    def make(root: Path) -> Any:
        return MlflowClient(tracking_uri=root.as_uri())

    return make


def _log_with_mlflow(client: Any, workdir: Path) -> None:
    """What a user's MLflow history holds: metric histories, NaN, nesting, artifacts, deletes."""
    experiment_id = client.create_experiment("roundtrip", tags={"team": "vision"})
    parent = client.create_run(experiment_id, run_name="parent", tags={"note": "two\nlines"})
    pid = parent.info.run_id
    client.log_batch(
        pid,
        metrics=[
            MlflowMetric("loss", 1.25, 1_000, 0),
            MlflowMetric("loss", 0.5, 1_001, 1),
            MlflowMetric("loss", float("nan"), 1_002, 2),
            MlflowMetric("loss", float("inf"), 1_003, 3),
            MlflowMetric("loss", 0.125, 1_004, 3),
            MlflowMetric("acc/top1", 1e-7, 1_005, 10),
        ],
    )
    client.log_param(pid, "alpha", 0.1)
    client.log_param(pid, "model/depth", "3")
    (workdir / "report.txt").write_text("hello")
    (workdir / "plots" / "inner").mkdir(parents=True)
    (workdir / "plots" / "a.png").write_bytes(b"\x89PNG-a")
    (workdir / "plots" / "inner" / "b.csv").write_text("x,y\n1,2\n")
    client.log_artifact(pid, str(workdir / "report.txt"))
    client.log_artifacts(pid, str(workdir / "plots"), "plots")
    wine = MlflowDataset(
        "wine", "a1b2c3d4", "local", '{"uri": "/data/wine.csv"}',
        '{"mlflow_colspec": [{"type": "double", "name": "x", "required": true}]}',
        '{"num_rows": 2, "num_elements": 2}',
    )  # fmt: skip
    context = MlflowInputTag("mlflow.data.context", "training")
    raw = MlflowDataset("raw", "ffff", "s3", '{"uri": "s3://b/raw"}')
    client.log_inputs(
        pid, [MlflowDatasetInput(wine, [context, MlflowInputTag("split", "a")]),
              MlflowDatasetInput(raw)],
    )  # fmt: skip
    child = client.create_run(experiment_id, run_name="child", tags={"mlflow.parentRunId": pid})
    client.log_inputs(child.info.run_id, [MlflowDatasetInput(wine, [context])])
    client.log_metric(child.info.run_id, "x", -3.0, step=7)
    client.set_terminated(child.info.run_id, "FAILED")
    client.set_terminated(pid, "FINISHED")
    doomed = client.create_run(experiment_id, run_name="doomed")
    client.log_metric(doomed.info.run_id, "x", 1.0)
    client.delete_run(doomed.info.run_id)
    old = client.create_experiment("old")
    client.create_run(old, run_name="in-old")
    client.delete_experiment(old)


def _values(points: list[Any]) -> list[tuple[int, int, str]]:
    return [(p.timestamp, p.step, repr(float(p.value))) for p in points]


def _mlflow_view(client: Any) -> dict[str, Any]:
    """Every run field MLflow reports, keyed by (experiment name, run name)."""
    view: dict[str, Any] = {}
    for experiment in client.search_experiments(view_type=MLFLOW_ALL):
        view[experiment.name] = (experiment.lifecycle_stage, dict(experiment.tags))
        for run in client.search_runs([experiment.experiment_id], run_view_type=MLFLOW_ALL):
            run = client.get_run(run.info.run_id)
            info = run.info
            tags = {k: v for k, v in run.data.tags.items() if k != IMPORTED_FROM_TAG}
            parent = tags.pop("mlflow.parentRunId", None)
            histories = {
                key: _values(client.get_metric_history(info.run_id, key))
                for key in run.data.metrics
            }
            view[f"{experiment.name}/{info.run_name}"] = {
                "user": info.user_id,
                "status": info.status,
                "start": info.start_time,
                "end": info.end_time,
                "stage": info.lifecycle_stage,
                "params": dict(run.data.params),
                "tags": tags,
                "latest": {k: repr(float(v)) for k, v in run.data.metrics.items()},
                "histories": histories,
                "parent": None if parent is None else client.get_run(parent).info.run_name,
                "inputs": _inputs(run.inputs.dataset_inputs),
                "artifacts": _artifact_tree(client, info.run_id, None),
            }
    return view


def _inputs(items: Any) -> list[tuple[Any, ...]]:
    """Dataset inputs of MLflow or Kiln as sorted plain tuples."""
    return sorted(
        (
            d.dataset.name, d.dataset.digest, d.dataset.source_type, d.dataset.source,
            d.dataset.schema, d.dataset.profile, sorted((t.key, t.value) for t in d.tags),
        )
        for d in items
    )  # fmt: skip


def _input_files(root: Path) -> dict[str, str]:
    """Dataset and input meta.yaml texts keyed by their (content-derived) folder names."""
    paths = [*root.glob("*/datasets/*/meta.yaml"), *root.glob("*/*/inputs/*/meta.yaml")]
    return {path.parent.name: path.read_text() for path in paths}


def _artifact_tree(client: Any, run_id: str, path: str | None) -> list[tuple[str, int | None]]:
    tree: list[tuple[str, int | None]] = []
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            tree.extend(_artifact_tree(client, run_id, info.path))
        else:
            tree.append((info.path, info.file_size))
    return tree


def _kiln_view(store: TrackingStore) -> dict[str, Any]:
    """The same fields read through Kiln's TrackingStore (artifacts left out)."""
    view: dict[str, Any] = {}
    for experiment in store.search_experiments(view_type=ViewType.ALL):
        view[experiment.name] = (str(experiment.lifecycle_stage), experiment.tags)
        runs = store.search_runs([experiment.experiment_id], run_view_type=ViewType.ALL)
        for run in runs:
            info = run.info
            tags = {k: v for k, v in run.data.tags.items() if k != IMPORTED_FROM_TAG}
            parent = tags.pop("mlflow.parentRunId", None)
            histories = {
                key: _values(store.get_metric_history(info.run_id, key)) for key in run.data.metrics
            }
            view[f"{experiment.name}/{info.run_name}"] = {
                "user": info.user_id,
                "status": str(info.status),
                "start": info.start_time,
                "end": info.end_time,
                "stage": str(info.lifecycle_stage),
                "params": run.data.params,
                "tags": tags,
                "latest": {k: repr(v) for k, v in run.data.metrics.items()},
                "histories": histories,
                "parent": None if parent is None else store.get_run(parent).info.run_name,
                "inputs": _inputs(run.inputs.dataset_inputs),
            }
    return view


def _without_artifacts(view: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {k: v for k, v in value.items() if k != "artifacts"}
        if isinstance(value, dict)
        else value
        for key, value in view.items()
    }


def _metas(root: Path) -> dict[str, dict[str, Any]]:
    """Experiment and run meta.yaml mappings, keyed by experiment name (and run name)."""
    experiments: dict[str, str] = {}
    runs: list[dict[str, Any]] = []
    for path in root.glob("**/meta.yaml"):
        data = yaml.safe_load(path.read_text())
        if "run_id" in data:
            runs.append(data)
        elif "lifecycle_stage" in data and "experiment_id" in data:
            experiments[data["experiment_id"]] = data["name"]
            runs.append(data)
    out: dict[str, dict[str, Any]] = {}
    for data in runs:
        name = experiments[data["experiment_id"]]
        out[f"{name}/{data['run_name']}" if "run_id" in data else name] = data
    return out


def test_meta_yaml_is_byte_for_byte_mlflows(tmp_path: Path, mlflow_client_for: Any) -> None:
    root = tmp_path / "mlruns"
    (tmp_path / "work").mkdir()
    _log_with_mlflow(mlflow_client_for(root), tmp_path / "work")
    files = list(root.glob("**/meta.yaml"))
    assert len(files) >= 7
    for path in files:
        text = path.read_text()
        assert layout.dump_yaml(yaml.safe_load(text)) == text, path


def _comparable(meta: dict[str, Any]) -> dict[str, Any]:
    """A meta.yaml mapping without the values that name a place or a moment of deletion."""
    dropped = {
        "artifact_uri",
        "artifact_location",
        "creation_time",
        "deleted_time",
        "experiment_id",
        "last_update_time",
        "run_id",
    }
    return {k: v for k, v in meta.items() if k not in dropped}


@pytest.mark.parametrize("kind", ["memory", "sqlite", "file"])
def test_mlruns_import_and_export_round_trip(
    kind: str, tmp_path: Path, mlflow_client_for: Any
) -> None:
    if kind == "sqlite":
        uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    elif kind == "file":
        uri = (tmp_path / "kiln-mlruns").as_uri()
    else:
        uri = "memory://"
    original_root = tmp_path / "mlruns"
    workdir = tmp_path / "work"
    workdir.mkdir()
    original = mlflow_client_for(original_root)
    _log_with_mlflow(original, workdir)
    expected = _mlflow_view(original)
    assert "roundtrip/doomed" in expected  # the deleted run is part of the history
    assert len(expected["roundtrip/parent"]["inputs"]) == 2
    assert math.isnan(float(expected["roundtrip/parent"]["histories"]["loss"][2][2]))

    # import: mlruns -> Kiln store, every field and every point
    mlruns = open_tracking_store(original_root.as_uri(), workspace="default")
    kiln = open_tracking_store(
        uri, workspace="default", artifact_root=(tmp_path / "kiln-artifacts").as_uri()
    )
    imported = copy_history(mlruns, kiln)
    assert imported.runs_copied == 4
    assert imported.artifact_files == 3
    assert _kiln_view(kiln) == _without_artifacts(expected)

    # a second import adds nothing
    again = copy_history(mlruns, kiln)
    assert (again.runs_copied, again.runs_skipped) == (0, 4)
    assert _kiln_view(kiln) == _without_artifacts(expected)

    # export: Kiln store -> a fresh mlruns folder, read back by MLflow itself
    exported_root = tmp_path / "exported"
    exported = copy_history(kiln, open_tracking_store(exported_root.as_uri(), workspace="default"))
    assert exported.runs_copied == 4
    reread = mlflow_client_for(exported_root)
    assert _mlflow_view(reread) == expected
    # the same files with the same keys (deleted_time included) and the same values
    original_metas = _metas(original_root)
    exported_metas = _metas(exported_root)
    assert exported_metas.keys() == original_metas.keys()
    for key, meta in original_metas.items():
        assert exported_metas[key].keys() == meta.keys(), key
        assert _comparable(exported_metas[key]) == _comparable(meta), key

    # run ids survive the whole trip when the Kiln store keeps them
    if imported.ids_kept:
        # and so do the dataset and input folders, byte for byte
        assert len(_input_files(original_root)) == 5
        assert _input_files(exported_root) == _input_files(original_root)
        original_ids = {
            r.info.run_id
            for e in original.search_experiments(view_type=MLFLOW_ALL)
            for r in original.search_runs([e.experiment_id], run_view_type=MLFLOW_ALL)
        }
        reread_ids = {
            r.info.run_id
            for e in reread.search_experiments(view_type=MLFLOW_ALL)
            for r in reread.search_runs([e.experiment_id], run_view_type=MLFLOW_ALL)
        }
        assert reread_ids == original_ids
    parent = reread.search_runs(
        [reread.get_experiment_by_name("roundtrip").experiment_id],
        filter_string="attributes.run_name = 'parent'",
    )[0]
    assert reread.get_run(parent.info.run_id).data.params["alpha"] == "0.1"
    local = reread.download_artifacts(parent.info.run_id, "plots/inner/b.csv", str(tmp_path))
    assert Path(local).read_text() == "x,y\n1,2\n"
