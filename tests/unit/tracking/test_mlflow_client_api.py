"""``kiln.MlflowClient``: an MLflow script's client calls run unchanged after
``import kiln as mlflow``, on the embedded SQLite store and against ``kiln server``, and
every method Kiln exposes under MLflow's name takes MLflow's parameters in MLflow's order."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow.entities.model_registry.model_version_stages import ALL_STAGES

import kiln
import kiln.exceptions
from kiln.testing.server_process import kiln_server_process
from kiln.tracking import fluent
from kiln.tracking.mlflow_client import MlflowClient

# Methods of Kiln's MlflowClient that MLflow's client lacks (KilnClient's own API).
KILN_ONLY = {
    "artifact_store",
    "close",
    "default_experiment_id",
    "from_uri",
    "iter_runs",
    "log_bytes",
    "log_input",
    "now",
}


@pytest.fixture
def fresh_fluent() -> Iterator[None]:
    fluent.reset_state()
    yield
    fluent.reset_state()


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with kiln_server_process(tmp_path_factory.mktemp("kiln-mlflow-client")) as url:
        yield url


def _script(mlflow_like: object, client: MlflowClient) -> None:
    """What an MLflow tracking-and-registry script does with its client."""
    experiment_id = client.create_experiment("wine", tags={"team": "ml"})
    assert client.get_experiment_by_name("wine").experiment_id == experiment_id  # type: ignore[union-attr]
    run = client.create_run(experiment_id, run_name="elasticnet")
    run_id = run.info.run_id
    client.log_param(run_id, "alpha", 0.5)
    client.log_metric(run_id, "rmse", 0.75, step=1)
    client.set_tag(run_id, "stage", "train")
    client.log_text(run_id, "flavors: {}\n", "model/MLmodel")
    client.set_terminated(run_id)
    finished = client.get_run(run_id)
    assert finished.info.status == "FINISHED"
    assert finished.data.params == {"alpha": "0.5"}
    assert finished.data.metrics == {"rmse": 0.75}
    assert [f.path for f in client.list_artifacts(run_id, "model")] == ["model/MLmodel"]
    page = client.search_runs([experiment_id], max_results=1)
    assert ([r.info.run_id for r in page.to_list()], page.token) == ([run_id], None)
    first = client.search_experiments(max_results=1)  # Default and wine: two pages
    assert first.token is not None
    second = client.search_experiments(max_results=1, page_token=first.token)
    assert {first[0].name, second[0].name} == {"Default", "wine"}

    client.create_registered_model("wine-model", tags={"owner": "me"}, description="d")
    mv = client.create_model_version("wine-model", f"runs:/{run_id}/model", run_id)
    assert (mv.name, str(mv.version), mv.run_id) == ("wine-model", "1", run_id)
    client.set_registered_model_alias("wine-model", "champion", mv.version)
    champion = client.get_model_version_by_alias("wine-model", "champion")
    assert str(champion.version) == "1"
    assert "champion" in client.get_registered_model("wine-model").aliases
    client.set_model_version_tag("wine-model", mv.version, "validated", True)
    client.update_model_version("wine-model", mv.version, description="first")
    staged = client.transition_model_version_stage("wine-model", mv.version, "Staging")
    assert staged.current_stage == "Staging"
    latest = client.get_latest_versions("wine-model", stages=["Staging"])
    assert [str(v.version) for v in latest] == ["1"]
    found = client.search_model_versions("name='wine-model'")
    assert [v.tags for v in found] == [{"validated": "True"}]
    copy = client.copy_model_version("models:/wine-model@champion", "wine-prod")
    assert (copy.name, str(copy.version), copy.source) == ("wine-prod", "1", "models:/wine-model/1")
    assert (copy.run_id, copy.tags) == (run_id, {"validated": "True"})
    assert client.get_model_version_download_uri("wine-prod", 1) == (
        client.get_model_version_download_uri("wine-model", 1)
    )
    client.delete_registered_model_alias("wine-model", "champion")
    # MLflow answers a missing alias with INVALID_PARAMETER_VALUE, and so does Kiln
    with pytest.raises(kiln.exceptions.MlflowException, match="champion") as caught:
        client.get_model_version_by_alias("wine-model", "champion")
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert [m.name for m in client.search_registered_models(order_by=["name"])] == [
        "wine-model",
        "wine-prod",
    ]
    client.delete_model_version("wine-prod", 1)
    client.delete_registered_model("wine-prod")
    assert [m.name for m in client.search_registered_models()] == ["wine-model"]


def test_a_script_runs_on_the_uri_from_mlflow_tracking_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_fluent: None
) -> None:
    import kiln as mlflow_like

    uri = f"sqlite:///{tmp_path}/script.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = mlflow_like.MlflowClient()
    try:
        assert (client.tracking_uri, client.registry_uri) == (uri, uri)
        _script(mlflow_like, client)
        # the fluent API reads what the client wrote: one store
        assert mlflow_like.get_experiment_by_name("wine") is not None
    finally:
        client.close()


def test_a_script_runs_against_kiln_server(server_url: str, fresh_fluent: None) -> None:
    import kiln as mlflow_like

    mlflow_like.set_tracking_uri(server_url)
    client = mlflow_like.MlflowClient()
    try:
        assert client.tracking_uri == server_url
        _script(mlflow_like, client)
        # what Kiln's client registered, MLflow's own client reads from the server
        theirs = mlflow.MlflowClient(tracking_uri=server_url)
        version = theirs.get_model_version("wine-model", "1")
        assert (version.current_stage, version.tags) == ("Staging", {"validated": "True"})
    finally:
        client.close()


def test_the_uri_is_resolved_like_the_fluent_apis(tmp_path: Path, fresh_fluent: None) -> None:
    set_in_code = f"sqlite:///{tmp_path}/set.db"
    kiln.set_tracking_uri(set_in_code)
    explicit = f"sqlite:///{tmp_path}/explicit.db"
    registry = f"sqlite:///{tmp_path}/registry.db"
    clients = [kiln.MlflowClient(), kiln.MlflowClient(explicit, registry_uri=registry)]
    try:
        assert [(c.tracking_uri, c.registry_uri) for c in clients] == [
            (set_in_code, set_in_code),
            (explicit, registry),
        ]
        clients[1].create_registered_model("elsewhere")
        with pytest.raises(kiln.exceptions.MlflowException, match="elsewhere"):
            clients[0].get_registered_model("elsewhere")
    finally:
        for client in clients:
            client.close()


def test_a_missing_model_is_caught_as_mlflow_exception(tmp_path: Path) -> None:
    import kiln as mlflow_like

    client = mlflow_like.MlflowClient(f"sqlite:///{tmp_path}/k.db")
    try:
        with pytest.raises(mlflow_like.exceptions.MlflowException, match="nope") as caught:
            client.get_registered_model("nope")
    finally:
        client.close()
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert caught.value.get_http_status_code() == 404


def test_tag_by_stage_and_the_refusals_mlflow_makes(tmp_path: Path) -> None:
    client = MlflowClient(f"sqlite:///{tmp_path}/k.db")
    try:
        client.create_registered_model("m")
        version = client.create_model_version("m", str(tmp_path / "model"))
        client.transition_model_version_stage("m", version.version, "Production")
        client.set_model_version_tag("m", key="k", value=1, stage="Production")
        assert client.get_model_version("m", version.version).tags == {"k": "1"}
        with pytest.raises(kiln.exceptions.MlflowException, match="exactly one of"):
            client.set_model_version_tag("m", version.version, "k", 2, stage="Production")
        with pytest.raises(kiln.exceptions.MlflowException, match="stage 'Staging'"):
            client.delete_model_version_tag("m", key="k", stage="Staging")
        # MLflow 3 links a metric to a logged model; a missing run or model is refused.
        with pytest.raises(kiln.exceptions.MlflowException, match=r"0{32}"):
            client.log_metric("0" * 32, "m", 1.0, model_id="m-1")
        run_id = client.create_run("0").info.run_id
        with pytest.raises(kiln.exceptions.MlflowException, match="'m-1' not found"):
            client.log_metric(run_id, "m", 1.0, model_id="m-1")
        assert client.get_run(run_id).data.metrics == {}
        assert client.get_model_version_stages("m", version.version) == ALL_STAGES
    finally:
        client.close()


def test_from_uri_gives_an_mlflow_client(tmp_path: Path) -> None:
    client = MlflowClient.from_uri(f"sqlite:///{tmp_path}/k.db")
    try:
        assert isinstance(client, MlflowClient)
        client.create_registered_model("m")
        assert client.get_registered_model("m").name == "m"
    finally:
        client.close()


def _public_methods(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, callable)
        if not name.startswith("_")
    }


def test_every_method_takes_mlflows_parameters_in_mlflows_order() -> None:
    ours = _public_methods(MlflowClient)
    theirs = _public_methods(mlflow.MlflowClient)
    assert set(ours) - set(theirs) == KILN_ONLY
    shared = sorted(set(ours) & set(theirs))
    assert len(shared) >= 50  # tracking, artifacts and the registry
    differ = {
        name: (
            list(inspect.signature(ours[name]).parameters),  # type: ignore[arg-type]
            list(inspect.signature(theirs[name]).parameters),  # type: ignore[arg-type]
        )
        for name in shared
    }
    assert {name: pair for name, pair in differ.items() if pair[0] != pair[1]} == {}
    assert (
        list(inspect.signature(MlflowClient).parameters)
        == list(inspect.signature(mlflow.MlflowClient).parameters)[:2]
    )


def test_importing_the_client_loads_no_heavy_library() -> None:
    code = (
        "import json, sys\n"
        "import kiln\n"
        "from kiln import MlflowClient\n"
        "from kiln.tracking import MlflowClient as Again\n"
        "import kiln.exceptions\n"
        "assert MlflowClient is Again and kiln.exceptions.MlflowException\n"
        "print(json.dumps([m for m in ('pandas', 'sqlalchemy', 'numpy') if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
