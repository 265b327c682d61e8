"""Credentials and the workspace header on requests to a tracking server (kiln.credentials).

The headers are checked as a real server receives them: a small Starlette app served
by uvicorn on 127.0.0.1 records every request; the same requests made by the real
mlflow client (``mlflow.utils.rest_utils.http_request``) must carry the same headers.
"""

from __future__ import annotations

import base64
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kiln.credentials import (
    SavedLogin,
    credentials_path,
    forget_login,
    http_credentials,
    save_login,
    saved_login,
    server_key,
)
from kiln.errors import InvalidInput
from kiln.store.artifacts.http import SERVICE_PATH
from kiln.store.artifacts.options import ArtifactOptions, HttpClients
from kiln.store.credentials import HttpCredentials
from kiln.store.open import open_artifact_store
from kiln.store.rest.client import RestClient
from kiln.store.rest.tracking import RestTrackingStore
from kiln.testing.server import serve_in_thread

Seen = list[tuple[str, dict[str, str]]]
_ENV = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_WORKSPACE",
    "KILN_WORKSPACE",
)


def _echo_app(seen: Seen) -> Starlette:
    async def record(request: Request) -> JSONResponse:
        wanted = ("authorization", "x-mlflow-workspace")
        seen.append((request.url.path, {k: v for k, v in request.headers.items() if k in wanted}))
        return JSONResponse({})

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/{path:path}", record, methods=methods)])


@pytest.fixture
def echo() -> Iterator[tuple[str, Seen]]:
    seen: Seen = []
    with serve_in_thread(_echo_app(seen)) as url:
        yield url, seen


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No variable of the developer's shell, no ~/.mlflow/credentials, a fresh KILN_HOME."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KILN_HOME", str(tmp_path / "kiln"))


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _kiln_headers(url: str, seen: Seen) -> dict[str, str]:
    """The headers Kiln's REST store sent for one search request."""
    import kiln.config  # noqa: F401  (installs the process's credential source)

    seen.clear()
    store = RestTrackingStore(url, workspace="default")
    try:
        store.search_experiments()
    finally:
        store.close()
    return seen[-1][1]


def _mlflow_headers(url: str, seen: Seen, endpoint: str) -> dict[str, str]:
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    seen.clear()
    http_request(get_default_host_creds(url), endpoint, "GET", max_retries=0)
    return seen[-1][1]


CASES = {
    "anonymous": {},
    "token": {"MLFLOW_TRACKING_TOKEN": "kiln_pat_abc"},
    "basic": {"MLFLOW_TRACKING_USERNAME": "alice", "MLFLOW_TRACKING_PASSWORD": "pw:1"},
    "basic_beats_token": {
        "MLFLOW_TRACKING_USERNAME": "alice",
        "MLFLOW_TRACKING_PASSWORD": "pw",
        "MLFLOW_TRACKING_TOKEN": "kiln_pat_abc",
    },
    "user_without_password_uses_token": {
        "MLFLOW_TRACKING_USERNAME": "alice",
        "MLFLOW_TRACKING_TOKEN": "kiln_pat_abc",
    },
    "workspace": {"MLFLOW_TRACKING_TOKEN": "t", "MLFLOW_WORKSPACE": "team-a"},
}


