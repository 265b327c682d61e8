"""Group-derived memberships of the in-memory ``AuthStore`` (the rules:
``kiln.store.rules.group_sync``): the sync at a directory login, and the re-read
of what a binding gave when it is unbound or changed."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from kiln.entities.auth import GroupBinding, Membership, Role
from kiln.store.memory.auth_tokens import MemoryAuthBase
from kiln.store.rules.group_sync import GRANT, GROUP, GroupRole, member_fields, regrouped, same
from kiln.store.rules.group_sync import wanted_roles as wanted_of


class MemoryGroupSync(MemoryAuthBase):
    """``sync_group_memberships`` and the regroup its binding writes call."""

    def sync_group_memberships(self, user: str, groups: Collection[str]) -> Sequence[Membership]:
        with self._lock:
            self._user(user)
            bindings = [GroupBinding(g, t, role) for (g, t), role in self._t.groups.items()]
            wanted = wanted_of(bindings, groups)
            held = {m.tenant: m for m in self._memberships_of(user)}
            for tenant, membership in held.items():
                if membership.origin == GROUP and tenant not in wanted:
                    self._drop_group_membership(membership)
            for tenant, role in sorted(wanted.items()):
                current = held.get(tenant)
                if current is not None and current.origin == GRANT:
                    continue  # a grant wins: the groups leave its tenant alone
                if not same(current, role):
                    self._put_group_membership(user, tenant, role, current)
            return self._memberships_of(user)

    def _membership(self, user: str, tenant: str) -> Membership | None:
        role = self._t.roles.get((user, tenant))
        if role is None:
            return None
        groups = self._t.member_groups.get((user, tenant))
        if groups is None:
            return Membership(user, tenant, role)
        return Membership(user, tenant, role, GROUP, groups)

    def _memberships_of(self, user: str) -> list[Membership]:
        found = [self._membership(u, t) for (u, t) in sorted(self._t.roles) if u == user]
        return [m for m in found if m is not None]

    def _put_group_membership(
        self, user: str, tenant: str, wanted: GroupRole, current: Membership | None
    ) -> None:
        self._t.roles[(user, tenant)] = wanted.role
        self._t.member_groups[(user, tenant)] = wanted.groups
        before = None if current is None else member_fields(current.role, GROUP, current.groups)
        after = member_fields(wanted.role, GROUP, wanted.groups)
        self._record("member.grant", f"user:{user}", tenant, before=before, after=after)

    def _drop_group_membership(self, membership: Membership) -> None:
        key = (membership.user, membership.tenant)
        del self._t.roles[key]
        self._t.member_groups.pop(key, None)
        before = member_fields(membership.role, GROUP, membership.groups)
        self._record("member.revoke", f"user:{membership.user}", membership.tenant, before=before)

    def _regroup(self, group: str, tenant: str) -> None:
        """Re-read every group-derived membership of ``tenant`` that ``group`` gave,
        against the tenant's bindings now (called under the lock, after the change)."""
        bound: dict[str, Role] = {g: role for (g, t), role in self._t.groups.items() if t == tenant}
        for (user, where), groups in sorted(self._t.member_groups.items()):
            if where != tenant or group not in groups:
                continue
            current = self._membership(user, tenant)
            assert current is not None
            wanted = regrouped(groups, bound)
            if wanted is None:
                self._drop_group_membership(current)
            elif not same(current, wanted):
                self._put_group_membership(user, tenant, wanted, current)


__all__ = ["MemoryGroupSync"]
