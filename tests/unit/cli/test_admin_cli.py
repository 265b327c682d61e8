"""``kiln admin`` and ``kiln tokens`` in a SQLite tracking database (embedded: the OS user
acts as a global admin), through the real CLI and the real auth store."""

from __future__ import annotations

import csv
import getpass
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kiln.auth.service import AuthService
from kiln.cli.admin import memory_mb
from kiln.cli.main import cli
from kiln.store.open import close_store, open_audit_log, open_auth_store
from kiln.store.sql.tracking import open_sql_store
from kiln.testing.cli import Invoke, one_error_line


@pytest.fixture
def uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("KILN_HOME", str(tmp_path / "home"))
    uri = f"sqlite:///{tmp_path / 'kiln.db'}"
    monkeypatch.setenv("KILN_TRACKING_URI", uri)
    return uri


@pytest.fixture
def kiln() -> Invoke:
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(cli, list(args), input=stdin, catch_exceptions=False)

    return invoke


@pytest.fixture
def service(uri: str) -> Iterator[AuthService]:
    """The auth service on the same database, to check what the commands did."""
    store, audit = open_auth_store(uri), open_audit_log(uri)
    yield AuthService(store, audit)
    close_store(store)
    close_store(audit)


def test_create_user_prints_a_one_time_password_that_logs_in(
    kiln: Invoke, service: AuthService
) -> None:
    result = kiln("admin", "create-user", "alice")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Created user alice."
    password = lines[1].rsplit(": ", 1)[1]
    assert len(password) >= 20
    assert result.output.count(password) == 1
    identity = service.identity_for_password("alice", password)
    assert identity is not None
    assert identity.user == "alice"


def test_a_password_from_stdin_is_not_printed(kiln: Invoke, service: AuthService) -> None:
    result = kiln(
        "admin", "create-user", "bob", "--admin", "--password-stdin", stdin="s3cret-pw-1\n"
    )
    assert result.exit_code == 0, result.output
    assert result.output == "Created admin user bob.\n"
    identity = service.identity_for_password("bob", "s3cret-pw-1")
    assert identity is not None
    assert identity.is_admin


def test_tenants_members_and_lists(kiln: Invoke) -> None:
    assert kiln("admin", "create-tenant", "team-a", "--description", "Team A").exit_code == 0
    assert kiln("admin", "create-user", "alice").exit_code == 0
    assert kiln("admin", "grant", "alice", "team-a", "project-admin").output == (
        "alice is project-admin in team-a.\n"
    )
    members = json.loads(kiln("admin", "list", "members", "--output", "json").output)
    assert members == [
        {"tenant": "team-a", "user": "alice", "role": "project-admin", "origin": "grant"}
    ]
    tenants = list(
        csv.DictReader(io.StringIO(kiln("admin", "list", "tenants", "--output", "csv").output))
    )
    assert [(t["name"], t["description"]) for t in tenants] == [
        ("default", ""),
        ("team-a", "Team A"),
    ]
    users = json.loads(kiln("admin", "list", "--output", "json").output)
    assert [(u["name"], u["is_admin"], u["disabled"]) for u in users] == [("alice", False, False)]
    table = kiln("admin", "list", "members", "--tenant", "team-a").output
    assert "alice" in table
    assert "project-admin" in table
    assert kiln("admin", "revoke", "alice", "team-a").exit_code == 0
    assert json.loads(kiln("admin", "list", "members", "--output", "json").output) == []


def test_changes_are_audited_as_the_os_user(kiln: Invoke, uri: str) -> None:
    assert kiln("admin", "create-tenant", "team-b").exit_code == 0
    audit = open_audit_log(uri)
    try:
        events = [e for e in audit.list_events(tenant=None).items if e.action == "tenant.create"]
    finally:
        close_store(audit)
    assert [(e.actor, e.resource) for e in events] == [(getpass.getuser(), "tenant:team-b")]


def test_disable_enable_and_set_password(kiln: Invoke, service: AuthService) -> None:
    kiln("admin", "create-user", "carol", "--password-stdin", stdin="first-pass-1\n")
    assert kiln("admin", "disable-user", "carol").output == "Disabled user carol.\n"
    assert service.store.get_user("carol").disabled
    assert kiln("admin", "disable-user", "carol", "--enable").exit_code == 0
    assert not service.store.get_user("carol").disabled
    result = kiln("admin", "set-password", "carol")
    new = result.output.splitlines()[-1].rsplit(": ", 1)[1]
    assert service.identity_for_password("carol", "first-pass-1") is None
    assert service.identity_for_password("carol", new) is not None


