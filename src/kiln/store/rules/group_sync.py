"""Which memberships LDAP group bindings give, computed alike by every ``AuthStore``.

A membership has an *origin*: ``grant`` (an admin gave it: ``kiln admin grant``, the
admin API) or ``group`` (the bindings of the user's directory groups gave it at
their last login, and the membership remembers which bindings: its ``groups``).
The rules, the same on every backend:

* at a directory login the group-derived memberships become exactly what the
  bindings of the user's groups give: per tenant the highest bound role; one no
  binding gives any more is deleted (offboarding in the directory takes the role
  away at the next login, and with it every token's access in that tenant);
* a grant wins: the sync never touches a tenant where the user holds a grant (an
  admin's explicit choice, higher or lower than the groups'); revoking the grant
  hands the tenant back to the groups at the next login;
* unbinding a group, or binding it to another role, re-reads at once every
  group-derived membership it gave (the role of the bindings still left, or
  nothing), in the same transaction as the binding's change.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kiln.entities.auth import GroupBinding, Membership, Role

GRANT = "grant"
GROUP = "group"
ORIGINS = (GRANT, GROUP)
ORIGIN_LENGTH = 8


@dataclass(frozen=True, slots=True)
class GroupRole:
    """What the bindings give in one tenant: the highest role, and the bound groups
    that gave a role there (sorted)."""

    role: Role
    groups: tuple[str, ...]


def wanted_roles(bindings: Iterable[GroupBinding], groups: Collection[str]) -> dict[str, GroupRole]:
    """Per tenant, what the bindings give a directory user in ``groups`` (lower-cased
    DNs and cns); a binding applies when its group, lower-cased, is one of them."""
    found: dict[str, list[GroupBinding]] = {}
    for binding in bindings:
        if binding.group.lower() in groups:
            found.setdefault(binding.tenant, []).append(binding)
    return {
        tenant: GroupRole(max(b.role for b in applied), tuple(sorted(b.group for b in applied)))
        for tenant, applied in found.items()
    }


def regrouped(groups: Iterable[str], bound: Mapping[str, Role]) -> GroupRole | None:
    """What a group-derived membership given by ``groups`` becomes once the tenant's
    bindings are ``bound`` (group -> role): the groups still bound and the highest of
    their roles; None when none is (the membership goes)."""
    left = tuple(sorted(g for g in groups if g in bound))
    if not left:
        return None
    return GroupRole(max(bound[g] for g in left), left)


def member_fields(role: Role, origin: str, groups: Iterable[str] = ()) -> dict[str, Any]:
    """A membership in an audit line: its role, plus its origin and groups when the
    groups gave it (a grant's line stays ``{"role": ...}``)."""
    if origin == GRANT:
        return {"role": role.label}
    return {"role": role.label, "origin": origin, "groups": list(groups)}


def same(membership: Membership | None, wanted: GroupRole) -> bool:
    """True when ``membership`` is already the group-derived one ``wanted`` describes."""
    return (
        membership is not None
        and membership.origin == GROUP
        and membership.role == wanted.role
        and membership.groups == wanted.groups
    )


__all__ = [
    "GRANT",
    "GROUP",
    "ORIGINS",
    "ORIGIN_LENGTH",
    "GroupRole",
    "member_fields",
    "regrouped",
    "same",
    "wanted_roles",
]
