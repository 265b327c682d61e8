"""KilnClient over the memory store and the local artifact store (real parts, no mocks)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml

from kiln.config import Settings, default_tracking_uri
from kiln.entities import LifecycleStage, Metric, Param, RunStatus, RunTag, ViewType
from kiln.errors import AlreadyExists, Conflict, InvalidInput, InvalidUri, NotFound
from kiln.store.memory.state import MemoryTrackingState
from kiln.store.memory.tracking import MemoryTrackingStore
from kiln.tracking.client import KilnClient, to_run_status, to_view_type


def test_experiment_lifecycle(client: KilnClient) -> None:
    experiment_id = client.create_experiment("churn", tags={"team": "ml", "version": 2})
    experiment = client.get_experiment(experiment_id)
    assert experiment.name == "churn"
    assert experiment.tags == {"team": "ml", "version": "2"}
    assert client.get_experiment_by_name("churn") == experiment
    assert client.get_experiment_by_name("nope") is None

    client.rename_experiment(experiment_id, "churn-v2")
    client.set_experiment_tag(experiment_id, "stage", "dev")
    renamed = client.get_experiment(experiment_id)
    assert (renamed.name, renamed.tags["stage"]) == ("churn-v2", "dev")

    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage is LifecycleStage.DELETED
    deleted = client.search_experiments(view_type="DELETED_ONLY")
    assert [e.experiment_id for e in deleted] == [experiment_id]
    client.restore_experiment(experiment_id)
    active = client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
    assert experiment_id in [e.experiment_id for e in active]


def test_create_experiment_twice_raises(client: KilnClient) -> None:
    client.create_experiment("dup")
    with pytest.raises(AlreadyExists, match="dup"):
        client.create_experiment("dup")


def test_create_run_records_user_and_injected_clock(client: KilnClient) -> None:
    run = client.create_run("0", tags={"mlflow.user": "ada"}, run_name="first")
    assert run.info.user_id == "ada"
    assert run.info.run_name == "first"
    assert run.info.status is RunStatus.RUNNING
    assert run.info.start_time == 1_700_000_000_001

    client.set_terminated(run.info.run_id)
    ended = client.get_run(run.info.run_id).info
    assert ended.status is RunStatus.FINISHED
    assert ended.end_time == 1_700_000_000_002


def test_set_terminated_takes_status_names_and_end_time(client: KilnClient) -> None:
    run_id = client.create_run("0").info.run_id
    client.set_terminated(run_id, "failed", end_time=42)
    info = client.get_run(run_id).info
    assert (info.status, info.end_time) == (RunStatus.FAILED, 42)
    with pytest.raises(InvalidInput, match="invalid run status 'DONE'"):
        client.set_terminated(run_id, "DONE")


def test_update_run_renames_and_sets_status(client: KilnClient) -> None:
    run_id = client.create_run("0").info.run_id
    client.update_run(run_id, status="KILLED", name="renamed")
    run = client.get_run(run_id)
    assert run.info.status is RunStatus.KILLED
    assert run.info.run_name == "renamed"


def test_params_are_strings_and_write_once(client: KilnClient) -> None:
    run_id = client.create_run("0").info.run_id
    assert client.log_param(run_id, "alpha", 0.5) == 0.5
    client.log_param(run_id, "alpha", "0.5")  # same value again: a no-op
    assert client.get_run(run_id).data.params == {"alpha": "0.5"}
    with pytest.raises(Conflict, match="alpha"):
        client.log_param(run_id, "alpha", 0.7)


def test_metric_history_keeps_steps_and_timestamps(client: KilnClient) -> None:
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "loss", 1.0, step=0)
    client.log_metric(run_id, "loss", 0.5, step=1, timestamp=5)
    client.log_metric(run_id, "loss", math.nan, step=2)
    history = client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history][:2] == [(0, 1.0), (1, 0.5)]
    assert history[1].timestamp == 5
    assert math.isnan(history[2].value)
    assert client.get_run(run_id).data.metric_objects["loss"].step == 2


def test_log_metric_accepts_numpy_and_rejects_strings(client: KilnClient) -> None:
    import numpy as np

    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "acc", np.float32(0.25))
    client.log_metric(run_id, "n", np.int64(3))
    metrics = client.get_run(run_id).data.metrics
    assert (metrics["acc"], metrics["n"]) == (0.25, 3.0)
    with pytest.raises(InvalidInput, match="must be a number"):
        client.log_metric(run_id, "acc", "high")  # type: ignore[arg-type]


def test_log_batch_is_all_or_nothing(client: KilnClient) -> None:
    run_id = client.create_run("0").info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric("m", 1.0, 10, 0)],
        params=[Param("p", "1")],
        tags=[RunTag("t", "x")],
    )
    with pytest.raises(InvalidInput, match="key"):
        client.log_batch(run_id, params=[Param("ok", "1"), Param("../bad", "2")])
    data = client.get_run(run_id).data
    assert data.params == {"p": "1"}
    assert data.tags["t"] == "x"


def test_tags_set_and_delete(client: KilnClient) -> None:
    run_id = client.create_run("0").info.run_id
    client.set_tag(run_id, "owner", 7)
    assert client.get_run(run_id).data.tags["owner"] == "7"
    client.delete_tag(run_id, "owner")
    assert "owner" not in client.get_run(run_id).data.tags


def test_delete_and_restore_run(client: KilnClient) -> None:
    run_id = client.create_run("0").info.run_id
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage is LifecycleStage.DELETED
    assert client.search_runs("0").items == []
    assert [r.run_id for r in client.search_runs(["0"], run_view_type=2)] == [run_id]
    client.restore_run(run_id)
    assert [r.run_id for r in client.search_runs(["0"])] == [run_id]


def test_get_run_unknown_raises_not_found(client: KilnClient) -> None:
    with pytest.raises(NotFound, match="0" * 32):
        client.get_run("0" * 32)


def test_search_runs_filters_orders_and_pages(client: KilnClient) -> None:
    ids = []
    for value in (3.0, 1.0, 2.0):
        run_id = client.create_run("0").info.run_id
        client.log_metric(run_id, "rmse", value)
        ids.append(run_id)
    page = client.search_runs(["0"], "metrics.rmse < 2.5", order_by=["metrics.rmse ASC"])
    assert [r.data.metrics["rmse"] for r in page] == [1.0, 2.0]

    first = client.search_runs(["0"], max_results=2, order_by=["metrics.rmse DESC"])
    assert len(first) == 2
    assert first.next_page_token is not None
    rest = client.search_runs(
        ["0"], max_results=2, order_by=["metrics.rmse DESC"], page_token=first.next_page_token
    )
    assert [r.data.metrics["rmse"] for r in [*first, *rest]] == [3.0, 2.0, 1.0]


def test_iter_runs_follows_pages_up_to_max_results(client: KilnClient) -> None:
    for _ in range(5):
        client.create_run("0")
    assert len(list(client.iter_runs(["0"], page_size=2))) == 5
    assert len(list(client.iter_runs(["0"], max_results=3, page_size=2))) == 3


def test_search_runs_bad_filter_raises(client: KilnClient) -> None:
    with pytest.raises(InvalidInput, match=r"invalid filter 'metrics\.rmse <<< 1'"):
        client.search_runs(["0"], "metrics.rmse <<< 1")


def test_artifacts_round_trip(client: KilnClient, tmp_path: Path) -> None:
    run_id = client.create_run("0").info.run_id
    local = tmp_path / "notes.txt"
    local.write_text("hello", encoding="utf-8")
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.csv").write_text("x,y\n1,2\n", encoding="utf-8")

    client.log_artifact(run_id, local)
    client.log_artifact(run_id, str(local), "docs")
    client.log_artifacts(run_id, folder, "data")
    assert [(f.path, f.is_dir) for f in client.list_artifacts(run_id)] == [
        ("data", True),
        ("docs", True),
        ("notes.txt", False),
    ]
    assert [f.path for f in client.list_artifacts(run_id, "data/sub")] == ["data/sub/a.csv"]

    target = Path(client.download_artifacts(run_id, "data", tmp_path / "out"))
    assert (target / "sub" / "a.csv").read_text(encoding="utf-8") == "x,y\n1,2\n"
    default_target = Path(client.download_artifacts(run_id, "docs/notes.txt"))
    assert default_target.read_text(encoding="utf-8") == "hello"


def test_log_artifact_missing_file_raises(client: KilnClient, tmp_path: Path) -> None:
    run_id = client.create_run("0").info.run_id
    with pytest.raises(InvalidInput, match="no such file"):
        client.log_artifact(run_id, tmp_path / "missing.txt")
    with pytest.raises(InvalidInput, match="no such directory"):
        client.log_artifacts(run_id, tmp_path / "missing")


def _read(client: KilnClient, run_id: str, path: str, tmp_path: Path) -> bytes:
    return Path(client.download_artifacts(run_id, path, tmp_path / "dl")).read_bytes()


def test_log_text_and_dict(client: KilnClient, tmp_path: Path) -> None:
    run_id = client.create_run("0").info.run_id
    payload = {"b": [1, 2], "a": {"nested": True}}
    client.log_text(run_id, "héllo\n", "notes/readme.txt")
    client.log_dict(run_id, payload, "config.json")
    client.log_dict(run_id, payload, "config.yaml")
    client.log_dict(run_id, payload, "config.yml")

    assert _read(client, run_id, "notes/readme.txt", tmp_path).decode() == "héllo\n"
    assert json.loads(_read(client, run_id, "config.json", tmp_path)) == payload
    assert yaml.safe_load(_read(client, run_id, "config.yaml", tmp_path)) == payload
    assert yaml.safe_load(_read(client, run_id, "config.yml", tmp_path)) == payload


def test_log_dict_unserializable_raises(client: KilnClient) -> None:
    run_id = client.create_run("0").info.run_id
    with pytest.raises(InvalidInput, match="cannot serialize"):
        client.log_dict(run_id, {"x": object()}, "bad.yaml")


@pytest.mark.parametrize(
    ("name", "magic"),
    [("plot.png", b"\x89PNG"), ("plot.pdf", b"%PDF"), ("plot.svg", b"<?xml")],
)
def test_log_figure_format_follows_extension(
    client: KilnClient, tmp_path: Path, name: str, magic: bytes
) -> None:
    from matplotlib.figure import Figure

    figure = Figure()
    figure.add_subplot().plot([0, 1], [1, 0])
    run_id = client.create_run("0").info.run_id
    client.log_figure(run_id, figure, f"figures/{name}")
    assert _read(client, run_id, f"figures/{name}", tmp_path).startswith(magic)


def test_log_figure_rejects_unknown_extension_and_non_figures(client: KilnClient) -> None:
    from matplotlib.figure import Figure

    run_id = client.create_run("0").info.run_id
    with pytest.raises(InvalidInput, match="figure format"):
        client.log_figure(run_id, Figure(), "plot.txt")
    with pytest.raises(InvalidInput, match="matplotlib Figure"):
        client.log_figure(run_id, "not a figure", "plot.png")


def test_artifact_path_escaping_the_run_is_refused(client: KilnClient) -> None:
    run_id = client.create_run("0").info.run_id
    with pytest.raises(InvalidInput, match=r"'\.\.' segments are not allowed"):
        client.log_text(run_id, "x", "../../escape.txt")


def test_view_type_coercion() -> None:
    assert to_view_type(3) is ViewType.ALL
    assert to_view_type("active_only") is ViewType.ACTIVE_ONLY
    with pytest.raises(InvalidInput, match="invalid view type"):
        to_view_type("everything")
    assert to_run_status("killed") is RunStatus.KILLED


def test_from_uri_memory_and_bad_scheme() -> None:
    client = KilnClient.from_uri("memory://")
    assert client.get_experiment("0").name == "Default"
    with pytest.raises(InvalidUri, match="unsupported tracking URI"):
        KilnClient.from_uri("ftp://example.com/store")


def test_from_uri_default_creates_home_and_artifact_root(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home, tracking_uri=default_tracking_uri(home))
    client = KilnClient.from_uri(None, settings)
    run = client.create_run("0")
    assert (home / "kiln.db").exists()
    assert run.info.artifact_uri.startswith(
        str(home / "artifacts")
    ) or run.info.artifact_uri.startswith((home / "artifacts").as_uri())


def test_default_experiment_is_the_workspaces_own() -> None:
    """Experiment 0 is the default workspace's; another workspace's Default has its own id,
    which runs started without an experiment (fluent, ``kiln run``, ``kiln runs``) use."""
    state = MemoryTrackingState()
    default = KilnClient(MemoryTrackingStore(workspace="default", state=state))
    team = KilnClient(MemoryTrackingStore(workspace="team-b", state=state))
    assert default.default_experiment_id() == "0"
    team_default = team.default_experiment_id()
    assert team_default != "0"
    assert team.get_experiment(team_default).name == "Default"
    assert team.create_run(team_default).info.workspace == "team-b"
    with pytest.raises(NotFound, match="'0'"):
        team.get_experiment("0")