def test_quota_and_groups(kiln: Invoke) -> None:
    kiln("admin", "create-tenant", "gpu-team")
    result = kiln("admin", "quota", "gpu-team", "--cpus", "8", "--memory", "16G")
    assert result.output == "gpu-team: cpus 8, gpus no limit, memory 16384 MB\n"
    result = kiln("admin", "quota", "gpu-team", "--gpus", "2")
    assert result.output == "gpu-team: cpus 8, gpus 2, memory 16384 MB\n"
    assert kiln("admin", "quota", "gpu-team", "--clear").output.endswith("memory no limit\n")
    assert kiln("admin", "bind-group", "ml-team", "gpu-team", "viewer").exit_code == 0
    groups = json.loads(kiln("admin", "list", "groups", "--output", "json").output)
    assert groups == [{"tenant": "gpu-team", "group": "ml-team", "role": "viewer"}]
    assert kiln("admin", "unbind-group", "ml-team", "gpu-team").exit_code == 0
    assert json.loads(kiln("admin", "list", "groups", "--output", "json").output) == []


def test_delete_tenant(kiln: Invoke, service: AuthService) -> None:
    kiln("admin", "create-tenant", "old-team")
    assert kiln("admin", "delete-tenant", "old-team").output == "Deleted workspace old-team.\n"
    assert [t.name for t in service.store.list_tenants()] == ["default"]
    error = one_error_line(kiln("admin", "delete-tenant", "default"))
    assert "cannot be deleted" in error


def test_delete_tenant_force_deletes_its_experiments(
    kiln: Invoke, service: AuthService, uri: str
) -> None:
    kiln("admin", "create-tenant", "old-team")
    old = open_sql_store(uri, workspace="old-team")
    old.create_run(old.create_experiment("e"), run_name="r")
    refused = kiln("admin", "delete-tenant", "old-team")
    assert refused.exit_code == 4
    assert "add --force" in refused.output  # the hint
    error = one_error_line(refused)
    assert "still holds experiments or models" in error
    assert "unreachable" not in error
    result = kiln("admin", "delete-tenant", "old-team", "--force")
    assert result.output == (
        "Deleted workspace old-team with its experiments, runs and models; their artifacts "
        "stay under the artifact root's workspaces/old-team/ for an operator to remove.\n"
    )
    purged = service.audit.list_events(max_results=1).items[0].before
    assert purged is not None
    assert purged["purged"]["runs"] == 1
    kiln("admin", "create-tenant", "old-team")
    again = open_sql_store(uri, workspace="old-team")
    assert [e.name for e in again.search_experiments().items] == ["Default"]
    assert not service.store.tenant_holds_data("old-team")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("admin", "grant", "nobody", "default", "member"), "user 'nobody' not found"),
        (("admin", "create-tenant", "Bad_Name"), "Bad_Name"),
        (("admin", "delete-tenant", "ghost"), "ghost"),
        (("admin", "quota", "default", "--memory", "lots"), "'lots' is not a size"),
        (("admin", "grant", "a", "default", "boss"), "unknown role 'boss'"),
        (("admin", "list", "users", "--tenant", "x"), "--tenant goes with"),
        (("admin", "create-user", "dave", "--password-stdin"), "empty password"),
        (("tokens", "create", "--name", "ci"), "a token is created by its user through a Kiln"),
    ],
)
def test_bad_input_is_one_clear_line(kiln: Invoke, args: tuple[str, ...], expected: str) -> None:
    result = kiln(*args, stdin="")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert expected in result.output


def test_an_mlruns_folder_has_no_users(kiln: Invoke, tmp_path: Path) -> None:
    error = one_error_line(kiln("--tracking-uri", str(tmp_path / "mlruns"), "admin", "list"))
    assert "need a SQL store" in error


@pytest.mark.parametrize(
    ("text", "mb"), [("4096", 4096), ("512M", 512), ("16G", 16384), ("1T", 1048576), ("2gib", 2048)]
)
def test_memory_sizes(text: str, mb: int) -> None:
    assert memory_mb(text) == mb


def test_the_same_commands_on_postgresql(
    postgres_db_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KILN_HOME", str(tmp_path / "home"))
    runner = CliRunner()

    def kiln_pg(*args: str, stdin: str | None = None) -> Result:
        argv = ["--tracking-uri", postgres_db_uri, *args]
        return runner.invoke(cli, argv, input=stdin, catch_exceptions=False)

    assert kiln_pg("admin", "create-tenant", "team-pg").exit_code == 0
    made = kiln_pg("admin", "create-user", "pat", "--password-stdin", stdin="pat-pass-12\n")
    assert made.exit_code == 0, made.output
    assert kiln_pg("admin", "grant", "pat", "team-pg", "viewer").exit_code == 0
    members = json.loads(kiln_pg("admin", "list", "members", "--output", "json").output)
    assert members == [{"tenant": "team-pg", "user": "pat", "role": "viewer", "origin": "grant"}]
    assert kiln_pg("admin", "delete-tenant", "team-pg").exit_code == 0
    tenants = json.loads(kiln_pg("admin", "list", "tenants", "--output", "json").output)
    assert [t["name"] for t in tenants] == ["default"]
