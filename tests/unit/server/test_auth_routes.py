"""Kiln's own API over HTTP (kiln.server.auth_routes): whoami, admin, tokens; real SQLite."""

from __future__ import annotations

import pytest

from kiln.testing.auth_app import KILN_API, AuthServer
from kiln.testing.tenancy import WORKSPACE_HEADER, basic_auth, bearer_auth

ADMIN = f"{KILN_API}/admin"


def test_whoami_names_the_caller_and_how_it_signed_in(kiln: AuthServer) -> None:
    password = kiln.user("bob", "team-a", "member")
    answer = kiln.http.get(f"{KILN_API}/whoami", headers=basic_auth("bob", password))
    assert answer.status_code == 200
    assert answer.json() == {
        "user": "bob",
        "is_admin": False,
        "tenant": "team-a",
        "role": "member",
        "via": "password",
    }
    admin = kiln.http.get(f"{KILN_API}/whoami", headers=kiln.admin).json()
    assert (admin["user"], admin["is_admin"]) == ("admin", True)


def test_no_credentials_is_401_with_a_challenge(kiln: AuthServer) -> None:
    for path in (f"{KILN_API}/whoami", f"{ADMIN}/tenants", f"{KILN_API}/tokens"):
        answer = kiln.http.get(path)
        assert answer.status_code == 401, path
        assert answer.json()["error_code"] == "UNAUTHENTICATED"
        assert "Basic" in answer.headers["www-authenticate"]


def test_tenant_lifecycle(kiln: AuthServer) -> None:
    http, admin = kiln.http, kiln.admin
    made = http.post(
        f"{ADMIN}/tenants",
        json={"name": "team-c", "description": "C team", "default_artifact_root": "s3://c/x"},
        headers=admin,
    )
    assert made.status_code == 201
    assert made.json()["tenant"]["description"] == "C team"
    names = [t["name"] for t in http.get(f"{ADMIN}/tenants", headers=admin).json()["tenants"]]
    assert names == ["default", "team-a", "team-b", "team-c"]
    changed = http.patch(f"{ADMIN}/tenants/team-c", json={"description": "new"}, headers=admin)
    assert changed.json()["tenant"]["description"] == "new"
    assert http.get(f"{ADMIN}/tenants/team-c", headers=admin).json()["tenant"]["name"] == "team-c"
    gone = http.delete(f"{ADMIN}/tenants/team-c", headers=admin)
    assert (gone.status_code, gone.content) == (204, b"")
    assert http.get(f"{ADMIN}/tenants/team-c", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "match"),
    [
        ({"name": "Team_A"}, 400, "must match the pattern"),
        ({"name": "api"}, 400, "is reserved"),
        ({"name": "team-a"}, 400, "already exists"),
        ({}, 400, "must be a string"),
        ({"name": "ok-name", "description": 5}, 400, "'description' must be a string"),
    ],
)
def test_bad_tenants_are_400(
    kiln: AuthServer, body: dict[str, object], status: int, match: str
) -> None:
    answer = kiln.http.post(f"{ADMIN}/tenants", json=body, headers=kiln.admin)
    assert answer.status_code == status
    assert match in answer.json()["message"]


def test_delete_tenant_holding_data_needs_force(kiln: AuthServer) -> None:
    token = kiln.token("admin", "admin-password-1", "team-a")
    made = kiln.http.post(
        "/api/2.0/mlflow/experiments/create",
        json={"name": "exp"},
        headers=bearer_auth(token, "team-a"),
    )
    assert made.status_code == 200, made.text
    refused = kiln.http.delete(f"{ADMIN}/tenants/team-a", headers=kiln.admin)
    assert refused.status_code == 400
    assert "still holds experiments" in refused.json()["message"]
    forced = kiln.http.delete(f"{ADMIN}/tenants/team-a?force=true", headers=kiln.admin)
    assert forced.status_code == 204


