"""``kiln login``, ``kiln logout``, ``kiln tokens``, ``kiln admin`` and the fluent workspace
functions against a real Kiln server with auth on (uvicorn on 127.0.0.1, SQLite)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import kiln
from kiln.auth.service import AuthService
from kiln.cli.main import cli
from kiln.credentials import credentials_path, saved_login
from kiln.errors import PermissionDenied, Unauthenticated
from kiln.server.app import create_app
from kiln.store.credentials import CredentialSource, HttpCredentials
from kiln.testing.auth_app import ADMIN_PASSWORD, sqlite_auth_service, sqlite_settings
from kiln.testing.cli import Invoke, one_error_line
from kiln.testing.server import serve_in_thread
from kiln.tracking.fluent import reset_state
from kiln.tracking.kiln_api import KilnApi


@dataclass
class Server:
    url: str
    service: AuthService


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("server")
    settings = sqlite_settings(root, tracking_uri=f"sqlite:///{root / 'kiln.db'}")
    with (
        sqlite_auth_service(root) as service,
        serve_in_thread(create_app(settings, auth=service)) as url,
    ):
        yield Server(url, service)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh KILN_HOME and no credentials from the environment."""
    for name in (
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "MLFLOW_WORKSPACE",
        "KILN_WORKSPACE",
        "KILN_TRACKING_URI",
        "MLFLOW_TRACKING_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KILN_HOME", str(tmp_path / "kiln"))
    return tmp_path / "kiln"


@pytest.fixture
def kiln_cli(server: Server) -> Invoke:
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(
            cli, ["--tracking-uri", server.url, *args], input=stdin, catch_exceptions=False
        )

    return invoke


def _login(kiln_cli: Invoke, user: str, password: str, *extra: str) -> Result:
    return kiln_cli("login", "-u", user, "--password-stdin", *extra, stdin=password + "\n")


