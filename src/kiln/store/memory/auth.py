"""The in-memory ``AuthStore`` (``memory://``, and the auth service's unit tests).

Plain dicts under one lock. ``tenant_holds_data`` looks into the memory tracking,
registry and logged-model states it is given (the same "database" as the stores
of each tenant); without them no tenant holds data. Audited writes append to the
``AuditLog`` given at construction (the memory tracking and registry stores share
one through their states), after the change, under the same lock.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kiln.entities.auth import (
    DEFAULT_TENANT,
    ApiToken,
    AuditEvent,
    GroupBinding,
    Membership,
    Quota,
    Role,
    Session,
    Tenant,
    TokenGrant,
    User,
)
from kiln.errors import AlreadyExists, InvalidInput, NotFound
from kiln.store.audit_context import current_actor
from kiln.store.clock import Clock, wall_clock_ms
from kiln.store.memory.logged_models import LoggedModelMemoryState
from kiln.store.memory.registry import RegistryMemoryState
from kiln.store.memory.state import MemoryTrackingState
from kiln.store.protocols.audit import AuditLog
from kiln.store.rules.auth import (
    flag_actions,
    quota_fields,
    tenant_fields,
    token_fields,
    user_fields,
)


@dataclass
class _UserRecord:
    user: User
    password_hash: str | None


@dataclass
class _Tables:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    users: dict[str, _UserRecord] = field(default_factory=dict)
    roles: dict[tuple[str, str], Role] = field(default_factory=dict)  # (user, tenant)
    groups: dict[tuple[str, str], Role] = field(default_factory=dict)  # (group, tenant)
    quotas: dict[str, Quota] = field(default_factory=dict)
    tokens: dict[str, ApiToken] = field(default_factory=dict)
    token_ids: dict[str, str] = field(default_factory=dict)  # hash -> id
    token_hashes: dict[str, str] = field(default_factory=dict)  # id -> hash
    sessions: dict[str, Session] = field(default_factory=dict)
    session_ids: dict[str, str] = field(default_factory=dict)  # hash -> id
    session_hashes: dict[str, str] = field(default_factory=dict)  # id -> hash


class MemoryAuthStore:
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
        self._t = _Tables()
        self._t.tenants[DEFAULT_TENANT] = Tenant(DEFAULT_TENANT, created_at=clock())

    # helpers -----------------------------------------------------------------------
    def _record(
        self,
        action: str,
        resource: str,
        tenant: str = DEFAULT_TENANT,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        if self._audit is None:
            return
        event = AuditEvent(
            event_id=0,
            timestamp=self._clock(),
            tenant=tenant,
            actor=current_actor(),
            action=action,
            resource=resource,
            before=before,
            after=after,
        )
        self._audit.append(event)

    def _tenant(self, name: str) -> Tenant:
        tenant = self._t.tenants.get(name)
        if tenant is None:
            raise NotFound(f"workspace {name!r} not found")
        return tenant

    def _user(self, name: str) -> _UserRecord:
        record = self._t.users.get(name)
        if record is None:
            raise NotFound(f"user {name!r} not found")
        return record

    def _token(self, token_id: str) -> ApiToken:
        token = self._t.tokens.get(token_id)
        if token is None:
            raise NotFound(f"token {token_id!r} not found")
        return token

    def _session(self, session_id: str) -> Session:
        session = self._t.sessions.get(session_id)
        if session is None:
            raise NotFound(f"session {session_id!r} not found")
        return session

    # tenants -----------------------------------------------------------------------
    def create_tenant(
        self, name: str, description: str = "", default_artifact_root: str | None = None
    ) -> Tenant:
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

    def delete_tenant(self, name: str) -> None:
        with self._lock:
            if name == DEFAULT_TENANT:
                raise InvalidInput(f"the {DEFAULT_TENANT!r} workspace cannot be deleted")
            before = self._tenant(name)
            t = self._t
            del t.tenants[name]
            for key in [k for k in t.roles if k[1] == name]:
                del t.roles[key]
            for key in [k for k in t.groups if k[1] == name]:
                del t.groups[key]
            t.quotas.pop(name, None)
            for token in [x for x in t.tokens.values() if x.tenant == name]:
                del t.tokens[token.token_id]
                del t.token_ids[t.token_hashes.pop(token.token_id)]
            for session in [s for s in t.sessions.values() if s.tenant == name]:
                self._drop_session(session.session_id)
            self._record("tenant.delete", f"tenant:{name}", name, before=tenant_fields(before))

    def tenant_holds_data(self, name: str) -> bool:
        with self._lock:
            self._tenant(name)
        if self._tracking is not None:
            with self._tracking.lock:
                if any(e.workspace == name for e in self._tracking.experiments.values()):
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
        with self._lock:
            if name in self._t.users:
                raise AlreadyExists(f"user {name!r} already exists")
            user = User(name, is_admin=is_admin, created_at=self._clock(), source=source)
            self._t.users[name] = _UserRecord(user, password_hash)
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
            old = self._t.roles.get((user, tenant))
            self._t.roles[(user, tenant)] = role
            self._record(
                "member.grant",
                f"user:{user}",
                tenant,
                before=None if old is None else {"role": old.label},
                after={"role": role.label},
            )
            return Membership(user, tenant, role)

    def delete_membership(self, user: str, tenant: str) -> None:
        with self._lock:
            self._user(user)
            self._tenant(tenant)
            old = self._t.roles.pop((user, tenant), None)
            if old is None:
                raise NotFound(f"user {user!r} has no role in workspace {tenant!r}")
            self._record("member.revoke", f"user:{user}", tenant, before={"role": old.label})

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
            if user is not None:
                self._user(user)
            if tenant is not None:
                self._tenant(tenant)
            return [
                Membership(u, t, role)
                for (u, t), role in sorted(self._t.roles.items())
                if (user is None or u == user) and (tenant is None or t == tenant)
            ]

    def set_group_binding(self, group: str, tenant: str, role: Role) -> GroupBinding:
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
            return GroupBinding(group, tenant, role)

    def delete_group_binding(self, group: str, tenant: str) -> None:
        with self._lock:
            self._tenant(tenant)
            old = self._t.groups.pop((group, tenant), None)
            if old is None:
                raise NotFound(f"group {group!r} is not bound to workspace {tenant!r}")
            self._record("group.unbind", f"group:{group}", tenant, before={"role": old.label})

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

    # API tokens --------------------------------------------------------------------
    def create_token(self, token: ApiToken, token_hash: str) -> ApiToken:
        with self._lock:
            self._user(token.user)
            self._tenant(token.tenant)
            if token.token_id in self._t.tokens or token_hash in self._t.token_ids:
                raise AlreadyExists(f"token {token.token_id!r} already exists")
            self._t.tokens[token.token_id] = token
            self._t.token_ids[token_hash] = token.token_id
            self._t.token_hashes[token.token_id] = token_hash
            self._record(
                "token.create", f"token:{token.token_id}", token.tenant, after=token_fields(token)
            )
            return token

    def token_grant(self, token_hash: str) -> TokenGrant | None:
        with self._lock:
            token_id = self._t.token_ids.get(token_hash)
            if token_id is None:
                return None
            token = self._t.tokens[token_id]
            user = self._t.users[token.user].user
            return TokenGrant(token, user, self._t.roles.get((token.user, token.tenant)))

    def get_token(self, token_id: str) -> ApiToken:
        with self._lock:
            return self._token(token_id)

    def list_tokens(
        self, *, user: str | None = None, tenant: str | None = None
    ) -> Sequence[ApiToken]:
        with self._lock:
            if user is not None:
                self._user(user)
            if tenant is not None:
                self._tenant(tenant)
            found = [
                t
                for t in self._t.tokens.values()
                if (user is None or t.user == user) and (tenant is None or t.tenant == tenant)
            ]
            return sorted(found, key=lambda t: (t.created_at, t.token_id))

    def revoke_token(self, token_id: str, when: int) -> ApiToken:
        with self._lock:
            token = self._token(token_id)
            if token.revoked_at is not None:
                return token
            revoked = dataclasses.replace(token, revoked_at=when)
            self._t.tokens[token_id] = revoked
            self._record(
                "token.revoke",
                f"token:{token_id}",
                token.tenant,
                before={"revoked_at": None},
                after={"revoked_at": when},
            )
            return revoked

    def touch_token(self, token_id: str, when: int) -> None:
        with self._lock:
            token = self._token(token_id)
            self._t.tokens[token_id] = dataclasses.replace(token, last_used_at=when)

    # login sessions ----------------------------------------------------------------
    def create_session(self, session: Session, session_hash: str) -> Session:
        with self._lock:
            self._user(session.user)
            self._tenant(session.tenant)
            if session.session_id in self._t.sessions or session_hash in self._t.session_ids:
                raise AlreadyExists(f"session {session.session_id!r} already exists")
            self._t.sessions[session.session_id] = session
            self._t.session_ids[session_hash] = session.session_id
            self._t.session_hashes[session.session_id] = session_hash
            return session

    def session_by_hash(self, session_hash: str) -> Session | None:
        with self._lock:
            session_id = self._t.session_ids.get(session_hash)
            return None if session_id is None else self._t.sessions[session_id]

    def touch_session(self, session_id: str, when: int) -> None:
        with self._lock:
            session = self._session(session_id)
            self._t.sessions[session_id] = dataclasses.replace(session, last_seen_at=when)

    def delete_session(self, session_id: str) -> None:
        with self._lock:
            self._session(session_id)
            self._drop_session(session_id)

    def _drop_session(self, session_id: str) -> None:
        del self._t.sessions[session_id]
        del self._t.session_ids[self._t.session_hashes.pop(session_id)]

    def delete_expired_sessions(self, now: int, idle_ms: int) -> int:
        with self._lock:
            gone = [
                s.session_id
                for s in self._t.sessions.values()
                if s.expires_at <= now or s.last_seen_at <= now - idle_ms
            ]
            for session_id in gone:
                self._drop_session(session_id)
            return len(gone)

    def close(self) -> None:
        """Nothing to release."""


def open_memory_auth_store(uri: str) -> MemoryAuthStore:
    """A fresh, empty in-process auth store (``memory://``): ``default`` only."""
    return MemoryAuthStore()


__all__ = ["MemoryAuthStore", "open_memory_auth_store"]
