"""Holes found by the security review of issue 13, each proved against the real server
(``kiln.testing.auth_app``: create_app with auth on over SQLite, in process) and kept
closed here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.auth.settings import AuthSettings, LdapSettings
from kiln.config import Settings
from kiln.server.app import create_app
from kiln.testing.auth_app import (
    ADMIN_PASSWORD,
    KILN_API,
    AuthServer,
    auth_server,
    sqlite_auth_service,
    sqlite_settings,
)
from kiln.testing.server import asgi_client
from kiln.testing.tenancy import API, WORKSPACE_HEADER, basic_auth, bearer_auth


@pytest.fixture
def server(tmp_path: Path) -> Iterator[AuthServer]:
    with auth_server(tmp_path) as running:
        running.tenant("ta")
        running.tenant("tb")
        yield running


# --- secrets -----------------------------------------------------------------------------


def test_ldap_bind_password_is_not_in_the_settings_repr() -> None:
    ldap = LdapSettings(
        "ldap://127.0.0.1", "dc=kiln", bind_dn="cn=svc", bind_password="s3cr3t-bind"
    )
    env = {
        "KILN_LDAP_URL": "ldap://127.0.0.1:1",
        "KILN_LDAP_USER_BASE_DN": "dc=kiln",
        "KILN_LDAP_BIND_DN": "cn=svc",
        "KILN_LDAP_BIND_PASSWORD": "s3cr3t-bind",
    }
    settings = Settings.from_env(env)
    assert settings.auth_settings.ldap is not None
    assert settings.auth_settings.ldap.bind_password == "s3cr3t-bind"  # still there to bind with
    for shown in (repr(ldap), repr(AuthSettings(ldap=ldap)), repr(settings)):
        assert "s3cr3t-bind" not in shown


# --- artifact locations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "mlflow-artifacts:/x/../../workspaces/tb",
        "mlflow-artifacts:/x/%2e%2e/%2e%2e/workspaces/tb",
        "mlflow-artifacts:/x/%252e%252e/%252e%252e/workspaces/tb",
        # a host: the clients of everyone logging to the experiment would send their
        # artifacts and credentials (MLFLOW_TRACKING_TOKEN, Basic) to it
        "mlflow-artifacts://evil.example/x",
        "mlflow-artifacts://evil.example:8080/workspaces/ta",
        "mlflow-artifacts://user@evil.example/x",
    ],
)
def test_a_proxied_artifact_location_stays_in_its_tenant_on_this_server(
    server: AuthServer, location: str
) -> None:
    password = server.user("alice", "ta", "member")
    token = server.token("alice", password, "ta")
    made = server.http.post(
        f"{API}/experiments/create",
        json={"name": "climber", "artifact_location": location},
        headers=bearer_auth(token),
    )
    assert made.status_code == 400, made.text
    assert made.json()["error_code"] == "INVALID_PARAMETER_VALUE"


@contextlib.contextmanager
def _file_root_server(root: Path) -> Iterator[Any]:
    """Auth on with a non-proxied ``file:`` artifact root (each tenant's experiments
    under ``<root>/workspaces/<tenant>``)."""
    with sqlite_auth_service(root) as service:
        settings = sqlite_settings(
            root,
            default_artifact_root=f"file://{root}/art",
            artifacts_destination=str(root / "proxied"),
        )
        with asgi_client(create_app(settings, auth=service), raise_server_exceptions=False) as http:
            yield http


def test_a_file_artifact_location_may_not_climb_into_another_tenant(tmp_path: Path) -> None:
    """``%2e%2e`` passed the check, and the local store decodes it before resolving:
    tenant A's runs would have kept their files in tenant B's folder."""
    admin = basic_auth("admin", ADMIN_PASSWORD)
    with _file_root_server(tmp_path) as http:
        for tenant in ("ta", "tb"):
            made = http.post(f"{KILN_API}/admin/tenants", json={"name": tenant}, headers=admin)
            assert made.status_code == 201, made.text
        own = f"file://{tmp_path}/art/workspaces/ta"
        inside = http.post(
            f"{API}/experiments/create",
            json={"name": "fine", "artifact_location": f"{own}/mine"},
            headers={**admin, WORKSPACE_HEADER: "ta"},
        )
        assert inside.status_code == 200, inside.text
        for location in (f"{own}/%2e%2e/tb", f"{own}/x/..%2f..%2ftb", f"{own}/../tb"):
            made = http.post(
                f"{API}/experiments/create",
                json={"name": "climber", "artifact_location": location},
                headers={**admin, WORKSPACE_HEADER: "ta"},
            )
            assert made.status_code == 400, (location, made.text)
        # default's experiments live beside the other tenants' folder: an encoded '/'
        # reached into it (the local store decodes the URI)
        for location in (
            f"file://{tmp_path}/art/workspaces%2Ftb",
            f"file://{tmp_path}/art/x%5c..%5c",
        ):
            made = http.post(
                f"{API}/experiments/create",
                json={"name": "sneaky", "artifact_location": location},
                headers=admin,
            )
            assert made.status_code == 400, (location, made.text)


# --- tokens ----------------------------------------------------------------------------------


def test_a_token_made_with_a_token_ends_no_later_than_it(server: AuthServer) -> None:
    """A leaked one-day token could mint a token that never expires (and outlives
    the revocation of the first)."""
    password = server.user("alice", "ta", "member")
    made = server.http.post(
        f"{KILN_API}/tokens",
        json={"name": "short", "expires_in_days": 1},
        headers={**basic_auth("alice", password), WORKSPACE_HEADER: "ta"},
    )
    assert made.status_code == 201, made.text
    parent, parent_end = made.json()["token"], made.json()["info"]["expires_at"]
    for body in ({"name": "forever"}, {"name": "longer", "expires_in_days": 365}):
        child = server.http.post(f"{KILN_API}/tokens", json=body, headers=bearer_auth(parent))
        assert child.status_code == 201, child.text
        assert child.json()["info"]["expires_at"] <= parent_end
    shorter = server.http.post(
        f"{KILN_API}/tokens",
        json={"name": "shorter", "expires_in_days": 1},
        headers=bearer_auth(parent),
    )
    assert shorter.json()["info"]["expires_at"] <= parent_end
    # a password login still makes a token that never expires
    forever = server.http.post(
        f"{KILN_API}/tokens",
        json={"name": "forever"},
        headers={**basic_auth("alice", password), WORKSPACE_HEADER: "ta"},
    )
    assert forever.status_code == 201, forever.text
    assert "expires_at" not in forever.json()["info"]


def test_a_tenant_cannot_delete_its_whole_artifact_root_by_its_long_name(
    server: AuthServer,
) -> None:
    """``DELETE .../artifacts/`` (the root) is refused; ``workspaces/<tenant>``, the
    same folder by its long name, deleted every file of the tenant."""
    password = server.user("alice", "ta", "project-admin")
    token = bearer_auth(server.token("alice", password, "ta"))
    proxy = "/api/2.0/mlflow-artifacts/artifacts"
    put = server.http.put(f"{proxy}/1/run/notes.txt", content=b"kept", headers=token)
    assert put.status_code == 200, put.text
    for path in ("workspaces/ta", "workspaces/ta/"):
        gone = server.http.delete(f"{proxy}/{path}", headers=token)
        assert gone.status_code == 400, gone.text
    kept = server.http.get(f"{proxy}/1/run/notes.txt", headers=token)
    assert kept.content == b"kept"
    # a folder inside it may still be deleted
    assert server.http.delete(f"{proxy}/workspaces/ta/1", headers=token).status_code == 200


# --- roles -------------------------------------------------------------------------------


def test_a_member_cannot_rename_a_model_production_reads_by_name(server: AuthServer) -> None:
    """Moving ``champion`` needs project-admin, but a member could rename the model
    that carries it (``models:/prod@champion`` then found nothing) and register a
    new ``prod`` whose version 1 was theirs."""
    admin_password = server.user("pam", "ta", "project-admin")
    member_password = server.user("mel", "ta", "member")
    pam = bearer_auth(server.token("pam", admin_password, "ta"))
    mel = bearer_auth(server.token("mel", member_password, "ta"))
    http = server.http

    def call(method: str, path: str, who: dict[str, str], **body: Any) -> Any:
        return http.request(method, f"{API}{path}", json=body, headers=who)

    for name in ("prod", "staged", "scratch"):
        assert call("POST", "/registered-models/create", pam, name=name).status_code == 200
        made = call("POST", "/model-versions/create", pam, name=name, source="s3://b/m")
        assert made.status_code == 200, made.text
    assert call("POST", "/registered-models/alias", pam, name="prod", alias="champion", version="1")
    moved = call(
        "POST",
        "/model-versions/transition-stage",
        pam,
        name="staged",
        version="1",
        stage="Production",
        archive_existing_versions=False,
    )
    assert moved.status_code == 200, moved.text
    for name in ("prod", "staged"):
        refused = call("POST", "/registered-models/rename", mel, name=name, new_name=f"{name}-x")
        assert refused.status_code == 403, refused.text
        assert "project-admin" in refused.json()["message"]
    # a model production does not read by name: members rename it as before
    assert (
        call("POST", "/registered-models/rename", mel, name="scratch", new_name="s2").status_code
        == 200
    )
    renamed = call("POST", "/registered-models/rename", pam, name="prod", new_name="prod-2")
    assert renamed.status_code == 200, renamed.text
    # a missing model is still the handler's 404, whoever asks
    missing = call("POST", "/registered-models/rename", mel, name="nope", new_name="x")
    assert missing.status_code == 404, missing.text


def test_a_token_sent_without_its_scheme_is_not_echoed(server: AuthServer) -> None:
    """``Authorization: kiln_pat_...`` (Bearer forgotten) was answered with "unsupported
    Authorization scheme 'kiln_pat_<11 characters of the secret>'", which clients
    print and CI logs keep."""
    password = server.user("alice", "ta", "member")
    token = server.token("alice", password, "ta")
    for value in (token, f"{token} extra", "Token:" + token):
        refused = server.http.get(
            f"{API}/experiments/search", params={"max_results": 1}, headers={"Authorization": value}
        )
        assert refused.status_code == 401
        assert token[len("kiln_pat_") : len("kiln_pat_") + 4] not in refused.text, refused.text
    named = server.http.get(
        f"{API}/experiments/search",
        params={"max_results": 1},
        headers={"Authorization": "Digest x"},
    )
    assert "'Digest'" in named.json()["message"]  # a real scheme's name still helps


# --- cross-site --------------------------------------------------------------------------


def test_a_wildcard_cors_origin_gets_no_credentials(tmp_path: Path) -> None:
    """``--cors-allowed-origins '*'`` reflected any page's origin with
    ``Access-Control-Allow-Credentials: true``: with auth on, any web site could read
    the server's data with the Basic login the visitor's browser had cached. As
    ``mlflow server`` does, '*' allows uncredentialed requests only; listed origins
    and loopback keep credentials."""
    with sqlite_auth_service(tmp_path) as service:
        settings = sqlite_settings(tmp_path, cors_allowed_origins=("*", "https://ui.corp.example"))
        app = create_app(settings, auth=service)
        admin = basic_auth("admin", ADMIN_PASSWORD)
        search = f"{API}/experiments/search"
        with asgi_client(app) as http:
            for origin, credentialed in (
                ("https://evil.example", False),
                ("https://ui.corp.example", True),
                ("http://localhost:3000", True),
            ):
                preflight = http.options(
                    search,
                    headers={
                        "Origin": origin,
                        "Access-Control-Request-Method": "GET",
                        "Access-Control-Request-Headers": "authorization",
                    },
                )
                answer = http.get(search, headers={**admin, "Origin": origin})
                for response in (preflight, answer):
                    assert response.headers.get("access-control-allow-origin") == origin
                    shown = response.headers.get("access-control-allow-credentials")
                    assert (shown == "true") is credentialed, (origin, response.headers)


def test_a_model_version_source_on_the_proxy_may_not_name_a_host(server: AuthServer) -> None:
    """A member registered ``mlflow-artifacts://evil.example/m`` as version 1: whoever
    then loaded ``models:/m/1`` (or the alias a project-admin later put on it) had
    the mlflow client fetch it, with their credentials, from that host."""
    password = server.user("mel", "ta", "member")
    mel = bearer_auth(server.token("mel", password, "ta"))
    http = server.http
    made = http.post(f"{API}/registered-models/create", json={"name": "m"}, headers=mel)
    assert made.status_code == 200, made.text
    for source in ("mlflow-artifacts://evil.example/m", "mlflow-artifacts://u@evil.example:1/m"):
        refused = http.post(
            f"{API}/model-versions/create", json={"name": "m", "source": source}, headers=mel
        )
        assert refused.status_code == 400, refused.text
    kept = http.post(
        f"{API}/model-versions/create",
        json={"name": "m", "source": "mlflow-artifacts:/1/abc/artifacts/model"},
        headers=mel,
    )
    assert kept.status_code == 200, kept.text


def test_the_workspaces_folder_is_matched_in_any_case(server: AuthServer) -> None:
    """Only ``workspaces/<other>/`` was refused: on a case-insensitive filesystem
    (a server on macOS or Windows) ``Workspaces/tb/...`` is tenant tb's folder, and
    the default tenant read it; a tenant's own ``Workspaces/ta/...`` was written at
    the root, in default's space."""
    password = server.user("alice", "ta", "member")
    alice = bearer_auth(server.token("alice", password, "ta"))
    default = {**server.admin, WORKSPACE_HEADER: "default"}
    proxy = "/api/2.0/mlflow-artifacts/artifacts"
    http = server.http
    for path in ("Workspaces/tb/1/notes.txt", "WORKSPACES/tb", "wOrkspaces"):
        assert http.get(f"{proxy}/{path}", headers=default).status_code == 400, path
        assert http.get(proxy, params={"path": path}, headers=default).status_code == 400, path
    put = http.put(f"{proxy}/Workspaces/ta/f.txt", content=b"mine", headers=alice)
    assert put.status_code == 200, put.text
    assert http.get(f"{proxy}/f.txt", headers=alice).content == b"mine"  # in ta's folder
    root = http.get(proxy, headers=default).json().get("files", [])
    assert all(f["path"].casefold() != "workspaces" for f in root), root