def test_login_saves_a_private_token_that_later_commands_send(
    kiln_cli: Invoke, server: Server
) -> None:
    result = _login(kiln_cli, "admin", ADMIN_PASSWORD)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Logged in to {server.url} as admin")
    assert "KILN_TRACKING_URI" not in result.output  # the tracking URI is that server
    assert "(global admin; default workspace: default)" in result.output
    path = credentials_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ADMIN_PASSWORD not in path.read_text()
    saved = saved_login(server.url)
    assert saved is not None
    assert saved.token.startswith("kiln_pat_")
    assert kiln_cli("admin", "create-tenant", "team-a").exit_code == 0
    assert "team-a" in kiln_cli("admin", "list", "tenants").output
    # the tracking commands' REST store sends the saved token too (a real `kiln` process)
    listed = _kiln_process(server.url, "experiments", "list", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    assert [e["name"] for e in json.loads(listed.stdout)] == ["Default"]
    assert kiln_cli("logout").exit_code == 0
    refused = _kiln_process(server.url, "experiments", "list")
    assert refused.returncode == 5
    assert "needs credentials" in refused.stderr
    assert "Traceback" not in refused.stderr


def _kiln_process(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    kiln_bin = Path(sys.executable).parent / "kiln"
    return subprocess.run(
        [str(kiln_bin), "--tracking-uri", url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_user_created_over_the_api_logs_in_with_the_printed_password(
    kiln_cli: Invoke, server: Server
) -> None:
    _login(kiln_cli, "admin", ADMIN_PASSWORD)
    kiln_cli("admin", "create-tenant", "team-b")
    created = kiln_cli("admin", "create-user", "bob")
    password = created.output.splitlines()[-1].rsplit(": ", 1)[1]
    assert kiln_cli("admin", "grant", "bob", "team-b", "member").exit_code == 0
    # bob logs in (the password asked at the prompt) and replaces admin's saved login
    result = kiln_cli("login", "--username", "bob", stdin=password + "\n")
    assert result.exit_code == 0, result.output
    assert "as bob (member in team-b)" in result.output
    assert "admin" in one_error_line(kiln_cli("admin", "create-tenant", "team-c"))
    whoami = KilnApi(server.url)
    try:
        assert whoami.whoami()["user"] == "bob"
    finally:
        whoami.close()


def test_a_wrong_password_is_one_line(kiln_cli: Invoke) -> None:
    error = one_error_line(_login(kiln_cli, "admin", "not-the-password"))
    assert "refused the user name or password" in error
    assert not credentials_path().exists()


def test_tokens_create_list_revoke(kiln_cli: Invoke, server: Server) -> None:
    _login(kiln_cli, "admin", ADMIN_PASSWORD)
    created = kiln_cli("tokens", "create", "--name", "ci", "--role", "viewer")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("kiln_pat_")
    assert "\n" not in secret
    assert secret not in kiln_cli("tokens", "list", "--output", "json").output
    listed = kiln_cli("tokens", "list", "--output", "csv").output
    row = next(line for line in listed.splitlines() if ",ci," in line)
    token_id = row.split(",", 1)[0]
    viewer = KilnApi(server.url, credentials=_bearer(secret))
    try:
        assert viewer.whoami()["role"] == "viewer"
        assert kiln_cli("tokens", "revoke", token_id).output == f"Revoked token {token_id}.\n"
        with pytest.raises(Unauthenticated, match="refused"):
            viewer.whoami()
    finally:
        viewer.close()


def test_logout_revokes_the_token_on_the_server(kiln_cli: Invoke, server: Server) -> None:
    _login(kiln_cli, "admin", ADMIN_PASSWORD)
    saved = saved_login(server.url)
    assert saved is not None
    assert kiln_cli("logout").output == f"Logged out of {server.url}.\n"
    assert saved_login(server.url) is None
    gone = KilnApi(server.url, credentials=_bearer(saved.token))
    try:
        with pytest.raises(Unauthenticated, match="refused"):
            gone.whoami()
    finally:
        gone.close()
    assert kiln_cli("logout").output == f"Not logged in to {server.url}.\n"
    error = one_error_line(kiln_cli("admin", "list"))
    assert "needs credentials" in error
    assert "kiln login" in kiln_cli("admin", "list").output  # the hint


def test_fluent_workspaces_through_the_server(
    kiln_cli: Invoke, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _login(kiln_cli, "admin", ADMIN_PASSWORD)
    reset_state()
    kiln.set_tracking_uri(server.url)
    try:
        made = kiln.create_workspace("team-w", description="W")
        assert made.description == "W"
        assert "team-w" in [w.name for w in kiln.list_workspaces()]
        kiln.set_workspace("team-w")
        experiment_id = kiln.create_experiment("in-team-w")
        kiln.set_workspace(None)
        assert kiln.get_experiment_by_name("in-team-w") is None  # not in default
        kiln.set_workspace("team-w")
        assert kiln.get_experiment(experiment_id).name == "in-team-w"
        kiln.set_workspace(None)
        assert kiln.update_workspace("team-w", description="W2").description == "W2"
        assert kiln.get_workspace("team-w").description == "W2"
        client = kiln.MlflowClient(server.url)
        client.create_workspace("team-v")
        assert client.get_workspace("team-v").name == "team-v"
        client.delete_workspace("team-v")
        assert "team-v" not in [w.name for w in kiln.list_workspaces()]
        kiln_cli("admin", "create-user", "wanda", "--password-stdin", stdin="wanda-pass-1\n")
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "wanda")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wanda-pass-1")
        with pytest.raises(PermissionDenied, match="admin"):
            kiln.create_workspace("team-x")
    finally:
        kiln.set_workspace(None)
        reset_state()


def _bearer(secret: str) -> CredentialSource:
    sent = HttpCredentials(token=secret)
    return lambda _url: sent


def test_login_to_a_server_without_auth_is_one_line(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'kiln.db'}")
    with serve_in_thread(create_app(settings)) as url:
        result = CliRunner().invoke(
            cli, ["login", url, "-u", "x", "--password-stdin"], input="pw\n"
        )
    assert "runs without auth" in one_error_line(result)
    assert not credentials_path().exists()


def test_login_to_a_workspace_that_is_not_yours(kiln_cli: Invoke) -> None:
    _login(kiln_cli, "admin", ADMIN_PASSWORD)
    kiln_cli("admin", "create-user", "erin", "--password-stdin", stdin="erin-pass-1\n")
    result = _login(kiln_cli, "erin", "erin-pass-1", "--workspace", "team-zzz")
    assert "team-zzz" in one_error_line(result)


def test_login_to_a_server_that_is_not_kiln_is_one_line() -> None:
    from starlette.applications import Starlette

    with serve_in_thread(Starlette()) as url:
        result = CliRunner().invoke(
            cli, ["login", url, "-u", "x", "--password-stdin"], input="pw\n"
        )
    assert "does not serve Kiln's API" in one_error_line(result)
