"""``kiln audit list`` and ``kiln audit verify`` on a real SQLite store in a temp KILN_HOME."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from kiln.auth.service import AuthService
from kiln.auth.settings import AuthSettings
from kiln.cli.main import cli
from kiln.config import Settings
from kiln.entities.auth import Role
from kiln.server.app import create_app
from kiln.store.audit_context import acting_as
from kiln.store.open import (
    close_store,
    open_audit_log,
    open_auth_store,
    open_registry_store,
    open_tracking_store,
)
from kiln.store.sql.audit_schema import audit_events
from kiln.store.sql.engine import dispose_engine, engine_for, normalize_uri, write_transaction
from kiln.testing.cli import Invoke
from kiln.testing.server import serve_in_thread


@pytest.fixture
def home_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The default store of a fresh KILN_HOME, holding a few audited changes."""
    home = tmp_path / "home"
    monkeypatch.setenv("KILN_HOME", str(home))
    for name in ("KILN_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    uri = f"sqlite:///{home / 'kiln.db'}"
    tracking = open_tracking_store(uri, workspace="default")
    registry = open_registry_store(uri, workspace="default")
    acme = open_registry_store(uri, workspace="acme")
    run_id = tracking.create_run("0").info.run_id
    with acting_as("alice"):
        tracking.delete_run(run_id)
        registry.create_registered_model("churn")
        registry.create_model_version("churn", "s3://b/1")
        registry.create_model_version("churn", "s3://b/2")
        registry.set_registered_model_alias("churn", "champion", 1)
    with acting_as("bob"):
        registry.set_registered_model_alias("churn", "champion", 2)
        registry.transition_model_version_stage("churn", 2, "Production")
        acme.create_registered_model("fraud")
        acme.delete_registered_model("fraud")
    yield uri
    dispose_engine(normalize_uri(uri))


@pytest.fixture
def kiln(home_uri: str) -> Invoke:
    def invoke(*args: str, columns: int = 200, env: dict[str, str] | None = None) -> Result:
        runner = CliRunner(env={"COLUMNS": str(columns), **(env or {})})
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def _json(result: Result) -> list[dict[str, object]]:
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert isinstance(records, list)
    return records


def test_list_shows_every_tenant_newest_first(kiln: Invoke) -> None:
    result = kiln("audit", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "Audit events" in lines[0]
    body = "\n".join(lines)
    assert body.index("model.delete") < body.index("version.stage") < body.index("run.delete")
    assert "model:churn/2" in body
    assert "alias=champion, version: 1 -> 2" in body  # the alias moved
    assert "lifecycle_stage: active -> deleted" in body
    assert "was name=fraud" in body
    records = _json(kiln("audit", "list", "--output", "json"))
    assert [r["action"] for r in records] == [
        "model.delete",
        "version.stage",
        "model.alias.set",
        "model.alias.set",
        "version.create",
        "version.create",
        "run.delete",
    ]
    assert records[0]["tenant"] == "acme"
    assert records[2]["before"] == {"alias": "champion", "version": 1}
    assert records[2]["after"] == {"alias": "champion", "version": 2}
    ids = [int(str(r["event_id"])) for r in records]
    assert ids == sorted(ids, reverse=True)


def test_list_filters(kiln: Invoke) -> None:
    by_resource = _json(kiln("audit", "list", "--resource", "model:churn", "--output", "json"))
    assert [r["action"] for r in by_resource] == ["model.alias.set", "model.alias.set"]
    versions = _json(kiln("audit", "list", "--resource", "model:churn/*", "--output", "json"))
    # the stage change of version 2, then both versions' creation
    assert [r["resource"] for r in versions] == ["model:churn/2", "model:churn/2", "model:churn/1"]
    by_actor = _json(kiln("audit", "list", "--actor", "alice", "--output", "json"))
    assert [r["action"] for r in by_actor] == [
        "model.alias.set",
        "version.create",
        "version.create",
        "run.delete",
    ]
    by_action = _json(kiln("audit", "list", "--action", "version.stage", "--output", "json"))
    assert by_action[0]["after"] == {"stage": "Production"}
    by_tenant = _json(kiln("audit", "list", "--tenant", "acme", "--output", "json"))
    assert [(r["action"], r["resource"]) for r in by_tenant] == [("model.delete", "model:fraud")]
    every = _json(kiln("audit", "list", "--tenant", "*", "--output", "json"))
    assert len(every) == 7  # five changes and the two versions created
    two = _json(kiln("audit", "list", "--max-results", "2", "--output", "json"))
    assert [r["action"] for r in two] == ["model.delete", "version.stage"]
    none = kiln("audit", "list", "--actor", "nobody")
    assert none.exit_code == 0
    assert "No audit events match." in none.stdout


def test_list_as_csv_keeps_before_after_as_json(kiln: Invoke) -> None:
    result = kiln("audit", "list", "--action", "model.alias.set", "--output", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [json.loads(r["after"]) for r in rows] == [
        {"alias": "champion", "version": 2},
        {"alias": "champion", "version": 1},
    ]
    assert json.loads(rows[1]["before"]) == {"alias": "champion", "version": None}
    assert list(rows[0]) == [
        "event_id",
        "timestamp",
        "tenant",
        "actor",
        "action",
        "resource",
        "before",
        "after",
        "detail",
        "prev_hash",
        "hash",
    ]


def test_verify_passes_then_names_the_edited_event(kiln: Invoke, home_uri: str) -> None:
    ok = kiln("audit", "verify")
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.stdout
    target = _json(kiln("audit", "list", "--actor", "bob", "--output", "json"))[-1]["event_id"]
    with write_transaction(engine_for(normalize_uri(home_uri))) as conn:
        conn.execute(
            update(audit_events).where(audit_events.c.event_id == target).values(actor="mallory")
        )
    broken = kiln("audit", "verify")
    assert broken.exit_code == 1
    assert f"altered at event {target}" in broken.stderr


def test_bad_input_is_one_clear_line(kiln: Invoke, tmp_path: Path) -> None:
    bad = kiln("audit", "list", "--max-results", "0")
    assert bad.exit_code == 2
    assert "Traceback" not in bad.output
    file_store = kiln("--tracking-uri", (tmp_path / "mlruns").as_uri(), "audit", "list")
    assert file_store.exit_code == 2
    assert "needs a SQL store" in file_store.stderr
    assert "Traceback" not in file_store.output


def test_a_memory_store_has_an_empty_log(kiln: Invoke) -> None:
    result = kiln("--tracking-uri", "memory://", "audit", "list", "--output", "json")
    assert _json(result) == []
    assert kiln("--tracking-uri", "memory://", "audit", "verify").exit_code == 0


def test_against_a_server_reads_and_verifies_its_log(
    kiln: Invoke, home_uri: str, tmp_path: Path
) -> None:
    """An http(s) tracking URI: the events come from GET /api/kiln/v1/audit (auth off:
    the default workspace), the chain check from /api/kiln/v1/audit/verify."""
    settings = Settings(
        home=tmp_path / "server-home", tracking_uri="unused", backend_store_uri=home_uri
    )
    with serve_in_thread(create_app(settings)) as url:
        listed = _json(kiln("--tracking-uri", url, "audit", "list", "--output", "json"))
        assert [r["action"] for r in listed] == [
            "version.stage",
            "model.alias.set",
            "model.alias.set",
            "version.create",
            "version.create",
            "run.delete",
        ]
        assert listed[1]["after"] == {"alias": "champion", "version": 2}
        paged = _json(
            kiln("--tracking-uri", url, "audit", "list", "--max-results", "3", "--output", "json")
        )
        assert paged == listed[:3]
        alice = _json(
            kiln("--tracking-uri", url, "audit", "list", "--actor", "alice", "--output", "json")
        )
        assert [r["action"] for r in alice] == [
            "model.alias.set",
            "version.create",
            "version.create",
            "run.delete",
        ]
        table = kiln("--tracking-uri", url, "audit", "list", "--resource", "model:churn/*")
        assert table.exit_code == 0, table.output
        assert "stage: None -> Production" in table.stdout
        ok = kiln("--tracking-uri", url, "audit", "verify")
        assert ok.exit_code == 0, ok.output
        assert "intact" in ok.stdout


def test_against_a_server_with_auth_sends_the_credentials(
    kiln: Invoke, home_uri: str, tmp_path: Path
) -> None:
    """With auth on, the CLI sends MLflow's credentials: the admin reads any tenant's
    events, a member is refused with one line (403), no credentials with one line (401)."""
    settings = Settings(
        home=tmp_path / "server-home", tracking_uri="unused", backend_store_uri=home_uri
    )
    store, log = open_auth_store(home_uri), open_audit_log(home_uri)
    service = AuthService(store, log, AuthSettings())
    try:
        assert service.bootstrap_admin("admin-password-1")
        identity = service.identity_for_password("admin", "admin-password-1")
        assert identity is not None
        admin = service.principal(identity, None)
        service.create_user(admin, "mia", password="mia-password-1")
        service.grant(admin, "mia", "default", Role.MEMBER)
        with serve_in_thread(create_app(settings, auth=service)) as url:
            as_admin = {
                "MLFLOW_TRACKING_USERNAME": "admin",
                "MLFLOW_TRACKING_PASSWORD": "admin-password-1",
            }
            acme = kiln(
                "--tracking-uri", url, "audit", "list", "--tenant", "acme", "--output", "json",
                env=as_admin,
            )  # fmt: skip
            assert [(r["action"], r["resource"]) for r in _json(acme)] == [
                ("model.delete", "model:fraud")
            ]
            stages = kiln(
                "--tracking-uri", url, "audit", "list", "--action", "version.stage",
                "--output", "json", env=as_admin,
            )  # fmt: skip
            assert [r["actor"] for r in _json(stages)] == ["bob"]
            assert kiln("--tracking-uri", url, "audit", "verify", env=as_admin).exit_code == 0
            as_member = {
                "MLFLOW_TRACKING_USERNAME": "mia",
                "MLFLOW_TRACKING_PASSWORD": "mia-password-1",
            }
            refused = kiln("--tracking-uri", url, "audit", "list", env=as_member)
            assert refused.exit_code == 5, refused.output
            assert refused.stderr.startswith("Error: ")
            assert "Traceback" not in refused.output
            anonymous = kiln("--tracking-uri", url, "audit", "verify")
            assert anonymous.exit_code == 5, anonymous.output
            assert "Traceback" not in anonymous.output
    finally:
        close_store(store)
        close_store(log)
