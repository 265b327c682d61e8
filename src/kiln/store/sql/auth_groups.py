"""Group-derived memberships of the SQL ``AuthStore`` (the rules:
``kiln.store.rules.group_sync``): the sync at a directory login, and the re-read
of what a binding gave when it is unbound or re-bound, in the binding's
transaction.

On PostgreSQL these transactions (and grants and revokes) first take one advisory
lock, so a login's sync never interleaves with an unbind (else a login that read
the bindings just before an unbind committed could write back a role the unbind
had just taken away) nor with a grant (whose row it would collide with). SQLite's
write transactions are serial already (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import ColumnElement, and_, delete, insert, select, text, update
from sqlalchemy.engine import Connection

from kiln.entities.auth import Membership, Role
from kiln.store.rules.group_sync import GRANT, GROUP, GroupRole, member_fields, regrouped, same
from kiln.store.rules.group_sync import wanted_roles as wanted_of
from kiln.store.sql.auth_rows import binding_of, groups_json, membership_of, user_row
from kiln.store.sql.auth_schema import group_bindings, memberships
from kiln.store.sql.auth_tokens import SqlAuthBase

# Any fixed 64-bit number: the PostgreSQL advisory lock of group-derived memberships.
_PG_GROUP_LOCK = 0x6B696C6E_67727073  # "kilngrps"


def lock_group_memberships(conn: Connection) -> None:
    """Serialize group syncs and binding changes (PostgreSQL; held until commit)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_GROUP_LOCK})


class SqlGroupSync(SqlAuthBase):
    """``sync_group_memberships`` and the regroup its binding writes call."""

    def sync_group_memberships(self, user: str, groups: Collection[str]) -> Sequence[Membership]:
        with self._write() as conn:
            lock_group_memberships(conn)
            user_row(conn, user)
            bindings = [binding_of(row) for row in conn.execute(select(group_bindings))]
            wanted = wanted_of(bindings, groups)
            held = {m.tenant: m for m in _memberships_of(conn, user)}
            for tenant, membership in held.items():
                if membership.origin == GROUP and tenant not in wanted:
                    self._drop_group_membership(conn, membership)
            for tenant, role in sorted(wanted.items()):
                current = held.get(tenant)
                if current is not None and current.origin == GRANT:
                    continue  # a grant wins: the groups leave its tenant alone
                if not same(current, role):
                    self._put_group_membership(conn, user, tenant, role, current)
            return _memberships_of(conn, user)

    def _put_group_membership(
        self,
        conn: Connection,
        user: str,
        tenant: str,
        wanted: GroupRole,
        current: Membership | None,
    ) -> None:
        values = {
            "role": wanted.role.label,
            "origin": GROUP,
            "via_groups": groups_json(wanted.groups),
        }
        if current is None:
            conn.execute(insert(memberships).values(user_name=user, tenant=tenant, **values))
        else:
            conn.execute(update(memberships).where(_key(user, tenant)).values(**values))
        before = None if current is None else member_fields(current.role, GROUP, current.groups)
        after = member_fields(wanted.role, GROUP, wanted.groups)
        self._record(conn, "member.grant", f"user:{user}", tenant, before=before, after=after)

    def _drop_group_membership(self, conn: Connection, membership: Membership) -> None:
        conn.execute(delete(memberships).where(_key(membership.user, membership.tenant)))
        before = member_fields(membership.role, GROUP, membership.groups)
        self._record(
            conn, "member.revoke", f"user:{membership.user}", membership.tenant, before=before
        )

    def _regroup(self, conn: Connection, group: str, tenant: str) -> None:
        """Re-read every group-derived membership of ``tenant`` that ``group`` gave,
        against the tenant's bindings now (in the binding change's transaction,
        after the change)."""
        rows = conn.execute(
            select(group_bindings.c.group_name, group_bindings.c.role).where(
                group_bindings.c.tenant == tenant
            )
        )
        bound = {row.group_name: Role.parse(row.role) for row in rows}
        query = (
            select(memberships)
            .where(memberships.c.tenant == tenant, memberships.c.origin == GROUP)
            .order_by(memberships.c.user_name)
        )
        for current in [membership_of(row) for row in conn.execute(query)]:
            if group not in current.groups:
                continue
            wanted = regrouped(current.groups, bound)
            if wanted is None:
                self._drop_group_membership(conn, current)
            elif not same(current, wanted):
                self._put_group_membership(conn, current.user, tenant, wanted, current)


def _key(user: str, tenant: str) -> ColumnElement[bool]:
    return and_(memberships.c.user_name == user, memberships.c.tenant == tenant)


def _memberships_of(conn: Connection, user: str) -> list[Membership]:
    query = (
        select(memberships).where(memberships.c.user_name == user).order_by(memberships.c.tenant)
    )
    return [membership_of(row) for row in conn.execute(query)]


__all__ = ["SqlGroupSync", "lock_group_memberships"]
