"""Where ``kiln admin`` and ``kiln tokens`` act: a server's API, or the database itself.

With an ``http(s)://`` tracking URI the commands call the server's Kiln API
(``kiln.tracking.kiln_api``) with the process's credentials (``kiln login``'s
token, ``MLFLOW_TRACKING_TOKEN`` ...), and the server checks who may do what. With
a SQLite or PostgreSQL URI they open the database's auth store and audit log and
act through ``AuthService`` as the operating-system user, a global admin: whoever
can open the database owns it anyway. Both sides answer the same records
(``kiln.entities.auth``), so the commands render them one way.
"""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterator, Sequence
from typing import Protocol

from kiln.cli.state import CliState
from kiln.entities.auth import ApiToken, GroupBinding, Membership, Quota, Role, Tenant, User
from kiln.errors import InvalidInput
from kiln.store.open import scheme_of

REMOTE_SCHEMES = ("http", "https")


class Access(Protocol):
    """The operations of ``kiln admin`` and ``kiln tokens``, wherever they run."""

    where: str

    def list_tenants(self) -> Sequence[Tenant]: ...
    def create_tenant(self, name: str, description: str) -> Tenant: ...
    def delete_tenant(self, name: str, force: bool) -> None: ...
    def list_users(self) -> Sequence[User]: ...
    def create_user(
        self, name: str, admin: bool, password: str | None
    ) -> tuple[User, str | None]: ...
    def set_password(self, name: str, password: str | None) -> str | None: ...
    def set_disabled(self, name: str, disabled: bool) -> None: ...
    def grant(self, user: str, tenant: str, role: Role) -> None: ...
    def revoke(self, user: str, tenant: str) -> None: ...
    def list_members(self, tenant: str | None) -> Sequence[Membership]: ...
    def get_quota(self, tenant: str) -> Quota: ...
    def set_quota(self, quota: Quota) -> Quota: ...
    def list_groups(self, tenant: str | None) -> Sequence[GroupBinding]: ...
    def bind_group(self, group: str, tenant: str, role: Role) -> None: ...
    def unbind_group(self, group: str, tenant: str) -> None: ...
    def create_token(
        self, name: str, tenant: str | None, role: Role | None, days: int | None
    ) -> tuple[ApiToken, str]: ...
    def list_tokens(self, all_users: bool) -> Sequence[ApiToken]: ...
    def revoke_token(self, token_id: str) -> None: ...


class RemoteAccess:
    """Through a server's Kiln API (``/api/kiln/v1``)."""

    def __init__(self, url: str) -> None:
        from kiln.tracking.kiln_api import KilnApi

        self.where = url
        self.api = KilnApi(url)

    def close(self) -> None:
        self.api.close()

    def list_tenants(self) -> Sequence[Tenant]:
        return self.api.list_tenants()

    def create_tenant(self, name: str, description: str) -> Tenant:
        return self.api.create_tenant(name, description or None)

    def delete_tenant(self, name: str, force: bool) -> None:
        self.api.delete_tenant(name, force=force)

    def list_users(self) -> Sequence[User]:
        return self.api.list_users()

    def create_user(self, name: str, admin: bool, password: str | None) -> tuple[User, str | None]:
        return self.api.create_user(name, admin=admin, password=password)

    def set_password(self, name: str, password: str | None) -> str | None:
        return self.api.set_password(name, password)

    def set_disabled(self, name: str, disabled: bool) -> None:
        self.api.disable_user(name, disabled=disabled)

    def grant(self, user: str, tenant: str, role: Role) -> None:
        self.api.grant(user, tenant, role.label)

    def revoke(self, user: str, tenant: str) -> None:
        self.api.revoke(user, tenant)

    def list_members(self, tenant: str | None) -> Sequence[Membership]:
        tenants = [tenant] if tenant else [t.name for t in self.api.list_tenants()]
        return [m for name in tenants for m in self.api.list_members(name)]

    def get_quota(self, tenant: str) -> Quota:
        return self.api.get_quota(tenant)

    def set_quota(self, quota: Quota) -> Quota:
        return self.api.set_quota(
            quota.tenant, cpus=quota.cpus, gpus=quota.gpus, memory_mb=quota.memory_mb
        )

    def list_groups(self, tenant: str | None) -> Sequence[GroupBinding]:
        tenants = [tenant] if tenant else [t.name for t in self.api.list_tenants()]
        return [g for name in tenants for g in self.api.list_groups(name)]

    def bind_group(self, group: str, tenant: str, role: Role) -> None:
        self.api.bind_group(group, tenant, role.label)

    def unbind_group(self, group: str, tenant: str) -> None:
        self.api.unbind_group(group, tenant)

    def create_token(
        self, name: str, tenant: str | None, role: Role | None, days: int | None
    ) -> tuple[ApiToken, str]:
        label = None if role is None else role.label
        return self.api.create_token(name, tenant=tenant, role=label, expires_in_days=days)

    def list_tokens(self, all_users: bool) -> Sequence[ApiToken]:
        return self.api.list_tokens(all_users=all_users)

    def revoke_token(self, token_id: str) -> None:
        self.api.revoke_token(token_id)


