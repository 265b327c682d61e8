"""A tracking server with auth on over a real SQLite store, in process, for route tests.

``auth_server(root)`` builds ``create_app`` with an ``AuthService`` on
``sqlite:///root/kiln.db`` (users, tokens and the audit log in the same
database as the runs), an admin ``admin`` whose password is ``ADMIN_PASSWORD``,
and yields an ``AuthServer``: the in-process client (``kiln.testing.server
.asgi_client``, a loopback base URL), the service, and helpers that make users
and tokens through the HTTP API itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln.auth.directory import Directory
from kiln.auth.service import AuthService
from kiln.auth.settings import AuthSettings
from kiln.config import Settings
from kiln.server.app import create_app
from kiln.store.open import close_store, open_audit_log, open_auth_store
from kiln.testing.server import asgi_client
from kiln.testing.tenancy import WORKSPACE_HEADER, basic_auth

ADMIN_PASSWORD = "admin-password-1"
KILN_API = "/api/kiln/v1"


@dataclass
class AuthServer:
    http: Any  # starlette's TestClient (an httpx.Client)
    service: AuthService
    admin: dict[str, str]  # the admin's Basic header

    def user(self, name: str, tenant: str | None = None, role: str | None = None) -> str:
        """Create ``name`` (with ``role`` in ``tenant``) through the admin API; its password."""
        made = self.http.post(f"{KILN_API}/admin/users", json={"name": name}, headers=self.admin)
        assert made.status_code == 201, made.text
        if tenant is not None and role is not None:
            path = f"{KILN_API}/admin/tenants/{tenant}/members/{name}"
            granted = self.http.put(path, json={"role": role}, headers=self.admin)
            assert granted.status_code == 200, granted.text
        password: str = made.json()["password"]
        return password

    def tenant(self, name: str) -> None:
        made = self.http.post(f"{KILN_API}/admin/tenants", json={"name": name}, headers=self.admin)
        assert made.status_code == 201, made.text

    def token(self, user: str, password: str, tenant: str | None = None, **body: Any) -> str:
        """A ``kiln_pat_`` token of ``user`` (made with its password)."""
        headers = basic_auth(user, password)
        if tenant is not None:
            headers[WORKSPACE_HEADER] = tenant
        made = self.http.post(f"{KILN_API}/tokens", json=body, headers=headers)
        assert made.status_code == 201, made.text
        token: str = made.json()["token"]
        return token


def sqlite_settings(root: Path, **changes: Any) -> Settings:
    """A server's settings on ``sqlite:///root/kiln.db``, proxying artifacts to
    ``root/artifacts``; ``changes`` override any field (``auth=True``, ...)."""
    fields: dict[str, Any] = {
        "home": root,
        "tracking_uri": "unused",
        "backend_store_uri": f"sqlite:///{root / 'kiln.db'}",
        "artifacts_destination": str(root / "artifacts"),
    }
    return Settings(**(fields | changes))


@contextlib.contextmanager
def sqlite_auth_service(
    root: Path, settings: AuthSettings | None = None, *, directory: Directory | None = None
) -> Iterator[AuthService]:
    """An ``AuthService`` on ``sqlite:///root/kiln.db`` (users and audit log) with its
    admin ``admin`` (password ``ADMIN_PASSWORD``); its stores closed at the end."""
    uri = f"sqlite:///{root / 'kiln.db'}"
    store, audit = open_auth_store(uri), open_audit_log(uri)
    try:
        service = AuthService(store, audit, settings or AuthSettings(), directory=directory)
        assert service.bootstrap_admin(ADMIN_PASSWORD)
        yield service
    finally:
        close_store(store)
        close_store(audit)


@contextlib.contextmanager
def auth_server(root: Path, **auth_settings: Any) -> Iterator[AuthServer]:
    """See the module docstring; ``auth_settings`` override ``AuthSettings``."""
    with sqlite_auth_service(root, AuthSettings(**auth_settings)) as service:
        app = create_app(sqlite_settings(root), auth=service)
        with asgi_client(app, raise_server_exceptions=False) as http:
            yield AuthServer(http, service, basic_auth("admin", ADMIN_PASSWORD))


__all__ = [
    "ADMIN_PASSWORD",
    "KILN_API",
    "AuthServer",
    "auth_server",
    "sqlite_auth_service",
    "sqlite_settings",
]
