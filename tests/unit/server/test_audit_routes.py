"""The audit log over HTTP (kiln.server.audit_routes): who reads which tenant's events,
filters, pages, verify; auth on (real SQLite) and off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiln.config import Settings
from kiln.server.app import create_app
from kiln.testing.auth_app import KILN_API, AuthServer, sqlite_settings
from kiln.testing.server import asgi_client
from kiln.testing.tenancy import WORKSPACE_HEADER, basic_auth

AUDIT = f"{KILN_API}/audit"


def events(kiln: AuthServer, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    answer = kiln.http.get(AUDIT, params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json().get("events", [])
    return found


def test_project_admin_reads_its_tenants_events_only(kiln: AuthServer) -> None:
    boss = {
        **basic_auth("boss", kiln.user("boss", "team-a", "project-admin")),
        WORKSPACE_HEADER: "team-a",
    }
    kiln.user("ben", "team-b", "member")
    mine = events(kiln, boss)
    assert mine
    assert {e["tenant"] for e in mine} == {"team-a"}
    assert {"tenant.create", "member.grant"} <= {e["action"] for e in mine}
    assert all(e["hash"] for e in mine)
    other = kiln.http.get(AUDIT, params={"tenant": "team-b"}, headers=boss)
    assert other.status_code == 403
    everyone = kiln.http.get(AUDIT, params={"tenant": "*"}, headers=boss)
    assert everyone.status_code == 403


def test_members_and_viewers_cannot_read_the_log(kiln: AuthServer) -> None:
    member = {**basic_auth("mo", kiln.user("mo", "team-a", "member")), WORKSPACE_HEADER: "team-a"}
    answer = kiln.http.get(AUDIT, headers=member)
    assert answer.status_code == 403


def test_admin_reads_any_tenant_filters_and_pages(kiln: AuthServer) -> None:
    kiln.user("amy", "team-a", "member")
    kiln.user("bo", "team-b", "member")
    everything = events(kiln, kiln.admin, tenant="*", max_results=1000)
    assert {"team-a", "team-b"} <= {e["tenant"] for e in everything}
    ids = [e["event_id"] for e in everything]
    assert ids == sorted(ids, reverse=True)  # newest first
    only_b = events(kiln, kiln.admin, tenant="team-b")
    assert {e["tenant"] for e in only_b} == {"team-b"}
    grants = events(kiln, kiln.admin, tenant="*", action="member.grant")
    assert [e["resource"] for e in grants]
    assert {e["action"] for e in grants} == {"member.grant"}
    first = kiln.http.get(
        AUDIT, params={"tenant": "*", "max_results": 2}, headers=kiln.admin
    ).json()
    assert len(first["events"]) == 2
    second = kiln.http.get(
        AUDIT,
        params={"tenant": "*", "max_results": 2, "page_token": first["next_page_token"]},
        headers=kiln.admin,
    ).json()
    assert second["events"][0]["event_id"] < first["events"][-1]["event_id"]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"max_results": 0}, "between 1 and 1000"),
        ({"max_results": 5000}, "between 1 and 1000"),
        ({"max_results": "many"}, "must be an integer"),
    ],
)
def test_bad_parameters_are_400(kiln: AuthServer, params: dict[str, Any], match: str) -> None:
    answer = kiln.http.get(AUDIT, params=params, headers=kiln.admin)
    assert answer.status_code == 400
    assert match in answer.json()["message"]


def test_a_bad_page_token_is_400(kiln: AuthServer) -> None:
    answer = kiln.http.get(AUDIT, params={"page_token": "garbage!"}, headers=kiln.admin)
    assert answer.status_code == 400


def test_verify_is_admin_only_and_holds(kiln: AuthServer) -> None:
    assert kiln.http.get(f"{AUDIT}/verify", headers=kiln.admin).json() == {"ok": True}
    boss = {
        **basic_auth("bz", kiln.user("bz", "team-a", "project-admin")),
        WORKSPACE_HEADER: "team-a",
    }
    assert kiln.http.get(f"{AUDIT}/verify", headers=boss).status_code == 403


def test_auth_off_reads_the_sql_stores_log(tmp_path: Path) -> None:
    with asgi_client(create_app(sqlite_settings(tmp_path)), raise_server_exceptions=False) as http:
        made = http.post("/api/2.0/mlflow/experiments/create", json={"name": "e"})
        experiment_id = made.json()["experiment_id"]
        http.post("/api/2.0/mlflow/experiments/delete", json={"experiment_id": experiment_id})
        found = http.get(AUDIT).json()["events"]
        assert [(e["action"], e["resource"]) for e in found] == [
            ("experiment.delete", f"experiment:{experiment_id}")
        ]
        assert http.get(f"{AUDIT}/verify").json() == {"ok": True}


def test_auth_off_on_a_memory_store_has_no_log(tmp_path: Path) -> None:
    from kiln.store.memory.tracking import open_memory_store

    settings = Settings(home=tmp_path, tracking_uri="unused")
    app = create_app(settings, store=open_memory_store(workspace="default"))
    with asgi_client(app, raise_server_exceptions=False) as http:
        answer = http.get(AUDIT)
        assert answer.status_code == 400
        assert "keeps no audit log" in answer.json()["message"]
