"""Kiln's own API and MLflow 3's workspace API, as ``create_app`` mounts them.

With auth on: whoami, admin, tokens and audit (``/api/kiln/v1``), the login
sessions (``/api/v1/login``, ``/api/v1/session/<id>``) and the workspaces
(``/api/3.0/mlflow/workspaces``). With auth off there are no users, tokens or
sessions: whoami answers the anonymous admin, the workspace API serves
``default`` alone, and the audit routes read the log of a SQL backend store (the
log is written with auth off too, naming the OS user).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from kiln.server import audit_routes, auth_routes, session_routes, workspace_routes
from kiln.store.open import open_audit_log, scheme_of
from kiln.store.protocols.audit import AuditLog

if TYPE_CHECKING:
    from kiln.auth.service import AuthService
    from kiln.store.sql.engine import EnginePool

SQL_SCHEMES = frozenset({"sqlite", "postgresql", "postgres"})


def kiln_routes(auth: AuthService | None, audit: AuditLog | None) -> list[BaseRoute]:
    """Every route of Kiln's own API (see the module docstring)."""
    found: list[BaseRoute] = [*workspace_routes.routes(auth), *audit_routes.routes(audit)]
    if auth is None:
        found.append(auth_routes.whoami_route())
    else:
        found.extend(auth_routes.routes(auth))
        found.extend(session_routes.routes(auth))
    return found


def server_audit_log(
    auth: AuthService | None, backend_uri: str | None, engines: EnginePool | None
) -> tuple[AuditLog | None, bool]:
    """The log the audit routes read, and whether the caller opened it (and closes it).

    Auth on: the service's. Auth off: the backend store's when it is SQL
    (``backend_uri`` None: the app was given its stores, whose log it cannot reach).
    """
    if auth is not None:
        return auth.audit, False
    if backend_uri is None or scheme_of(backend_uri) not in SQL_SCHEMES:
        return None, False
    return open_audit_log(backend_uri, engines=engines), True


__all__ = ["kiln_routes", "server_audit_log"]