def test_users_passwords_and_disable(kiln: AuthServer) -> None:
    http, admin = kiln.http, kiln.admin
    made = http.post(
        f"{ADMIN}/users", json={"name": "carol", "password": "carol-pass-1"}, headers=admin
    )
    assert made.status_code == 201
    assert "password" not in made.json()  # given, so not echoed
    assert (
        http.get(f"{KILN_API}/whoami", headers=basic_auth("carol", "carol-pass-1")).status_code
        == 200
    )
    reset = http.post(f"{ADMIN}/users/carol/password", json={}, headers=admin)
    new_password = reset.json()["password"]
    assert len(new_password) >= 20
    assert (
        http.get(f"{KILN_API}/whoami", headers=basic_auth("carol", "carol-pass-1")).status_code
        == 401
    )
    carol = basic_auth("carol", new_password)
    assert http.get(f"{KILN_API}/whoami", headers=carol).status_code == 200
    off = http.post(f"{ADMIN}/users/carol/disable", json={"disabled": True}, headers=admin)
    assert off.json()["user"]["disabled"] is True
    assert http.get(f"{KILN_API}/whoami", headers=carol).status_code == 401
    on = http.post(f"{ADMIN}/users/carol/disable", json={"disabled": False}, headers=admin)
    assert on.json()["user"]["disabled"] is False
    assert http.get(f"{KILN_API}/whoami", headers=carol).status_code == 200
    users = [u["name"] for u in http.get(f"{ADMIN}/users", headers=admin).json()["users"]]
    assert users == ["admin", "carol"]


def test_admin_routes_refuse_non_admins(kiln: AuthServer) -> None:
    bob = basic_auth("bob", kiln.user("bob", "team-a", "project-admin"))
    for method, path in [
        ("GET", f"{ADMIN}/tenants"),
        ("POST", f"{ADMIN}/tenants"),
        ("GET", f"{ADMIN}/users"),
        ("POST", f"{ADMIN}/users"),
        ("POST", f"{ADMIN}/users/admin/password"),
        ("POST", f"{ADMIN}/users/admin/disable"),
        ("DELETE", f"{ADMIN}/tenants/team-a"),
        ("PUT", f"{ADMIN}/tenants/team-a/quota"),
        ("PUT", f"{ADMIN}/tenants/team-a/groups"),
        ("GET", f"{ADMIN}/tenants/team-a/groups"),
        ("GET", f"{KILN_API}/audit/verify"),
    ]:
        json = {} if method in ("POST", "PUT") else None
        answer = kiln.http.request(method, path, json=json, headers=bob)
        assert answer.status_code == 403, (method, path, answer.text)


def test_project_admin_manages_members_of_its_tenant_only(kiln: AuthServer) -> None:
    boss = basic_auth("boss", kiln.user("boss", "team-a", "project-admin"))
    dave = basic_auth("dave", kiln.user("dave"))
    grant = kiln.http.put(
        f"{ADMIN}/tenants/team-a/members/dave", json={"role": "member"}, headers=boss
    )
    assert grant.json() == {
        "member": {"user": "dave", "tenant": "team-a", "role": "member", "origin": "grant"}
    }
    members = kiln.http.get(f"{ADMIN}/tenants/team-a/members", headers=boss).json()["members"]
    assert {(m["user"], m["role"]) for m in members} == {
        ("boss", "project-admin"),
        ("dave", "member"),
    }
    # another tenant: no role there -> 404, as every object of another tenant
    other = kiln.http.put(
        f"{ADMIN}/tenants/team-b/members/dave", json={"role": "viewer"}, headers=boss
    )
    assert other.status_code == 404
    assert kiln.http.get(f"{ADMIN}/tenants/team-b/members", headers=boss).status_code == 404
    mine = kiln.http.get("/api/3.0/mlflow/workspaces", headers=dave).json()
    assert mine == {"workspaces": [{"name": "team-a"}]}
    revoke = kiln.http.delete(f"{ADMIN}/tenants/team-a/members/dave", headers=boss)
    assert revoke.status_code == 204
    assert kiln.service.store.role_of("dave", "team-a") is None
    assert kiln.http.get("/api/3.0/mlflow/workspaces", headers=dave).json() == {}


def test_member_cannot_manage_members(kiln: AuthServer) -> None:
    member = basic_auth("mia", kiln.user("mia", "team-a", "member"))
    answer = kiln.http.put(
        f"{ADMIN}/tenants/team-a/members/mia", json={"role": "project-admin"}, headers=member
    )
    assert answer.status_code == 403
    assert kiln.service.store.role_of("mia", "team-a") is not None


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"role": "owner"}, "unknown role"),
        ({}, "'role'"),
        ({"role": ["member"]}, "must be a string"),
    ],
)
def test_bad_grants_are_400(kiln: AuthServer, body: dict[str, object], match: str) -> None:
    kiln.user("erin")
    answer = kiln.http.put(f"{ADMIN}/tenants/team-a/members/erin", json=body, headers=kiln.admin)
    assert answer.status_code == 400
    assert match in answer.json()["message"]


