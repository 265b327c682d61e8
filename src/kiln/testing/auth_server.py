"""An in-process tracking server with auth on, for the server's auth tests.

``auth_world(root)`` builds the real app (``create_app`` with ``Settings(auth=True)``
on SQLite under ``root``: its own AuthService on the backend's users), makes the
admin, tenants ``team-a`` and ``team-b``, and a viewer (``vic``), a member
(``meg``) and a project-admin (``pam``) in ``team-a``, each with a ``kiln_pat_``
token of its role there, and yields a ``World`` with a Starlette test client.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln.auth.principal import Principal
from kiln.auth.service import AuthService
from kiln.entities.auth import Role
from kiln.server.app import create_app
from kiln.server.fastlane import KilnStarlette
from kiln.testing.auth_app import sqlite_settings
from kiln.testing.server import asgi_client
from kiln.testing.tenancy import bearer_auth

API = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
ADMIN_PASSWORD = "admin-password-1"
PASSWORD = "a-long-password-1"
USERS = (("vic", Role.VIEWER), ("meg", Role.MEMBER), ("pam", Role.PROJECT_ADMIN))


@dataclass
class World:
    client: Any
    service: AuthService
    admin: Principal
    tokens: dict[str, str]  # user -> a kiln_pat_ token bound to team-a at the user's role
    artifacts: Path

    def bearer(self, user: str, workspace: str | None = None) -> dict[str, str]:
        return bearer_auth(self.tokens[user], workspace)

    def create_experiment(self, name: str, headers: dict[str, str]) -> str:
        answer = self.client.post(f"{API}/experiments/create", json={"name": name}, headers=headers)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["experiment_id"])


def admin_of(service: AuthService) -> Principal:
    """The bootstrapped admin, signed in with its password."""
    assert service.bootstrap_admin(ADMIN_PASSWORD)
    identity = service.identity_for_password("admin", ADMIN_PASSWORD)
    assert identity is not None
    return service.principal(identity, None)


@contextlib.contextmanager
def auth_world(root: Path) -> Iterator[World]:
    """The app and its users (see the module docstring)."""
    app = create_app(sqlite_settings(root, auth=True))
    assert isinstance(app, KilnStarlette)
    service: AuthService = app.auth
    admin = admin_of(service)
    tokens = {}
    for tenant in ("team-a", "team-b"):
        service.create_tenant(admin, tenant)
    for name, role in USERS:
        service.create_user(admin, name, password=PASSWORD)
        service.grant(admin, name, "team-a", role)
        user = service.identity_for_password(name, PASSWORD)
        assert user is not None
        _, tokens[name] = service.create_token(service.principal(user, "team-a"), name="t")
    with asgi_client(app, raise_server_exceptions=False) as client:
        yield World(client, service, admin, tokens, root / "artifacts")


__all__ = ["ADMIN_PASSWORD", "API", "PASSWORD", "PROXY", "World", "admin_of", "auth_world"]
