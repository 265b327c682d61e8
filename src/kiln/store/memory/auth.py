"""The in-memory ``AuthStore`` (``memory://``, and the auth service's unit tests).

Plain dicts under one lock. ``tenant_holds_data`` looks into the memory tracking,
registry and logged-model states it is given (the same "database" as the stores
of each tenant); without them no tenant holds data, and ``delete_tenant(purge=True)``
empties its part of them. Audited writes append to the
``AuditLog`` given at construction (the memory tracking and registry stores share
one through their states), after the change, under the same lock.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

from kiln.entities.auth import (
    DEFAULT_TENANT,
    GroupBinding,
    Membership,
    PasswordGrant,
    Quota,
    Role,
    Tenant,
    User,
)
from kiln.errors import AlreadyExists, InvalidInput, NotFound
from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.memory.auth_groups import MemoryGroupSync
from kiln.store.memory.auth_tokens import AuthTables, MemoryTokens, UserRecord
from kiln.store.memory.logged_models import LoggedModelMemoryState
from kiln.store.memory.registry import RegistryMemoryState
from kiln.store.memory.state import MemoryTrackingState
from kiln.store.memory.tenant_purge import purge_tenant_records
from kiln.store.protocols.audit import AuditLog
from kiln.store.rules.auth import (
    GROUP_LENGTH,
    ROOT_LENGTH,
    check_length,
    check_tenant,
    check_user,
    flag_actions,
    quota_fields,
    tenant_fields,
    user_fields,
)
from kiln.store.rules.group_sync import member_fields


class MemoryAuthStore(MemoryGroupSync, MemoryTokens):
    """``AuthStore`` in process memory; thread-safe (one lock)."""

    def __init__(
        self,
        *,
        audit: AuditLog | None = None,
        clock: Clock = wall_clock_ms,
        tracking: MemoryTrackingState | None = None,
        registry: RegistryMemoryState | None = None,
        logged_models: LoggedModelMemoryState | None = None,
    ) -> None:
        self._audit = audit
        self._clock = clock
        self._tracking = tracking
        self._registry = registry
        self._logged_models = logged_models
        self._lock = threading.RLock()
        self._t = AuthTables()
        self._t.tenants[DEFAULT_TENANT] = Tenant(DEFAULT_TENANT, created_at=clock())

    # tenants -----------------------------------------------------------------------
    def create_tenant(
        self, name: str, description: str = "", default_artifact_root: str | None = None
    ) -> Tenant:
        check_tenant(name, default_artifact_root)
        with self._lock:
            if name in self._t.tenants:
                raise AlreadyExists(f"workspace {name!r} already exists")
            tenant = Tenant(name, description, self._clock(), default_artifact_root)
            self._t.tenants[name] = tenant
            self._record("tenant.create", f"tenant:{name}", name, after=tenant_fields(tenant))
            return tenant

    def get_tenant(self, name: str) -> Tenant:
        with self._lock:
            return self._tenant(name)

    def list_tenants(self) -> Sequence[Tenant]:
        with self._lock:
            return sorted(self._t.tenants.values(), key=lambda t: t.name)

    def update_tenant(
        self, name: str, description: str | None = None, default_artifact_root: str | None = None
    ) -> Tenant:
        check_length("a default artifact root", default_artifact_root, ROOT_LENGTH)
        with self._lock:
            before = self._tenant(name)
            after = dataclasses.replace(
                before,
                description=before.description if description is None else description,
                default_artifact_root=before.default_artifact_root
                if default_artifact_root is None
                else default_artifact_root,
            )
            self._t.tenants[name] = after
            self._record(
                "tenant.update", f"tenant:{name}", name, tenant_fields(before), tenant_fields(after)
            )
            return after

    def delete_tenant(self, name: str, *, purge: bool = False) -> None:
        with self._lock:
            if name == DEFAULT_TENANT:
                raise InvalidInput(f"the {DEFAULT_TENANT!r} workspace cannot be deleted")
            before = tenant_fields(self._tenant(name))
            if purge:
                before["purged"] = purge_tenant_records(
                    name, self._tracking, self._registry, self._logged_models
                )
            t = self._t
            del t.tenants[name]
            for key in [k for k in t.roles if k[1] == name]:
                del t.roles[key]
                t.member_groups.pop(key, None)
            for key in [k for k in t.groups if k[1] == name]:
                del t.groups[key]
            t.quotas.pop(name, None)
            for token in [x for x in t.tokens.values() if x.tenant == name]:
                del t.tokens[token.token_id]
                del t.token_ids[t.token_hashes.pop(token.token_id)]
            for session in [s for s in t.sessions.values() if s.tenant == name]:
                self._drop_session(session.session_id)
            self._record("tenant.delete", f"tenant:{name}", name, before=before)

    def tenant_holds_data(self, name: str) -> bool:
        with self._lock:
            self._tenant(name)
        tracking = self._tracking
        if tracking is not None:
            with tracking.lock:
                default_id = tracking.defaults.get(name)
                if any(
                    e.workspace == name and e.experiment_id != default_id
                    for e in tracking.experiments.values()
                ) or any(r.info.workspace == name for r in tracking.runs.values()):
                    return True
        if self._registry is not None:
            with self._registry.lock:
                if self._registry.models.get(name):
                    return True
        if self._logged_models is not None:
            with self._logged_models.lock:
                tables = self._logged_models.workspaces.get(name)
                if tables is not None and tables.models:
                    return True
        return False

    # users -------------------------------------------------------------------------
    def create_user(
        self, name: str, password_hash: str | None, *, is_admin: bool = False, source: str = "local"
    ) -> User:
        check_user(name, source)
        with self._lock:
            if name in self._t.users:
                raise AlreadyExists(f"user {name!r} already exists")
            user = User(name, is_admin=is_admin, created_at=self._clock(), source=source)
            self._t.users[name] = UserRecord(user, password_hash)
            self._record("user.create", f"user:{name}", after=user_fields(user))
            return user

    def get_user(self, name: str) -> User:
        with self._lock:
            return self._user(name).user

    def list_users(self) -> Sequence[User]:
        with self._lock:
            return sorted((r.user for r in self._t.users.values()), key=lambda u: u.name)

    def get_password_hash(self, name: str) -> str | None:
        with self._lock:
            return self._user(name).password_hash

    def password_grant(self, name: str) -> PasswordGrant | None:
        with self._lock:
            record = self._t.users.get(name)
            if record is None:
                return None
            roles = sorted((t, role) for (u, t), role in self._t.roles.items() if u == name)
            return PasswordGrant(record.user, record.password_hash, tuple(roles))

    def set_password_hash(self, name: str, password_hash: str | None) -> None:
        with self._lock:
            self._user(name).password_hash = password_hash
            self._record("user.password", f"user:{name}")

    def set_user_flags(
        self, name: str, *, is_admin: bool | None = None, disabled: bool | None = None
    ) -> User:
        with self._lock:
            record = self._user(name)
            before = record.user
            after = dataclasses.replace(
                before,
                is_admin=before.is_admin if is_admin is None else is_admin,
                disabled=before.disabled if disabled is None else disabled,
            )
            record.user = after
            for action, key in flag_actions(before, after):
                self._record(
                    action,
                    f"user:{name}",
                    before={key: getattr(before, key)},
                    after={key: getattr(after, key)},
                )
            return after

    # memberships and group bindings ------------------------------------------------
    def set_membership(self, user: str, tenant: str, role: Role) -> Membership:
        with self._lock:
            self._user(user)
            self._tenant(tenant)
            old = self._membership(user, tenant)
            self._t.roles[(user, tenant)] = role
            self._t.member_groups.pop((user, tenant), None)  # a grant replaces the groups'
            self._record(
                "member.grant",
                f"user:{user}",
                tenant,
                before=None if old is None else member_fields(old.role, old.origin, old.groups),
                after={"role": role.label},
            )
            return Membership(user, tenant, role)

    def delete_membership(self, user: str, tenant: str) -> None:
        with self._lock:
            self._user(user)
            self._tenant(tenant)
            old = self._membership(user, tenant)
            if old is None:
                raise NotFound(f"user {user!r} has no role in workspace {tenant!r}")
            del self._t.roles[(user, tenant)]
            self._t.member_groups.pop((user, tenant), None)
            before = member_fields(old.role, old.origin, old.groups)
            self._record("member.revoke", f"user:{user}", tenant, before=before)

    def role_of(self, user: str, tenant: str) -> Role | None:
        with self._lock:
            role = self._t.roles.get((user, tenant))
            if role is None:
                self._user(user)
                self._tenant(tenant)
            return role

    def list_memberships(
        self, *, user: str | None = None, tenant: str | None = None
    ) -> Sequence[Membership]:
        with self._lock:
            self._check_filters(user, tenant)
            found = [
                self._membership(u, t)
                for (u, t) in sorted(self._t.roles)
                if (user is None or u == user) and (tenant is None or t == tenant)
            ]
            return [m for m in found if m is not None]

    def set_group_binding(self, group: str, tenant: str, role: Role) -> GroupBinding:
        check_length("a group", group, GROUP_LENGTH)
        with self._lock:
            self._tenant(tenant)
            old = self._t.groups.get((group, tenant))
            self._t.groups[(group, tenant)] = role
            self._record(
                "group.bind",
                f"group:{group}",
                tenant,
                before=None if old is None else {"role": old.label},
                after={"role": role.label},
            )
            if old is not None and old != role:
                self._regroup(group, tenant)  # what it gave moves with it, at once
            return GroupBinding(group, tenant, role)

    def delete_group_binding(self, group: str, tenant: str) -> None:
        with self._lock:
            self._tenant(tenant)
            old = self._t.groups.pop((group, tenant), None)
            if old is None:
                raise NotFound(f"group {group!r} is not bound to workspace {tenant!r}")
            self._record("group.unbind", f"group:{group}", tenant, before={"role": old.label})
            self._regroup(group, tenant)  # what it alone gave goes at once

    def list_group_bindings(self, tenant: str | None = None) -> Sequence[GroupBinding]:
        with self._lock:
            if tenant is not None:
                self._tenant(tenant)
            found = [
                GroupBinding(g, t, role)
                for (g, t), role in self._t.groups.items()
                if tenant is None or t == tenant
            ]
            return sorted(found, key=lambda b: (b.tenant, b.group))

    # quotas ------------------------------------------------------------------------
    def set_quota(self, quota: Quota) -> Quota:
        with self._lock:
            self._tenant(quota.tenant)
            before = self._t.quotas.get(quota.tenant, Quota(quota.tenant))
            self._t.quotas[quota.tenant] = quota
            self._record(
                "quota.set",
                f"tenant:{quota.tenant}",
                quota.tenant,
                quota_fields(before),
                quota_fields(quota),
            )
            return quota

    def get_quota(self, tenant: str) -> Quota:
        with self._lock:
            self._tenant(tenant)
            return self._t.quotas.get(tenant, Quota(tenant))


def open_memory_auth_store(uri: str) -> MemoryAuthStore:
    """A fresh, empty in-process auth store (``memory://``): ``default`` only."""
    return MemoryAuthStore()


__all__ = ["MemoryAuthStore", "open_memory_auth_store"]
