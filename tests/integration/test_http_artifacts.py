"""Kiln's client reads and writes artifacts through a real ``kiln server``'s artifact proxy.

One uvicorn server (a background thread on a free 127.0.0.1 port, memory tracking
store, local artifacts destination) serves the module; every contract test gets a
fresh root under it, so each store starts empty. The 200 MB transfer runs the
client in a subprocess against a ``kiln server`` subprocess, so that the peak RSS
measured is the client's alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import kiln
from kiln.config import Settings
from kiln.errors import Conflict, InvalidInput, NotFound, StoreUnavailable
from kiln.server.app import PROXY_ARTIFACT_ROOT, create_app
from kiln.store.artifacts.http import SERVICE_PATH, HttpArtifactStore
from kiln.store.artifacts.local import LocalArtifactStore
from kiln.store.memory.tracking import open_memory_store
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.testing.contracts.artifacts import (
    HOSTILE_PATHS,
    ArtifactStoreContract,
    read_all,
    write_bytes,
)
from kiln.testing.server import free_port, serve_in_thread, server_process
from kiln.testing.server_process import mlflow_server_process
from kiln.tracking import fluent
from kiln.tracking.client import KilnClient

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Server:
    url: str
    destination: Path

    @property
    def netloc(self) -> str:
        return self.url.removeprefix("http://")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("kiln-proxy")
    destination = root / "artifacts"
    app = create_app(
        Settings(home=root, tracking_uri="unused"),
        store=open_memory_store(artifact_root=PROXY_ARTIFACT_ROOT, workspace="default"),
        destination=LocalArtifactStore(str(destination)),
    )
    with serve_in_thread(app) as url:
        yield Server(url, destination)


def _fresh() -> str:
    return f"contract/{uuid.uuid4().hex}"


class TestProxiedArtifacts(ArtifactStoreContract):
    """``mlflow-artifacts:/path``, resolved against the tracking URI."""

    @pytest.fixture
    def artifact_store(self, server: Server) -> ArtifactStore:
        return HttpArtifactStore(f"mlflow-artifacts:/{_fresh()}", tracking_uri=server.url)


class TestProxiedArtifactsWithTheirOwnHost(ArtifactStoreContract):
    """``mlflow-artifacts://host:port/path``: no tracking URI needed."""

    @pytest.fixture
    def artifact_store(self, server: Server) -> ArtifactStore:
        return HttpArtifactStore(f"mlflow-artifacts://{server.netloc}/{_fresh()}")


class TestHttpArtifacts(ArtifactStoreContract):
    """``http://host:port/api/2.0/mlflow-artifacts/artifacts/path``, used as it is."""

    @pytest.fixture
    def artifact_store(self, server: Server) -> ArtifactStore:
        return HttpArtifactStore(f"{server.url}{SERVICE_PATH}/{_fresh()}")