class EmbeddedAccess:
    """In the database itself, as the operating-system user acting as a global admin."""

    def __init__(self, uri: str) -> None:
        from kiln.auth.principal import anonymous
        from kiln.auth.service import AuthService
        from kiln.store.open import open_audit_log, open_auth_store

        self.where = uri
        self._store = open_auth_store(uri)
        try:
            self._audit = open_audit_log(uri)
        except BaseException:
            self._store.close()
            raise
        self.service = AuthService(self._store, self._audit)
        self.actor = anonymous(getpass.getuser())

    def close(self) -> None:
        from kiln.store.open import close_store

        close_store(self._audit)
        self._store.close()

    def list_tenants(self) -> Sequence[Tenant]:
        return self.service.list_tenants(self.actor)

    def create_tenant(self, name: str, description: str) -> Tenant:
        return self.service.create_tenant(self.actor, name, description)

    def delete_tenant(self, name: str, force: bool) -> None:
        self.service.delete_tenant(self.actor, name, force=force)

    def list_users(self) -> Sequence[User]:
        return self.service.list_users(self.actor)

    def create_user(self, name: str, admin: bool, password: str | None) -> tuple[User, str | None]:
        return self.service.create_user(self.actor, name, is_admin=admin, password=password)

    def set_password(self, name: str, password: str | None) -> str | None:
        return self.service.set_password(self.actor, name, password)

    def set_disabled(self, name: str, disabled: bool) -> None:
        if disabled:
            self.service.disable_user(self.actor, name)
        else:
            self.service.enable_user(self.actor, name)

    def grant(self, user: str, tenant: str, role: Role) -> None:
        self.service.store.get_user(user)  # a clear NotFound before the membership row
        self.service.store.get_tenant(tenant)
        self.service.grant(self.actor, user, tenant, role)

    def revoke(self, user: str, tenant: str) -> None:
        self.service.revoke(self.actor, user, tenant)

    def list_members(self, tenant: str | None) -> Sequence[Membership]:
        return self.service.list_memberships(self.actor, tenant=tenant)

    def get_quota(self, tenant: str) -> Quota:
        self.service.store.get_tenant(tenant)
        return self.service.get_quota(self.actor, tenant)

    def set_quota(self, quota: Quota) -> Quota:
        self.service.store.get_tenant(quota.tenant)
        return self.service.set_quota(self.actor, quota)

    def list_groups(self, tenant: str | None) -> Sequence[GroupBinding]:
        return self.service.list_group_bindings(self.actor, tenant)

    def bind_group(self, group: str, tenant: str, role: Role) -> None:
        self.service.bind_group(self.actor, group, tenant, role)

    def unbind_group(self, group: str, tenant: str) -> None:
        self.service.unbind_group(self.actor, group, tenant)

    def create_token(
        self, name: str, tenant: str | None, role: Role | None, days: int | None
    ) -> tuple[ApiToken, str]:
        raise _tokens_need_a_server(self.where)

    def list_tokens(self, all_users: bool) -> Sequence[ApiToken]:
        if not all_users:
            raise _tokens_need_a_server(self.where)
        return self.service.list_tokens(self.actor, all_users=True)

    def revoke_token(self, token_id: str) -> None:
        self.service.revoke_token(self.actor, token_id)


def _tokens_need_a_server(uri: str) -> InvalidInput:
    return InvalidInput(
        f"the tracking URI {uri!r} is a database: a token is created by its user through "
        "a Kiln server; use --tracking-uri http://HOST:PORT (after `kiln login`), or "
        "`kiln tokens list --all` to see every user's tokens here"
    )


@contextlib.contextmanager
def open_access(state: CliState) -> Iterator[Access]:
    """The server or database the command's tracking URI names, closed afterwards.

    Raises:
        InvalidInput: an mlruns folder (no users there) or another store without auth.
    """
    uri = state.resolved_uri()
    remote = scheme_of(uri) in REMOTE_SCHEMES
    access: RemoteAccess | EmbeddedAccess = RemoteAccess(uri) if remote else EmbeddedAccess(uri)
    try:
        yield access
    finally:
        access.close()


__all__ = ["Access", "EmbeddedAccess", "RemoteAccess", "open_access"]