def test_quota_and_group_bindings(kiln: AuthServer) -> None:
    http, admin = kiln.http, kiln.admin
    quota = {"cpus": 8, "gpus": 1.5, "memory_mb": 4096}
    assert http.put(f"{ADMIN}/tenants/team-a/quota", json=quota, headers=admin).status_code == 200
    viewer = basic_auth("vic", kiln.user("vic", "team-a", "viewer"))
    read = http.get(f"{ADMIN}/tenants/team-a/quota", headers=viewer).json()["quota"]
    assert read == {"tenant": "team-a", "cpus": 8.0, "gpus": 1.5, "memory_mb": 4096}
    bad = http.put(f"{ADMIN}/tenants/team-a/quota", json={"cpus": -1}, headers=admin)
    assert bad.status_code == 400
    bound = http.put(
        f"{ADMIN}/tenants/team-a/groups", json={"group": "ml-team", "role": "member"}, headers=admin
    )
    assert bound.json() == {"group": {"group": "ml-team", "tenant": "team-a", "role": "member"}}
    listed = http.get(f"{ADMIN}/tenants/team-a/groups", headers=admin).json()["groups"]
    assert [g["group"] for g in listed] == ["ml-team"]
    unbound = http.request(
        "DELETE", f"{ADMIN}/tenants/team-a/groups", json={"group": "ml-team"}, headers=admin
    )
    assert unbound.status_code == 204
    assert http.get(f"{ADMIN}/tenants/team-a/groups", headers=admin).json() == {"groups": []}


def test_tokens_create_use_list_revoke(kiln: AuthServer) -> None:
    password = kiln.user("tom", "team-a", "member")
    made = kiln.http.post(
        f"{KILN_API}/tokens",
        json={"name": "ci", "role": "viewer", "expires_in_days": 30},
        headers={**basic_auth("tom", password), WORKSPACE_HEADER: "team-a"},
    )
    assert made.status_code == 201
    secret, info = made.json()["token"], made.json()["info"]
    assert secret.startswith("kiln_pat_")
    assert (info["user"], info["tenant"], info["role"], info["name"]) == (
        "tom",
        "team-a",
        "viewer",
        "ci",
    )
    assert info["expires_at"] > info["created_at"]
    who = kiln.http.get(f"{KILN_API}/whoami", headers=bearer_auth(secret)).json()
    assert (who["user"], who["tenant"], who["role"], who["via"]) == (
        "tom",
        "team-a",
        "viewer",
        "token",
    )
    listed = kiln.http.get(f"{KILN_API}/tokens", headers=bearer_auth(secret)).json()["tokens"]
    assert [t["token_id"] for t in listed] == [info["token_id"]]
    assert secret not in kiln.http.get(f"{KILN_API}/tokens", headers=bearer_auth(secret)).text
    gone = kiln.http.delete(
        f"{KILN_API}/tokens/{info['token_id']}", headers=basic_auth("tom", password)
    )
    assert gone.status_code == 204
    assert kiln.http.get(f"{KILN_API}/whoami", headers=bearer_auth(secret)).status_code == 401


def test_token_above_ones_role_is_refused(kiln: AuthServer) -> None:
    viewer = {**basic_auth("val", kiln.user("val", "team-a", "viewer")), WORKSPACE_HEADER: "team-a"}
    answer = kiln.http.post(f"{KILN_API}/tokens", json={"role": "member"}, headers=viewer)
    assert answer.status_code == 403
    elsewhere = kiln.http.post(f"{KILN_API}/tokens", json={"tenant": "team-b"}, headers=viewer)
    assert elsewhere.status_code == 404


def test_all_tokens_is_for_admins(kiln: AuthServer) -> None:
    password = kiln.user("una", "team-a", "member")
    kiln.token("una", password, "team-a")
    una = basic_auth("una", password)
    assert kiln.http.get(f"{KILN_API}/tokens?all=true", headers=una).status_code == 403
    everyone = kiln.http.get(f"{KILN_API}/tokens?all=true", headers=kiln.admin).json()["tokens"]
    assert [t["user"] for t in everyone] == ["una"]


def test_another_users_token_cannot_be_revoked_by_a_member(kiln: AuthServer) -> None:
    owner = kiln.user("own", "team-a", "member")
    kiln.token("own", owner, "team-a")
    token_id = kiln.service.store.list_tokens(user="own")[0].token_id
    other = basic_auth("oth", kiln.user("oth", "team-a", "member"))
    assert kiln.http.delete(f"{KILN_API}/tokens/{token_id}", headers=other).status_code == 403
    assert kiln.http.delete(f"{KILN_API}/tokens/nope", headers=other).status_code == 404
