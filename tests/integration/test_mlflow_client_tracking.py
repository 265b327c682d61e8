"""The real ``mlflow`` client against a real ``kiln server`` subprocess (SQLite backend).

One server for the module; each test works in its own experiment, so tests do not
see each other's runs.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric as MlflowMetric  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``kiln server`` as a subprocess, wait for /health, terminate it after."""
    root = tmp_path_factory.mktemp("kiln-server")
    port = _free_port()
    env = {**os.environ, "KILN_HOME": str(root / "home")}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("KILN_TRACKING_URI", None)
    command = [
        sys.executable,
        "-m",
        "kiln.cli.main",
        "server",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{root / 'kiln.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
    ]
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"kiln server exited early: {(root / 'server.log').read_text()}")
            try:
                if httpx.get(f"{url}/health", timeout=1).text == "OK":
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"kiln server not healthy: {(root / 'server.log').read_text()}")
            time.sleep(0.1)  # readiness polling of a subprocess, not test ordering
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def tracking(server_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowClient]:
    """Point the fluent API and a client at the server; fail fast instead of retrying."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server_url)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(server_url)
    try:
        yield MlflowClient(tracking_uri=server_url)
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# experiments --------------------------------------------------------------------
def test_experiment_lifecycle(tracking: MlflowClient) -> None:
    name = _unique("exp")
    exp_id = tracking.create_experiment(name, tags={"team": "a"})
    exp = tracking.get_experiment(exp_id)
    assert (exp.name, exp.lifecycle_stage, exp.tags) == (name, "active", {"team": "a"})
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    assert tracking.get_experiment_by_name(name).experiment_id == exp_id  # type: ignore[union-attr]
    assert tracking.get_experiment_by_name(_unique("none")) is None

    tracking.set_experiment_tag(exp_id, "k", "v")
    tracking.delete_experiment_tag(exp_id, "team")
    renamed = name + "-renamed"
    tracking.rename_experiment(exp_id, renamed)
    exp = tracking.get_experiment(exp_id)
    assert (exp.name, exp.tags) == (renamed, {"k": "v"})

    found = tracking.search_experiments(filter_string=f"name = '{renamed}'")
    assert [e.experiment_id for e in found] == [exp_id]

    tracking.delete_experiment(exp_id)
    assert tracking.get_experiment(exp_id).lifecycle_stage == "deleted"
    deleted = tracking.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert exp_id in {e.experiment_id for e in deleted}
    tracking.restore_experiment(exp_id)
    assert tracking.get_experiment(exp_id).lifecycle_stage == "active"

    with pytest.raises(MlflowException, match="RESOURCE_ALREADY_EXISTS"):
        tracking.create_experiment(renamed)


def test_search_experiments_orders_and_pages(tracking: MlflowClient) -> None:
    prefix = _unique("page")
    ids = [tracking.create_experiment(f"{prefix}-{i}") for i in range(5)]
    seen: list[str] = []
    token = None
    while True:
        page = tracking.search_experiments(
            filter_string=f"name LIKE '{prefix}-%'",
            order_by=["name DESC"],
            max_results=2,
            page_token=token,
        )
        seen += [e.experiment_id for e in page]
        token = page.token
        if not token:
            break
    assert seen == list(reversed(ids))


# runs -----------------------------------------------------------------------------
def test_fluent_run_with_params_metrics_tags_and_nesting(tracking: MlflowClient) -> None:
    exp = mlflow.set_experiment(_unique("fluent"))
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("lr", 0.01)
        mlflow.log_params({"depth": 4, "model": "tree"})
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.91, "f1": 0.8})
        mlflow.set_tag("stage", "dev")
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("inner", 7.0)

    run = tracking.get_run(parent.info.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.end_time is not None
    assert run.info.run_name == "parent"
    assert run.info.experiment_id == exp.experiment_id
    assert run.info.artifact_uri == (
        f"mlflow-artifacts:/{exp.experiment_id}/{parent.info.run_id}/artifacts"
    )
    assert run.data.params == {"lr": "0.01", "depth": "4", "model": "tree"}
    assert run.data.metrics == {"loss": pytest.approx(1 / 3), "acc": 0.91, "f1": 0.8}
    assert run.data.tags["stage"] == "dev"
    assert run.data.tags["mlflow.runName"] == "parent"
    history = tracking.get_metric_history(parent.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]

    nested = tracking.get_run(child.info.run_id)
    assert nested.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert nested.data.metrics == {"inner": 7.0}
    assert nested.info.status == "FINISHED"


def test_log_batch_of_1000_metrics_and_the_limit(tracking: MlflowClient) -> None:
    exp_id = tracking.create_experiment(_unique("batch"))
    run = tracking.create_run(exp_id)
    now = int(time.time() * 1000)
    metrics = [MlflowMetric("m", float(i), now + i, i) for i in range(1000)]
    tracking.log_batch(run.info.run_id, metrics=metrics)
    history = tracking.get_metric_history(run.info.run_id, "m")
    assert len(history) == 1000
    assert [m.value for m in history] == [float(i) for i in range(1000)]
    assert tracking.get_run(run.info.run_id).data.metrics["m"] == 999.0

    too_many = [MlflowMetric("x", 1.0, now, i) for i in range(1001)]
    from mlflow.store.tracking.rest_store import RestStore
    from mlflow.utils.rest_utils import MlflowHostCreds

    store = RestStore(lambda: MlflowHostCreds(tracking.tracking_uri))
    with pytest.raises(MlflowException, match="at most 1000 metrics") as caught:
        store.log_batch(run.info.run_id, metrics=too_many, params=[], tags=[])
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "x" not in tracking.get_run(run.info.run_id).data.metrics


def test_search_runs_filter_order_and_pagination(tracking: MlflowClient) -> None:
    exp_id = tracking.create_experiment(_unique("search"))
    run_ids = []
    for i in range(7):
        run = tracking.create_run(exp_id, start_time=1_700_000_000_000 + i, run_name=f"r{i}")
        tracking.log_metric(run.info.run_id, "score", float(i))
        tracking.log_param(run.info.run_id, "parity", "even" if i % 2 == 0 else "odd")
        tracking.set_terminated(run.info.run_id)
        run_ids.append(run.info.run_id)

    frame = mlflow.search_runs(
        experiment_ids=[exp_id],
        filter_string="params.parity = 'even' and metrics.score >= 2",
        order_by=["metrics.score DESC"],
    )
    assert list(frame["run_id"]) == [run_ids[6], run_ids[4], run_ids[2]]
    assert list(frame["metrics.score"]) == [6.0, 4.0, 2.0]
    assert set(frame["status"]) == {"FINISHED"}

    collected: list[str] = []
    token = None
    pages = 0
    while True:
        page = tracking.search_runs([exp_id], max_results=3, page_token=token)
        collected += [r.info.run_id for r in page]
        pages += 1
        token = page.token
        if not token:
            break
    assert pages == 3
    assert collected == list(reversed(run_ids))  # default order: newest start_time first


def test_delete_and_restore_run(tracking: MlflowClient) -> None:
    exp_id = tracking.create_experiment(_unique("delete"))
    run_id = tracking.create_run(exp_id).info.run_id
    tracking.delete_run(run_id)
    assert tracking.get_run(run_id).info.lifecycle_stage == "deleted"
    assert tracking.search_runs([exp_id]) == []
    deleted = tracking.search_runs([exp_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run_id]
    tracking.restore_run(run_id)
    assert [r.info.run_id for r in tracking.search_runs([exp_id])] == [run_id]


def test_unknown_ids_raise_resource_does_not_exist(tracking: MlflowClient) -> None:
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST") as caught:
        tracking.get_run("f" * 32)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        tracking.get_experiment("987654321")


# artifacts ------------------------------------------------------------------------
def test_artifacts_upload_list_and_download(tracking: MlflowClient, tmp_path: Path) -> None:
    mlflow.set_experiment(_unique("artifacts"))
    report = tmp_path / "report.txt"
    report.write_text("accuracy 0.9\n")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.csv").write_text("x,y\n1,2\n")
    (tree / "sub" / "b.bin").write_bytes(bytes(range(256)) * 100)
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(report))
        mlflow.log_artifact(str(report), artifact_path="reports")
        mlflow.log_artifacts(str(tree), artifact_path="data")
        mlflow.log_text("hello text", "notes/hello.txt")
        mlflow.log_dict({"k": [1, 2]}, "notes/config.json")
    run_id = run.info.run_id

    root = tracking.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in root] == [
        ("data", True),
        ("notes", True),
        ("report.txt", False),
        ("reports", True),
    ]
    assert root[2].file_size == len("accuracy 0.9\n")
    notes = tracking.list_artifacts(run_id, "notes")
    assert [f.path for f in notes] == ["notes/config.json", "notes/hello.txt"]
    data = tracking.list_artifacts(run_id, "data/sub")
    assert [(f.path, f.file_size) for f in data] == [("data/sub/b.bin", 25600)]

    local = Path(tracking.download_artifacts(run_id, "", str(tmp_path / "dl")))
    assert (local / "report.txt").read_text() == "accuracy 0.9\n"
    assert (local / "reports" / "report.txt").read_text() == "accuracy 0.9\n"
    assert (local / "data" / "a.csv").read_text() == "x,y\n1,2\n"
    assert (local / "data" / "sub" / "b.bin").read_bytes() == bytes(range(256)) * 100
    assert (local / "notes" / "hello.txt").read_text() == "hello text"
    assert json.loads((local / "notes" / "config.json").read_text()) == {"k": [1, 2]}

    text = mlflow.artifacts.load_text(f"runs:/{run_id}/notes/hello.txt")
    assert text == "hello text"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/notes/config.json") == {"k": [1, 2]}


def test_html_and_svg_artifacts_round_trip_byte_for_byte(
    tracking: MlflowClient, server_url: str, tmp_path: Path
) -> None:
    """The download headers that keep user content from running on Kiln's origin
    (attachment, nosniff, sandbox CSP) leave the client's bytes as they were."""
    mlflow.set_experiment(_unique("active-content"))
    files = {
        "evil.html": b"<html><script>document.title='pwned'</script></html>\r\n",
        "pic.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "odd.bin": bytes(range(256)),
    }
    source = tmp_path / "src"
    source.mkdir()
    for name, body in files.items():
        (source / name).write_bytes(body)
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(source), artifact_path="web")
    local = Path(
        mlflow.artifacts.download_artifacts(
            f"runs:/{run.info.run_id}/web", dst_path=str(tmp_path / "dl")
        )
    )
    assert {p.name: p.read_bytes() for p in local.iterdir()} == files
    proxied = run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    answer = httpx.get(f"{server_url}/api/2.0/mlflow-artifacts/artifacts/{proxied}/web/evil.html")
    assert answer.content == files["evil.html"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-disposition"] == 'attachment; filename="evil.html"'
    assert answer.headers["content-security-policy"].startswith("sandbox")


# bad input over the wire ------------------------------------------------------------
API = "/api/2.0/mlflow"


def _assert_envelope(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert isinstance(body["message"], str)
    message: str = body["message"]
    return message


def test_bad_requests_are_4xx_with_the_envelope(server_url: str) -> None:
    with httpx.Client(base_url=server_url) as client:
        malformed = client.post(
            f"{API}/runs/create",
            content=b'{"experiment_id": ',
            headers={"Content-Type": "application/json"},
        )
        assert "malformed JSON" in _assert_envelope(malformed, 400, "INVALID_PARAMETER_VALUE")

        wrong_type = client.post(f"{API}/runs/create", json={"experiment_id": 0})
        assert "must be a string" in _assert_envelope(wrong_type, 400, "INVALID_PARAMETER_VALUE")

        wrong_number = client.post(
            f"{API}/runs/log-metric",
            json={"run_id": "f" * 32, "key": "m", "value": "high", "timestamp": 1},
        )
        _assert_envelope(wrong_number, 400, "INVALID_PARAMETER_VALUE")

        unknown = client.get(f"{API}/runs/get", params={"run_id": "f" * 32})
        _assert_envelope(unknown, 404, "RESOURCE_DOES_NOT_EXIST")

        exp_id = client.post(f"{API}/experiments/create", json={"name": _unique("bad")}).json()[
            "experiment_id"
        ]
        run_id = client.post(f"{API}/runs/create", json={"experiment_id": exp_id}).json()["run"][
            "info"
        ]["run_id"]
        oversized = client.post(
            f"{API}/runs/log-batch",
            json={
                "run_id": run_id,
                "params": [{"key": f"p{i}", "value": "v"} for i in range(101)],
            },
        )
        assert "at most 100" in _assert_envelope(oversized, 400, "INVALID_PARAMETER_VALUE")


def _raw_request(server_url: str, method: str, target: str) -> tuple[int, dict[str, Any]]:
    """Send a raw request target (no client-side normalisation of ``..``)."""
    host, port = server_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, target, body=b"x" if method == "PUT" else None)
        response = connection.getresponse()
        body: dict[str, Any] = json.loads(response.read())
    finally:
        connection.close()
    return response.status, body


PROXY = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.mark.parametrize(
    "raw_path",
    [
        "../../../etc/passwd",
        "0/run/artifacts/../../../../escape.txt",
        "/etc/passwd",
        "%2e%2e%2f%2e%2e%2fescape.txt",
        "a/%2e%2e/%2e%2e/escape.txt",
        "a/%252e%252e/escape.txt",
    ],
)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_escaping_artifact_paths_are_400(server_url: str, raw_path: str, method: str) -> None:
    status, body = _raw_request(server_url, method, f"{PROXY}/{raw_path}")
    assert status == 400, body
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "artifact path" in body["message"]


@pytest.mark.parametrize("query", ["../../etc", "%2Fetc", "a/%2e%2e/%2e%2e"])
def test_escaping_listing_paths_are_400(server_url: str, query: str) -> None:
    status, body = _raw_request(server_url, "GET", f"{PROXY}?path={query}")
    assert status == 400, body
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
