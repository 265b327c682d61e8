"""Roles -> actions: the one table that says who may do what in a tenant.

* viewer reads;
* member also logs, uploads, registers and sets aliases that are not protected;
* project-admin also deletes and restores, manages the tenant's members, moves
  protected aliases (``champion``, ``production`` ...) and reads the audit log;
* a global admin may do everything in every tenant, and manage tenants and users.
"""

from __future__ import annotations

import enum

from kiln.entities.auth import Role


class Action(enum.Enum):
    """What a request does, as a route's policy declares it."""

    READ = "read"
    WRITE = "write"
    DELETE = "delete"  # deletes and restores
    MANAGE = "manage"  # members, protected aliases and stages, the tenant's audit log
    ADMIN = "admin"  # tenants and users: global admins only


# The lowest tenant role allowed each action; ADMIN is no tenant role's.
REQUIRED_ROLE: dict[Action, Role | None] = {
    Action.READ: Role.VIEWER,
    Action.WRITE: Role.MEMBER,
    Action.DELETE: Role.PROJECT_ADMIN,
    Action.MANAGE: Role.PROJECT_ADMIN,
    Action.ADMIN: None,
}

# Aliases only a project-admin may set or remove (case-insensitive), as stages:
# moving one changes what production serves.
PROTECTED_ALIASES = frozenset({"champion", "production", "prod"})
# Stages only a project-admin may move a version into or out of.
PROTECTED_STAGES = frozenset({"production"})


def role_allows(role: Role | None, action: Action, *, is_admin: bool = False) -> bool:
    """Whether ``role`` in a tenant (None: no role there) allows ``action``."""
    if is_admin:
        return True
    required = REQUIRED_ROLE[action]
    return role is not None and required is not None and role >= required


def is_protected_alias(alias: str) -> bool:
    return alias.strip().lower() in PROTECTED_ALIASES


def is_protected_stage(stage: str) -> bool:
    return stage.strip().lower() in PROTECTED_STAGES


__all__ = [
    "PROTECTED_ALIASES",
    "PROTECTED_STAGES",
    "REQUIRED_ROLE",
    "Action",
    "is_protected_alias",
    "is_protected_stage",
    "role_allows",
]
