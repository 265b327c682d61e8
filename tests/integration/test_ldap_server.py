"""``kiln server --auth`` with ``KILN_LDAP_*`` settings, over real HTTP: a directory
user logs in with Basic auth and its password, and acts with the role its group is
bound to; a directory that cannot be reached answers 503, not 401."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kiln.testing.server import server_process
from kiln.testing.server_process import free_port
from kiln.testing.slapd import Slapd
from kiln.testing.tenancy import KILN_API, WORKSPACE_HEADER, basic_auth

pytestmark = [pytest.mark.ldap, pytest.mark.integration]

ADMIN_PASSWORD = "admin-password-1"
ADMIN = basic_auth("admin", ADMIN_PASSWORD)


@contextlib.contextmanager
def _server(root: Path, slapd: Slapd, ldap_url: str) -> Iterator[str]:
    env = {
        "KILN_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "KILN_LDAP_URL": ldap_url,
        "KILN_LDAP_USER_BASE_DN": slapd.people_dn,
        "KILN_LDAP_GROUP_BASE_DN": slapd.groups_dn,
    }
    with server_process(
        f"sqlite:///{root / 'kiln.db'}", root, args=("--auth",), env=env
    ) as process:
        yield process.url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, slapd: Slapd) -> Iterator[str]:
    """Tenant research, where the directory group ML-Team are members."""
    with _server(tmp_path_factory.mktemp("kiln-ldap"), slapd, slapd.url) as url:
        with httpx.Client(base_url=url, headers=ADMIN, timeout=30) as admin:
            admin.post(f"{KILN_API}/admin/tenants", json={"name": "research"}).raise_for_status()
            admin.put(
                f"{KILN_API}/admin/tenants/research/groups",
                json={"group": "ML-Team", "role": "member"},
            ).raise_for_status()
        yield url


def test_a_directory_user_logs_in_with_basic_auth_and_gets_its_groups_role(server: str) -> None:
    bob = {**basic_auth("bob", "bob-pw-2"), WORKSPACE_HEADER: "research"}
    with httpx.Client(base_url=server, headers=bob, timeout=30) as client:
        who = client.get(f"{KILN_API}/whoami")
        assert who.status_code == 200, who.text
        assert who.json()["user"] == "bob"
        assert who.json()["tenant"] == "research"
        assert who.json()["role"] == "member"
        created = client.post("/api/2.0/mlflow/experiments/create", json={"name": "bob-exp"})
        assert created.status_code == 200, created.text
        # a member may write, not manage: the audit log is for project-admins
        assert client.get(f"{KILN_API}/audit").status_code == 403


def test_a_wrong_directory_password_is_401(server: str) -> None:
    answer = httpx.get(
        f"{server}{KILN_API}/whoami", headers=basic_auth("bob", "alice-pw-1"), timeout=30
    )
    assert answer.status_code == 401
    assert "Basic" in answer.headers["WWW-Authenticate"]


def test_a_user_in_no_bound_group_sees_no_tenant(server: str) -> None:
    carol = {**basic_auth("carol", "carol-pw-3"), WORKSPACE_HEADER: "research"}
    search = f"{server}/api/2.0/mlflow/experiments/search?max_results=10"
    answer = httpx.get(search, headers=carol, timeout=30)
    assert answer.status_code == 404, answer.text
    assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_an_unreachable_directory_answers_503_not_401(tmp_path: Path, slapd: Slapd) -> None:
    with _server(tmp_path, slapd, f"ldap://127.0.0.1:{free_port()}") as url:
        answer = httpx.get(f"{url}{KILN_API}/whoami", headers=basic_auth("bob", "bob-pw-2"))
        assert answer.status_code == 503, answer.text
        assert "cannot be reached" in answer.json()["message"]
        # local users still log in
        assert httpx.get(f"{url}{KILN_API}/whoami", headers=ADMIN).status_code == 200


def test_unbinding_a_group_stops_its_members_tokens_at_once(server: str) -> None:
    """dana (group ops) makes a token in ops-space; the admin unbinds ops there: the
    token's next request is 404 in ops-space, with no login of dana in between."""
    with httpx.Client(base_url=server, headers=ADMIN, timeout=30) as admin:
        admin.post(f"{KILN_API}/admin/tenants", json={"name": "ops-space"}).raise_for_status()
        groups = f"{KILN_API}/admin/tenants/ops-space/groups"
        admin.put(groups, json={"group": "ops", "role": "member"}).raise_for_status()
        dana = {**basic_auth("dana", "dana-pw-4"), WORKSPACE_HEADER: "ops-space"}
        made = httpx.post(
            f"{server}{KILN_API}/tokens", json={"name": "ci"}, headers=dana, timeout=30
        )
        assert made.status_code == 201, made.text
        bearer = {"Authorization": f"Bearer {made.json()['token']}"}
        search = f"{server}/api/2.0/mlflow/experiments/search?max_results=10"
        assert httpx.get(search, headers=bearer, timeout=30).status_code == 200
        admin.request("DELETE", groups, json={"group": "ops"}).raise_for_status()
        answer = httpx.get(search, headers=bearer, timeout=30)
        assert answer.status_code == 404, answer.text
        assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        members = admin.get(f"{KILN_API}/admin/tenants/ops-space/members").json()["members"]
        assert members == []