# against MLflow's own server ---------------------------------------------------------------
@pytest.fixture(scope="module")
def mlflow_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow server`` (the real one, proxied artifacts) in its own process group."""
    with mlflow_server_process(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@pytest.mark.slow
class TestArtifactsOnMlflowsOwnServer(ArtifactStoreContract):
    """The same contract through ``mlflow server``: it answers a GET of a folder with
    400, deletes missing paths silently and leaves zero sizes out; the store hides all
    three."""

    @pytest.fixture
    def artifact_store(self, mlflow_server_url: str) -> ArtifactStore:
        return HttpArtifactStore(f"mlflow-artifacts:/{_fresh()}", tracking_uri=mlflow_server_url)

    def test_unicode_and_literal_percent_names(self, artifact_store: ArtifactStore) -> None:
        # MLflow's server percent-decodes artifact paths twice, so a literal "%20" in a
        # name cannot survive it; names without escapes round trip.
        write_bytes(artifact_store, "données/résumé ✓.txt", b"u")
        assert read_all(artifact_store, "données/résumé ✓.txt") == b"u"
        assert [i.path for i in artifact_store.list_artifacts()] == ["données"]


# where the bytes land, and errors ----------------------------------------------------------
def test_files_land_under_the_servers_destination(server: Server, tmp_path: Path) -> None:
    root = _fresh()
    store = HttpArtifactStore(f"mlflow-artifacts:/{root}", tracking_uri=server.url)
    write_bytes(store, "dir/a b%20c.txt", b"payload")
    assert (server.destination / root / "dir" / "a b%20c.txt").read_bytes() == b"payload"
    local = store.download_artifacts("dir", str(tmp_path / "dl"))
    assert (Path(local) / "a b%20c.txt").read_bytes() == b"payload"
    assert not [p for p in (tmp_path / "dl").rglob(".kiln-partial-*")]


def test_a_refusal_of_the_server_keeps_its_class_and_message(server: Server) -> None:
    store = HttpArtifactStore(f"mlflow-artifacts:/{_fresh()}", tracking_uri=server.url)
    write_bytes(store, "weights", b"a file")
    with pytest.raises(Conflict, match="a file stands where a directory is needed"):
        write_bytes(store, "weights/part-0", b"x")


def test_a_missing_file_names_its_path(server: Server, tmp_path: Path) -> None:
    store = HttpArtifactStore(f"mlflow-artifacts:/{_fresh()}", tracking_uri=server.url)
    with pytest.raises(NotFound, match=r"no artifact file 'model/MLmodel' under 'mlflow-art"):
        store.open_read("model/MLmodel")


def test_a_server_that_is_down_is_store_unavailable() -> None:
    store = HttpArtifactStore(f"http://127.0.0.1:{free_port()}{SERVICE_PATH}/x")
    with pytest.raises(StoreUnavailable, match="could not be reached"):
        store.list_artifacts()


def test_a_url_the_server_does_not_route_says_so(server: Server) -> None:
    store = HttpArtifactStore(f"{server.url}/elsewhere/mlflow-artifacts/artifacts/x")
    with pytest.raises(StoreUnavailable, match="does not serve artifacts at /elsewhere"):
        write_bytes(store, "f.txt", b"x")


@pytest.mark.parametrize("hostile", HOSTILE_PATHS)
def test_hostile_paths_never_reach_the_server(server: Server, tmp_path: Path, hostile: str) -> None:
    # The server is gone: any request would be StoreUnavailable, not InvalidInput.
    store = HttpArtifactStore(f"mlflow-artifacts://127.0.0.1:{free_port()}/x")
    with pytest.raises(InvalidInput, match="invalid artifact path"):
        write_bytes(store, hostile, b"x")
    with pytest.raises(InvalidInput, match="invalid artifact path"):
        store.download_artifacts(hostile, str(tmp_path / "dst"))
    assert not (tmp_path / "dst").exists()


# the client and the fluent API ------------------------------------------------------------
@pytest.fixture
def tracking_server(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The fluent API pointed at the server by ``KILN_TRACKING_URI``."""
    monkeypatch.setenv("KILN_TRACKING_URI", server.url)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    try:
        yield server
    finally:
        while kiln.active_run() is not None:
            kiln.end_run()
        fluent.reset_state()  # closes the clients' REST pools


