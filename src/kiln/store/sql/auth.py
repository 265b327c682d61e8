"""The SQL ``AuthStore`` (SQLite and PostgreSQL), beside the tracking tables.

The tables (``kiln.store.sql.auth_schema``) come from migration ``0008_auth``,
which also inserts the ``default`` tenant, so every database has it from the
start. Each audited change writes its audit line (``kiln.store.sql.audit
.append_event``) on the same connection, last in the same transaction: the change
and its line are committed together or not at all.

``token_grant`` runs on every token-authenticated request: one SELECT joining
``api_tokens`` (probed through its unique hash index), ``users`` and
``memberships``. Tokens and sessions live in ``kiln.store.sql.auth_tokens``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, exists, insert, or_, select, update
from sqlalchemy.engine import Engine

from kiln.entities.auth import (
    DEFAULT_TENANT,
    GroupBinding,
    Membership,
    Quota,
    Role,
    Tenant,
    User,
)
from kiln.errors import AlreadyExists, InvalidInput, NotFound
from kiln.store.clock import Clock, wall_clock_ms
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
from kiln.store.rules.group_sync import GRANT, member_fields
from kiln.store.sql.auth_groups import SqlGroupSync, lock_group_memberships
from kiln.store.sql.auth_rows import (
    binding_of,
    membership_of,
    narrowed,
    quota_of,
    tenant_of,
    tenant_row,
    update_given,
    upsert,
    user_of,
    user_row,
)
from kiln.store.sql.auth_schema import (
    AUTH_TABLES,
    api_tokens,
    auth_metadata,
    group_bindings,
    memberships,
    sessions,
    tenant_quotas,
    tenants,
    users,
)
from kiln.store.sql.auth_tokens import SqlTokens
from kiln.store.sql.engine import (
    SHARED_ENGINES,
    EnginePool,
    normalize_uri,
    read_transaction,
)
from kiln.store.sql.logged_model_schema import logged_models
from kiln.store.sql.registry_schema import registered_models
from kiln.store.sql.schema import experiments, runs, workspaces
from kiln.store.sql.tenant_purge import purge_tenant_rows


class SqlAuthStore(SqlGroupSync, SqlTokens):
    """``AuthStore`` over the auth tables of a Kiln database."""

    def __init__(self, engine: Engine, *, clock: Clock = wall_clock_ms) -> None:
        self._engine = engine
        self._clock = clock

    @property
    def engine(self) -> Engine:
        """The shared engine (for tests and maintenance tools)."""
        return self._engine

    # tenants -----------------------------------------------------------------------
    def create_tenant(
        self, name: str, description: str = "", default_artifact_root: str | None = None
    ) -> Tenant:
        check_tenant(name, default_artifact_root)
        taken = AlreadyExists(f"workspace {name!r} already exists")
        with self._write(taken) as conn:
            if conn.execute(select(tenants.c.name).where(tenants.c.name == name)).first():
                raise taken
            tenant = Tenant(name, description, self._clock(), default_artifact_root)
            conn.execute(
                insert(tenants).values(
                    name=name,
                    description=description,
                    created_at=tenant.created_at,
                    default_artifact_root=default_artifact_root,
                )
            )
            self._record(conn, "tenant.create", f"tenant:{name}", name, after=tenant_fields(tenant))
            return tenant

    def get_tenant(self, name: str) -> Tenant:
        with read_transaction(self._engine) as conn:
            return tenant_of(tenant_row(conn, name))

    def list_tenants(self) -> Sequence[Tenant]:
        with read_transaction(self._engine) as conn:
            rows = conn.execute(select(tenants).order_by(tenants.c.name))
            return [tenant_of(row) for row in rows]

    def update_tenant(
        self, name: str, description: str | None = None, default_artifact_root: str | None = None
    ) -> Tenant:
        check_length("a default artifact root", default_artifact_root, ROOT_LENGTH)
        with self._write() as conn:
            before = tenant_of(tenant_row(conn, name))
            update_given(
                conn,
                tenants,
                tenants.c.name == name,
                description=description,
                default_artifact_root=default_artifact_root,
            )
            after = tenant_of(tenant_row(conn, name))
            self._record(
                conn,
                "tenant.update",
                f"tenant:{name}",
                name,
                tenant_fields(before),
                tenant_fields(after),
            )
            return after

    def delete_tenant(self, name: str, *, purge: bool = False) -> None:
        if name == DEFAULT_TENANT:
            raise InvalidInput(f"the {DEFAULT_TENANT!r} workspace cannot be deleted")
        with self._write() as conn:
            before = tenant_fields(tenant_of(tenant_row(conn, name)))
            if purge:
                before["purged"] = purge_tenant_rows(conn, name)
            # Explicit, not only ON DELETE CASCADE: a connection with SQLite's foreign
            # keys off (a tool's) must not leave orphans behind.
            for table in (memberships, api_tokens, sessions, group_bindings, tenant_quotas):
                conn.execute(delete(table).where(table.c.tenant == name))
            conn.execute(delete(tenants).where(tenants.c.name == name))
            self._record(conn, "tenant.delete", f"tenant:{name}", name, before=before)

    def tenant_holds_data(self, name: str) -> bool:
        with read_transaction(self._engine) as conn:
            tenant_row(conn, name)
            default_id = select(workspaces.c.default_experiment_id).where(
                workspaces.c.workspace == name
            )
            held = (
                exists().where(runs.c.workspace == name),
                exists().where(
                    experiments.c.workspace == name,
                    experiments.c.experiment_id.not_in(default_id.scalar_subquery()),
                ),
                exists().where(registered_models.c.workspace == name),
                exists().where(logged_models.c.workspace == name),
            )
            return bool(conn.execute(select(or_(*held))).scalar())

    # users -------------------------------------------------------------------------
    def create_user(
        self, name: str, password_hash: str | None, *, is_admin: bool = False, source: str = "local"
    ) -> User:
        check_user(name, source)
        taken = AlreadyExists(f"user {name!r} already exists")
        with self._write(taken) as conn:
            if conn.execute(select(users.c.name).where(users.c.name == name)).first():
                raise taken
            user = User(name, is_admin=is_admin, created_at=self._clock(), source=source)
            conn.execute(
                insert(users).values(
                    name=name,
                    password_hash=password_hash,
                    is_admin=is_admin,
                    disabled=False,
                    created_at=user.created_at,
                    source=source,
                )
            )
            self._record(conn, "user.create", f"user:{name}", after=user_fields(user))
            return user

    def get_user(self, name: str) -> User:
        with read_transaction(self._engine) as conn:
            return user_of(user_row(conn, name))

    def list_users(self) -> Sequence[User]:
        with read_transaction(self._engine) as conn:
            return [user_of(row) for row in conn.execute(select(users).order_by(users.c.name))]

    def get_password_hash(self, name: str) -> str | None:
        with read_transaction(self._engine) as conn:
            value = user_row(conn, name).password_hash
            return None if value is None else str(value)

    def set_password_hash(self, name: str, password_hash: str | None) -> None:
        with self._write() as conn:
            user_row(conn, name)
            conn.execute(
                update(users).where(users.c.name == name).values(password_hash=password_hash)
            )
            self._record(conn, "user.password", f"user:{name}")

    def set_user_flags(
        self, name: str, *, is_admin: bool | None = None, disabled: bool | None = None
    ) -> User:
        with self._write() as conn:
            before = user_of(user_row(conn, name))
            update_given(conn, users, users.c.name == name, is_admin=is_admin, disabled=disabled)
            after = user_of(user_row(conn, name))
            for action, key in flag_actions(before, after):
                self._record(
                    conn,
                    action,
                    f"user:{name}",
                    before={key: getattr(before, key)},
                    after={key: getattr(after, key)},
                )
            return after

    # memberships and group bindings ------------------------------------------------
    def set_membership(self, user: str, tenant: str, role: Role) -> Membership:
        with self._write() as conn:
            lock_group_memberships(conn)  # not interleaved with a login's group sync
            user_row(conn, user)
            tenant_row(conn, tenant)
            # a grant replaces a group-derived membership
            values = {"role": role.label, "origin": GRANT, "via_groups": None}
            row = upsert(conn, memberships, {"user_name": user, "tenant": tenant}, values)
            old = None if row is None else membership_of(row)
            self._record(
                conn,
                "member.grant",
                f"user:{user}",
                tenant,
                before=None if old is None else member_fields(old.role, old.origin, old.groups),
                after={"role": role.label},
            )
            return Membership(user, tenant, role)

    def delete_membership(self, user: str, tenant: str) -> None:
        with self._write() as conn:
            lock_group_memberships(conn)
            user_row(conn, user)
            tenant_row(conn, tenant)
            where = (memberships.c.user_name == user, memberships.c.tenant == tenant)
            row = conn.execute(select(memberships).where(*where)).first()
            if row is None:
                raise NotFound(f"user {user!r} has no role in workspace {tenant!r}")
            conn.execute(delete(memberships).where(*where))
            old = membership_of(row)
            before = member_fields(old.role, old.origin, old.groups)
            self._record(conn, "member.revoke", f"user:{user}", tenant, before=before)

    def role_of(self, user: str, tenant: str) -> Role | None:
        with read_transaction(self._engine) as conn:
            label = conn.execute(
                select(memberships.c.role).where(
                    memberships.c.user_name == user, memberships.c.tenant == tenant
                )
            ).scalar()
            if label is not None:
                return Role.parse(label)
            user_row(conn, user)
            tenant_row(conn, tenant)
            return None

    def list_memberships(
        self, *, user: str | None = None, tenant: str | None = None
    ) -> Sequence[Membership]:
        with read_transaction(self._engine) as conn:
            query = select(memberships).order_by(memberships.c.user_name, memberships.c.tenant)
            query = narrowed(conn, query, memberships, user, tenant)
            return [membership_of(row) for row in conn.execute(query)]

    def set_group_binding(self, group: str, tenant: str, role: Role) -> GroupBinding:
        check_length("a group", group, GROUP_LENGTH)
        with self._write() as conn:
            lock_group_memberships(conn)
            tenant_row(conn, tenant)
            key = {"group_name": group, "tenant": tenant}
            row = upsert(conn, group_bindings, key, {"role": role.label})
            old = None if row is None else row.role
            self._record(
                conn,
                "group.bind",
                f"group:{group}",
                tenant,
                before=None if old is None else {"role": old},
                after={"role": role.label},
            )
            if old is not None and old != role.label:
                self._regroup(conn, group, tenant)  # what it gave moves with it, at once
            return GroupBinding(group, tenant, role)

    def delete_group_binding(self, group: str, tenant: str) -> None:
        with self._write() as conn:
            lock_group_memberships(conn)
            tenant_row(conn, tenant)
            where = (group_bindings.c.group_name == group, group_bindings.c.tenant == tenant)
            old = conn.execute(select(group_bindings.c.role).where(*where)).scalar()
            if old is None:
                raise NotFound(f"group {group!r} is not bound to workspace {tenant!r}")
            conn.execute(delete(group_bindings).where(*where))
            self._record(conn, "group.unbind", f"group:{group}", tenant, before={"role": old})
            self._regroup(conn, group, tenant)  # what it alone gave goes at once

    def list_group_bindings(self, tenant: str | None = None) -> Sequence[GroupBinding]:
        with read_transaction(self._engine) as conn:
            query = select(group_bindings).order_by(
                group_bindings.c.tenant, group_bindings.c.group_name
            )
            if tenant is not None:
                tenant_row(conn, tenant)
                query = query.where(group_bindings.c.tenant == tenant)
            return [binding_of(row) for row in conn.execute(query)]

    # quotas ------------------------------------------------------------------------
    def set_quota(self, quota: Quota) -> Quota:
        with self._write() as conn:
            tenant_row(conn, quota.tenant)
            values = {"cpus": quota.cpus, "gpus": quota.gpus, "memory_mb": quota.memory_mb}
            row = upsert(conn, tenant_quotas, {"tenant": quota.tenant}, values)
            before = Quota(quota.tenant) if row is None else quota_of(row)
            self._record(
                conn,
                "quota.set",
                f"tenant:{quota.tenant}",
                quota.tenant,
                quota_fields(before),
                quota_fields(quota),
            )
            return quota

    def get_quota(self, tenant: str) -> Quota:
        with read_transaction(self._engine) as conn:
            tenant_row(conn, tenant)
            row = conn.execute(
                select(tenant_quotas).where(tenant_quotas.c.tenant == tenant)
            ).first()
            return Quota(tenant) if row is None else quota_of(row)

    def close(self) -> None:
        """The event loop's read connection; the engine belongs to its ``EnginePool``."""
        self._close_loop_reader()


def open_sql_auth_store(
    uri: str, *, clock: Clock = wall_clock_ms, engines: EnginePool | None = None
) -> SqlAuthStore:
    """Open the auth tables of the SQL database at ``uri`` (migrated on first open),
    on the engine ``engines`` owns (by default the process's ``SHARED_ENGINES``)."""
    engine = (engines or SHARED_ENGINES).engine(normalize_uri(uri))
    return SqlAuthStore(engine, clock=clock)


__all__ = ["AUTH_TABLES", "SqlAuthStore", "auth_metadata", "open_sql_auth_store"]