@pytest.mark.parametrize("case", CASES)
def test_the_headers_are_the_mlflow_clients(
    case: str, echo: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = echo
    for name, value in CASES[case].items():
        monkeypatch.setenv(name, value)
    ours = _kiln_headers(url, seen)
    assert ours == _mlflow_headers(url, seen, "/api/2.0/mlflow/experiments/search")
    if case.startswith("basic"):
        assert ours["authorization"].startswith("Basic ")
    if case == "anonymous":
        assert ours == {}


def test_the_workspace_header_is_left_off_workspace_endpoints(
    echo: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = echo
    monkeypatch.setenv("MLFLOW_WORKSPACE", "team-a")
    import kiln.config  # noqa: F401

    rest = RestClient(url, None, 10.0, label="server")
    rest.request("GET", "/api/3.0/mlflow/workspaces")
    rest.close()
    ours = seen[-1][1]
    assert ours == _mlflow_headers(url, seen, "/api/3.0/mlflow/workspaces") == {}


def test_mlflows_credentials_file_is_read_as_mlflow_reads_it(
    echo: tuple[str, Seen], tmp_path: Path
) -> None:
    url, seen = echo
    folder = tmp_path / "home" / ".mlflow"
    folder.mkdir(parents=True)
    (folder / "credentials").write_text(
        "[mlflow]\nmlflow_tracking_username = bob\nmlflow_tracking_password = s3cret\n"
    )
    ours = _kiln_headers(url, seen)
    assert ours == {"authorization": _basic("bob", "s3cret")}
    assert ours == _mlflow_headers(url, seen, "/api/2.0/mlflow/experiments/search")


def test_a_saved_login_is_sent_to_its_server_only(
    echo: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = echo
    save_login(SavedLogin(server_key(url), "kiln_pat_saved", "alice", "tok1"))
    assert _kiln_headers(url, seen) == {"authorization": "Bearer kiln_pat_saved"}
    # the environment's token comes first, as the variables do in MLflow
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "kiln_pat_env")
    assert _kiln_headers(url, seen) == {"authorization": "Bearer kiln_pat_env"}
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    # another server (another port) gets nothing
    other = url.rsplit(":", 1)[0] + ":1"
    assert http_credentials(other + "/api/2.0/mlflow/runs/get").authorization is None


def test_proxied_artifact_requests_carry_the_credentials(
    echo: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    import kiln.config  # noqa: F401

    url, seen = echo
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "kiln_pat_abc")
    monkeypatch.setenv("KILN_WORKSPACE", "team-b")
    with HttpClients() as clients:
        options = ArtifactOptions(http=clients)
        store = open_artifact_store(
            "mlflow-artifacts:/1/r/artifacts", tracking_uri=url, options=options
        )
        assert store.list_artifacts() == []
    path, headers = seen[-1]
    assert path == SERVICE_PATH  # a listing: GET <service>?path=1/r/artifacts
    assert headers == {"authorization": "Bearer kiln_pat_abc", "x-mlflow-workspace": "team-b"}


def test_a_store_may_carry_its_own_credentials(echo: tuple[str, Seen]) -> None:
    url, seen = echo
    own = HttpCredentials(username="svc", password="pw", workspace="ops")
    store = RestTrackingStore(url, workspace="ops", credentials=lambda _url: own)
    store.search_experiments()
    store.close()
    assert seen[-1][1] == {"authorization": _basic("svc", "pw"), "x-mlflow-workspace": "ops"}


def test_secrets_never_show_in_repr() -> None:
    shown = repr(HttpCredentials(token="kiln_pat_x", username="a", password="pw"))
    assert "kiln_pat_x" not in shown
    assert "pw" not in shown
    assert "'a'" in shown
    assert "kiln_pat_x" not in repr(SavedLogin("http://h", "kiln_pat_x", "a"))


def test_the_credentials_file_is_private_and_replaced_atomically() -> None:
    first = SavedLogin("http://h:5000", "kiln_pat_1", "alice", "id1", "team-a")
    path = save_login(first)
    assert path == credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    save_login(SavedLogin("https://other", "kiln_pat_2", "bob"))
    assert saved_login("http://H:5000/api/2.0/mlflow/x") == first
    left = sorted(p.name for p in path.parent.iterdir())
    assert left == ["credentials", "credentials.lock"]  # no temporary left
    assert forget_login("http://h:5000") == first
    assert saved_login("http://h:5000") is None
    assert saved_login("https://other/x") is not None
    assert forget_login("http://h:5000") is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_saved_server_with_a_path_matches_only_below_it() -> None:
    save_login(SavedLogin(server_key("https://h/ml/"), "kiln_pat_1"))
    assert saved_login("https://h/ml/api/2.0/mlflow/runs/get") is not None
    assert saved_login("https://h/mlx/api") is None
    assert saved_login("https://h") is None


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("HTTP://Host:5000/", "http://host:5000"),
        ("https://user:pw@h/a/?q=1", "https://h/a"),
        ("http://[::1]:80", "http://[::1]:80"),
    ],
)
def test_server_keys(url: str, key: str) -> None:
    assert server_key(url) == key


@pytest.mark.parametrize("url", ["ftp://h", "sqlite:///x.db", "http://", "h:5000"])
def test_a_server_key_needs_an_http_url(url: str) -> None:
    with pytest.raises(InvalidInput, match="not a server URL"):
        server_key(url)


def test_an_unreadable_credentials_file_means_no_token() -> None:
    path = credentials_path()
    path.parent.mkdir(parents=True)
    path.write_text("not an ini file [[[\n")
    assert http_credentials("http://h:1/api").authorization is None
    with pytest.raises(InvalidInput, match="not a credentials file Kiln can read"):
        save_login(SavedLogin("http://h:1", "kiln_pat_1"))


def test_logins_saved_at_once_are_all_kept() -> None:
    servers = [f"http://h{i}:5000" for i in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(lambda s: save_login(SavedLogin(s, f"kiln_pat_{s[-6:]}")), servers))
    assert all(saved_login(s) is not None for s in servers)
