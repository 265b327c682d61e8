"""The names of tenants and users: checked once here, by every edge, before any store.

A tenant's name is MLflow 3's workspace name (``WorkspaceNameValidator``): it
appears in URLs and artifact paths (``workspaces/<tenant>/``), so it is a DNS
label, and the words MLflow's routes use are reserved. A user's name appears in
audit lines, tokens' listings and LDAP filters (escaped there too), so it is kept
to a small alphabet that needs no quoting anywhere.
"""

from __future__ import annotations

import re

from kiln.entities.workspace import (
    RESERVED_WORKSPACE_NAMES,
    WORKSPACE_NAME_MAX_LENGTH,
    WORKSPACE_NAME_MIN_LENGTH,
    WORKSPACE_NAME_PATTERN,
    workspace_name_problem,
)
from kiln.errors import InvalidInput

# The tenant rule is MLflow's workspace rule, kept in kiln.entities.workspace so
# that kiln.tracking (which may not import kiln.auth) checks the same one.
TENANT_PATTERN = WORKSPACE_NAME_PATTERN
TENANT_MIN_LENGTH = WORKSPACE_NAME_MIN_LENGTH
TENANT_MAX_LENGTH = WORKSPACE_NAME_MAX_LENGTH
RESERVED_TENANTS = RESERVED_WORKSPACE_NAMES

USER_PATTERN = re.compile(r"[A-Za-z0-9._@][A-Za-z0-9._@-]*")
USER_MAX_LENGTH = 64


def validate_tenant_name(name: object) -> str:
    """``name`` when it is a valid tenant (workspace) name; ``default`` is one.

    Raises: InvalidInput saying which rule the name breaks.
    """
    problem = workspace_name_problem(name)
    if problem is not None:
        raise InvalidInput(problem)
    assert isinstance(name, str)
    return name


def validate_user_name(name: object) -> str:
    """``name`` when it is a valid user name: 1..64 of ``A-Z a-z 0-9 . _ @ -``, not
    starting with ``-`` (it would read as an option on a command line).

    Raises: InvalidInput saying which rule the name breaks.
    """
    if not isinstance(name, str):
        raise InvalidInput(f"User name must be a string, got {type(name).__name__}.")
    if not 1 <= len(name) <= USER_MAX_LENGTH:
        raise InvalidInput(
            f"User name {name!r} must be between 1 and {USER_MAX_LENGTH} characters."
        )
    if USER_PATTERN.fullmatch(name) is None:
        raise InvalidInput(
            f"User name {name!r} may only hold letters, digits, '.', '_', '@' and '-' (not first)."
        )
    return name


__all__ = [
    "RESERVED_TENANTS",
    "TENANT_MAX_LENGTH",
    "TENANT_MIN_LENGTH",
    "USER_MAX_LENGTH",
    "validate_tenant_name",
    "validate_user_name",
]
