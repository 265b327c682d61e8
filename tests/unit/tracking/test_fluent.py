"""The fluent API (kiln.start_run, kiln.log_metric, ...) over a fresh memory store."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import kiln
from kiln.entities import LifecycleStage, Metric, RunStatus
from kiln.errors import InvalidInput, NotFound
from kiln.tracking import fluent
from kiln.tracking.client import KilnClient


def test_start_run_context_finishes_run(tracking: KilnClient) -> None:
    with kiln.start_run(run_name="train", tags={"team": "ml"}, description="first try") as run:
        assert kiln.active_run() is run
        kiln.log_param("alpha", 0.1)
        kiln.log_metric("rmse", 0.9, step=1)
    assert kiln.active_run() is None
    stored = kiln.get_run(run.info.run_id)
    assert stored.info.status is RunStatus.FINISHED
    assert stored.info.end_time is not None
    assert stored.info.run_name == "train"
    assert stored.data.params == {"alpha": "0.1"}
    tags = stored.data.tags
    assert tags["team"] == "ml"
    assert tags["mlflow.runName"] == "train"
    assert tags["mlflow.note.content"] == "first try"
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.user"] == stored.info.user_id
    assert "mlflow.source.name" in tags


def test_exception_marks_run_failed_and_propagates(tracking: KilnClient) -> None:
    with pytest.raises(ValueError, match="boom"), kiln.start_run() as run:
        raise ValueError("boom")
    assert kiln.get_run(run.info.run_id).info.status is RunStatus.FAILED
    assert kiln.active_run() is None


def test_keyboard_interrupt_marks_run_killed(tracking: KilnClient) -> None:
    with pytest.raises(KeyboardInterrupt, match="ctrl-c"), kiln.start_run() as run:
        raise KeyboardInterrupt("ctrl-c")
    assert kiln.get_run(run.info.run_id).info.status is RunStatus.KILLED


def test_second_top_level_run_is_refused(tracking: KilnClient) -> None:
    run = kiln.start_run()
    with run, pytest.raises(InvalidInput, match=f"run {run.info.run_id} is already active"):
        kiln.start_run()
    assert kiln.get_run(run.info.run_id).info.status is RunStatus.FINISHED


def test_nested_runs_carry_parent_tag(tracking: KilnClient) -> None:
    with kiln.start_run() as parent:
        with kiln.start_run(nested=True) as child:
            assert kiln.active_run() is child
            with kiln.start_run(nested=True) as grandchild:
                pass
        assert kiln.active_run() is parent
    child_tags = kiln.get_run(child.info.run_id).data.tags
    assert child_tags["mlflow.parentRunId"] == parent.info.run_id
    grandchild_tags = kiln.get_run(grandchild.info.run_id).data.tags
    assert grandchild_tags["mlflow.parentRunId"] == child.info.run_id
    assert "mlflow.parentRunId" not in kiln.get_run(parent.info.run_id).data.tags


def test_leaving_outer_block_ends_runs_left_open_inside(tracking: KilnClient) -> None:
    with kiln.start_run() as parent:
        child = kiln.start_run(nested=True)
    assert kiln.active_run() is None
    assert kiln.get_run(child.info.run_id).info.status is RunStatus.FINISHED
    assert kiln.get_run(parent.info.run_id).info.status is RunStatus.FINISHED


def test_parent_run_id_must_be_the_active_run(tracking: KilnClient) -> None:
    other = tracking.create_run("0").info.run_id
    with kiln.start_run(), pytest.raises(InvalidInput, match="is not the active run"):
        kiln.start_run(nested=True, parent_run_id=other)
    with kiln.start_run(parent_run_id=other) as child:
        pass
    assert kiln.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == other


def test_end_run_sets_status_and_is_a_noop_without_run(tracking: KilnClient) -> None:
    kiln.end_run()  # nothing active: nothing happens
    run = kiln.start_run()
    kiln.end_run("KILLED")
    assert kiln.get_run(run.info.run_id).info.status is RunStatus.KILLED
    assert kiln.active_run() is None


def test_resume_existing_run(tracking: KilnClient) -> None:
    with kiln.start_run() as first:
        kiln.log_metric("loss", 1.0, step=0)
    with kiln.start_run(run_id=first.info.run_id, tags={"resumed": "yes"}) as again:
        assert again.info.status is RunStatus.RUNNING
        kiln.log_metric("loss", 0.5, step=1)
    resumed = kiln.get_run(first.info.run_id)
    assert resumed.info.status is RunStatus.FINISHED
    assert resumed.data.tags["resumed"] == "yes"
    assert [m.value for m in kiln.get_metric_history(first.info.run_id, "loss")] == [1.0, 0.5]


def test_resume_deleted_run_is_refused(tracking: KilnClient) -> None:
    run_id = tracking.create_run("0").info.run_id
    tracking.delete_run(run_id)
    with pytest.raises(InvalidInput, match="it is deleted"):
        kiln.start_run(run_id=run_id)
    assert kiln.active_run() is None


def test_env_run_id_is_joined_once(tracking: KilnClient, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = tracking.create_run("0").info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", existing)
    with kiln.start_run() as joined:
        assert joined.info.run_id == existing
    with kiln.start_run() as fresh:
        assert fresh.info.run_id != existing


def test_launcher_managed_env_run_is_left_running(
    tracking: KilnClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = tracking.create_run("0").info.run_id
    monkeypatch.setenv("KILN_RUN_ID", existing)
    monkeypatch.setenv("KILN_RUN_MANAGED", "1")
    with kiln.start_run() as joined:
        kiln.log_metric("loss", 1.0)
    assert joined.info.run_id == existing
    assert kiln.active_run() is None
    # kiln run, which launched the script, sets the final status from its exit code.
    assert tracking.get_run(existing).info.status is RunStatus.RUNNING
    assert tracking.get_run(existing).info.end_time is None


def test_kiln_env_run_id_wins_over_mlflow(
    tracking: KilnClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    kiln_run = tracking.create_run("0").info.run_id
    mlflow_run = tracking.create_run("0").info.run_id
    monkeypatch.setenv("KILN_RUN_ID", kiln_run)
    monkeypatch.setenv("MLFLOW_RUN_ID", mlflow_run)
    with kiln.start_run() as joined:
        assert joined.info.run_id == kiln_run


def test_env_experiment_name_creates_and_selects(
    tracking: KilnClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "from-env")
    with kiln.start_run() as run:
        pass
    experiment = kiln.get_experiment_by_name("from-env")
    assert experiment is not None
    assert run.info.experiment_id == experiment.experiment_id


def test_env_experiment_id(tracking: KilnClient, monkeypatch: pytest.MonkeyPatch) -> None:
    experiment_id = tracking.create_experiment("by-id")
    monkeypatch.setenv("KILN_EXPERIMENT_ID", experiment_id)
    with kiln.start_run() as run:
        pass
    assert run.info.experiment_id == experiment_id
    monkeypatch.setenv("KILN_EXPERIMENT_ID", "987")
    with pytest.raises(InvalidInput, match="987"):
        kiln.start_run()


def test_set_experiment_by_name_creates_then_reuses(tracking: KilnClient) -> None:
    created = kiln.set_experiment("exp-a")
    assert kiln.set_experiment("exp-a").experiment_id == created.experiment_id
    assert kiln.set_experiment(experiment_id=created.experiment_id).name == "exp-a"
    with kiln.start_run() as run:
        pass
    assert run.info.experiment_id == created.experiment_id


def test_set_experiment_errors(tracking: KilnClient) -> None:
    with pytest.raises(InvalidInput, match="exactly one"):
        kiln.set_experiment()
    with pytest.raises(NotFound, match="'424242'"):
        kiln.set_experiment(experiment_id="424242")
    experiment_id = tracking.create_experiment("gone")
    tracking.delete_experiment(experiment_id)
    with pytest.raises(InvalidInput, match="deleted experiment 'gone'"):
        kiln.set_experiment("gone")


def test_logging_without_active_run_starts_one(tracking: KilnClient) -> None:
    kiln.log_metric("m", 1.0)
    run = kiln.active_run()
    assert run is not None
    kiln.end_run()
    assert kiln.get_run(run.info.run_id).data.metrics["m"] == 1.0


def test_batch_helpers_and_explicit_run_id(tracking: KilnClient) -> None:
    other = tracking.create_run("0").info.run_id
    with kiln.start_run() as run:
        kiln.log_params({f"p{i}": i for i in range(150)})  # more than one batch of 100
        kiln.log_metrics({"a": 1, "b": 2.5}, step=3, timestamp=99)
        kiln.set_tags({"x": 1})
        kiln.set_tag("y", "2")
        kiln.log_metrics({"c": 1.0}, run_id=other)
    data = kiln.get_run(run.info.run_id).data
    assert len(data.params) == 150
    assert data.metrics["b"] == 2.5
    assert data.metric_objects["b"] == Metric("b", 2.5, 99, 3)
    assert (data.tags["x"], data.tags["y"]) == ("1", "2")
    assert kiln.get_run(other).data.metrics["c"] == 1.0


def test_artifact_helpers(tracking: KilnClient, tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    local = tmp_path / "a.txt"
    local.write_text("a", encoding="utf-8")
    with kiln.start_run() as run:
        kiln.log_artifact(local)
        kiln.log_artifacts(tmp_path, "all")
        kiln.log_text("t", "t.txt")
        kiln.log_dict({"k": 1}, "d.json")
        kiln.log_figure(Figure(), "f.png")
    names = [f.path for f in tracking.list_artifacts(run.info.run_id)]
    assert names == ["a.txt", "all", "d.json", "f.png", "t.txt"]


def test_search_runs_dataframe_has_mlflow_columns(tracking: KilnClient) -> None:
    import pandas as pd

    kiln.set_experiment("search")
    with kiln.start_run() as first:
        kiln.log_metric("rmse", 0.5)
        kiln.log_param("alpha", "0.1")
    with kiln.start_run() as second:
        kiln.set_tag("note", "x")
    frame = kiln.search_runs(order_by=["metrics.rmse ASC"])  # runs without rmse sort last
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns[:6]) == [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]
    assert {"metrics.rmse", "params.alpha", "tags.note", "tags.mlflow.runName"} <= set(
        frame.columns
    )
    assert list(frame["run_id"]) == [first.info.run_id, second.info.run_id]
    assert str(frame["start_time"].dt.tz) == "UTC"
    assert frame["metrics.rmse"].isna().tolist() == [False, True]
    assert frame["status"].tolist() == ["FINISHED", "FINISHED"]


def test_search_runs_list_names_and_errors(tracking: KilnClient) -> None:
    experiment_id = tracking.create_experiment("named")
    run_id = tracking.create_run(experiment_id).info.run_id
    runs = kiln.search_runs(experiment_names=["named", "missing"], output_format="list")
    assert isinstance(runs, list)
    assert [r.info.run_id for r in runs] == [run_id]
    everywhere = kiln.search_runs(search_all_experiments=True, output_format="list")
    assert run_id in [r.info.run_id for r in everywhere]
    assert kiln.search_runs(experiment_names=["missing"], output_format="list") == []
    with pytest.raises(InvalidInput, match="not both"):
        kiln.search_runs(experiment_ids=["0"], experiment_names=["named"])
    with pytest.raises(InvalidInput, match="output format"):
        kiln.search_runs(output_format="json")  # type: ignore[arg-type]


def test_search_runs_empty_frame_keeps_info_columns(tracking: KilnClient) -> None:
    frame = kiln.search_runs(experiment_ids=["0"])
    assert list(frame.columns) == [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]
    assert len(frame) == 0


def test_search_runs_pages_past_the_store_page_size(
    tracking: KilnClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fluent, "_PAGE_SIZE", 2)
    for _ in range(5):
        tracking.create_run("0")
    assert len(kiln.search_runs(output_format="list")) == 5
    assert len(kiln.search_runs(max_results=3, output_format="list")) == 3


def test_tracking_uri_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fluent.reset_state()
    try:
        assert kiln.get_tracking_uri() == f"sqlite:///{tmp_path / 'kiln-home' / 'kiln.db'}"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", "file:///mlflow")
        assert kiln.get_tracking_uri() == "file:///mlflow"
        monkeypatch.setenv("KILN_TRACKING_URI", "file:///kiln")
        assert kiln.get_tracking_uri() == "file:///kiln"
        kiln.set_tracking_uri(tmp_path / "mlruns")
        assert kiln.get_tracking_uri() == str(tmp_path / "mlruns")
        with pytest.raises(InvalidInput, match="empty"):
            kiln.set_tracking_uri("  ")
    finally:
        fluent.reset_state()


def test_store_is_opened_once_per_uri(tracking: KilnClient) -> None:
    with kiln.start_run() as run:
        pass
    # The same memory store answers later calls: memory:// opens a new one each time.
    assert kiln.get_run(run.info.run_id).info.run_id == run.info.run_id
    assert fluent._client() is tracking


def test_changing_uri_forgets_experiment(tracking: KilnClient, tmp_path: Path) -> None:
    kiln.set_experiment("first")
    kiln.set_tracking_uri(tmp_path / "mlruns")
    assert fluent._state.experiment_id is None


def test_active_runs_are_per_thread(tracking: KilnClient) -> None:
    seen: list[object] = []
    with kiln.start_run():
        worker = threading.Thread(target=lambda: seen.append(kiln.active_run()))
        worker.start()
        worker.join()
    assert seen == [None]


def test_deleted_parent_run_is_refused(tracking: KilnClient) -> None:
    parent = tracking.create_run("0").info.run_id
    tracking.delete_run(parent)
    with pytest.raises(InvalidInput, match="deleted run"):
        kiln.start_run(parent_run_id=parent)
    assert tracking.get_run(parent).info.lifecycle_stage is LifecycleStage.DELETED


def test_runs_left_open_are_finished_at_exit(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import kiln\nrun = kiln.start_run()\nkiln.log_metric('m', 1.0)\nprint(run.info.run_id)\n"
    )
    uri = f"sqlite:///{tmp_path / 'exit.db'}"
    env = {"KILN_TRACKING_URI": uri, "KILN_HOME": str(tmp_path), "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    run = KilnClient.from_uri(uri).get_run(run_id)
    assert run.info.status is RunStatus.FINISHED