def test_fluent_artifacts_and_a_model_round_trip_through_the_server(
    tracking_server: Server, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    report = tmp_path / "report.txt"
    report.write_text("accuracy 0.93\n")
    x = [[0.0, 1.0], [1.0, 0.0], [0.5, 0.2], [0.1, 0.9]]
    y = [0, 1, 1, 0]
    with kiln.start_run() as run:
        kiln.log_artifact(str(report), "reports")
        kiln.log_dict({"k": [1, 2]}, "config/params.json")
        kiln.log_text("hello", "notes/hello.txt")
        info = kiln.sklearn.log_model(LogisticRegression().fit(x, y), name="model")
    run_id = run.info.run_id
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")

    stored = tracking_server.destination / run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    assert (stored / "reports" / "report.txt").read_text() == "accuracy 0.93\n"
    assert json.loads((stored / "config" / "params.json").read_text()) == {"k": [1, 2]}
    # MLflow 3's layout: the model's files live with its logged model, not in the run's folder
    assert info.artifact_path.startswith("mlflow-artifacts:/")
    model_files = tracking_server.destination / info.artifact_path.removeprefix(
        "mlflow-artifacts:/"
    )
    assert (model_files / "MLmodel").is_file()
    assert not (stored / "model").exists()

    client = KilnClient.from_uri(tracking_server.url)
    try:
        names = [i.path for i in client.list_artifacts(run_id)]
        assert names == ["config", "notes", "reports"]
        local = Path(client.download_artifacts(run_id, "notes/hello.txt", tmp_path / "dl"))
        assert local.read_text() == "hello"
    finally:
        client.store.close()  # type: ignore[attr-defined]  # the REST store's pool

    model = kiln.pyfunc.load_model(info.model_uri)
    assert info.model_uri == f"models:/{info.model_id}"
    assert list(model.predict([[0.0, 1.0], [1.0, 0.0]])) == [0, 1]
    # the run's URI still reaches the model, as in MLflow 3
    by_run = kiln.pyfunc.load_model(f"runs:/{run_id}/model")
    assert list(by_run.predict([[0.0, 1.0], [1.0, 0.0]])) == [0, 1]


# interop with the official client --------------------------------------------------------
def test_the_official_mlflow_client_and_kiln_read_each_others_artifacts(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    official = mlflow.MlflowClient(tracking_uri=server.url)
    kiln_client = KilnClient.from_uri(server.url)
    try:
        run_id = official.create_run("0").info.run_id
        theirs = tmp_path / "theirs.bin"
        theirs.write_bytes(bytes(range(256)) * 100)
        official.log_artifact(run_id, str(theirs), "from-mlflow")
        kiln_client.log_bytes(run_id, b"\x00kiln\xff" * 1000, "from-kiln/ours.bin")
        kiln_client.log_artifacts(run_id, str(_tree(tmp_path / "tree")), "tree")

        store = kiln_client.artifact_store(run_id)
        assert read_all(store, "from-mlflow/theirs.bin") == theirs.read_bytes()
        got = Path(official.download_artifacts(run_id, "from-kiln/ours.bin", str(tmp_path)))
        assert got.read_bytes() == b"\x00kiln\xff" * 1000
        tree = Path(official.download_artifacts(run_id, "tree", str(tmp_path / "o")))
        assert (tree / "sub" / "b.txt").read_text() == "b"
        assert sorted(f.path for f in official.list_artifacts(run_id)) == [
            "from-kiln",
            "from-mlflow",
            "tree",
        ]
        assert [i.path for i in kiln_client.list_artifacts(run_id, "from-mlflow")] == [
            "from-mlflow/theirs.bin"
        ]
    finally:
        kiln_client.store.close()  # type: ignore[attr-defined]


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("a")
    (root / "sub" / "b.txt").write_text("b")
    return root


# a 200 MB file with flat client memory ---------------------------------------------------
TRANSFER_SCRIPT = r"""
import hashlib, json, os, sys
from pathlib import Path
from kiln.store.artifacts.http import HttpArtifactStore

url, work, size_mb = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
MIB = 1024 * 1024

def peak_rss():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

def sha(path):
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(MIB):
            digest.update(block)
    return digest.hexdigest()

src = work / "big.bin"
block = hashlib.shake_256(b"kiln").digest(MIB)
with src.open("wb") as out:
    for index in range(size_mb):
        out.write(index.to_bytes(8, "big") + block[8:])
store = HttpArtifactStore("mlflow-artifacts:/rss/run/artifacts", tracking_uri=url)
(work / "warm.txt").write_bytes(b"warm")
store.log_artifact(str(work / "warm.txt"))
store.download_artifacts("warm.txt", str(work / "warm-dl"))
baseline = peak_rss()
store.log_artifact(str(src), "data")
after_upload = peak_rss()
local = store.download_artifacts("data/big.bin", str(work / "dl"))
after_download = peak_rss()
listed = store.list_artifacts("data")
print(json.dumps({
    "baseline": baseline, "after_upload": after_upload, "after_download": after_download,
    "same": sha(src) == sha(local), "size": listed[0].file_size,
}))
"""
SIZE_MB = 200
RSS_BUDGET = 48 * 1024 * 1024


@pytest.mark.slow
def test_a_200_mb_file_goes_up_and_down_with_flat_client_memory(tmp_path: Path) -> None:
    with server_process(f"sqlite:///{tmp_path / 'kiln.db'}", tmp_path / "server") as proc:
        work = tmp_path / "client"
        work.mkdir()
        result = subprocess.run(
            [sys.executable, "-c", TRANSFER_SCRIPT, proc.url, str(work), str(SIZE_MB)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        stored = tmp_path / "server" / "artifacts" / "rss" / "run" / "artifacts" / "data"
        assert (stored / "big.bin").stat().st_size == SIZE_MB * 1024 * 1024
    report = json.loads(result.stdout)
    assert report["same"] is True
    assert report["size"] == SIZE_MB * 1024 * 1024
    assert report["after_upload"] - report["baseline"] < RSS_BUDGET, report
    assert report["after_download"] - report["baseline"] < RSS_BUDGET, report
