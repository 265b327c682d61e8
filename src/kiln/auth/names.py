"""The names of tenants and users: checked once here, by every edge, before any store.

A tenant's name is MLflow 3's workspace name (``WorkspaceNameValidator``): it
appears in URLs and artifact paths (``workspaces/<tenant>/``), so it is a DNS
label, and the words MLflow's routes use are reserved. A user's name appears in
audit lines, tokens' listings and LDAP filters (escaped there too), so it is kept
to a small alphabet that needs no quoting anywhere.
"""

from __future__ import annotations

import re

from kiln.errors import InvalidInput

TENANT_PATTERN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
TENANT_MIN_LENGTH = 2
TENANT_MAX_LENGTH = 63
# MLflow's reserved workspace names (path segments of its own routes).
RESERVED_TENANTS = frozenset({"workspaces", "api", "ajax-api", "static-files"})

USER_PATTERN = re.compile(r"[A-Za-z0-9._@][A-Za-z0-9._@-]*")
USER_MAX_LENGTH = 64


def validate_tenant_name(name: object) -> str:
    """``name`` when it is a valid tenant (workspace) name; ``default`` is one.

    Raises: InvalidInput saying which rule the name breaks.
    """
    if not isinstance(name, str):
        raise InvalidInput(f"Workspace name must be a string, got {type(name).__name__}.")
    if not TENANT_MIN_LENGTH <= len(name) <= TENANT_MAX_LENGTH:
        raise InvalidInput(
            f"Workspace name {name!r} must be between {TENANT_MIN_LENGTH} and "
            f"{TENANT_MAX_LENGTH} characters."
        )
    # fullmatch: MLflow's re.match with '$' would let a trailing newline through
    if TENANT_PATTERN.fullmatch(name) is None:
        raise InvalidInput(
            f"Workspace name {name!r} must match the pattern {TENANT_PATTERN.pattern} "
            "(lowercase alphanumeric with optional internal hyphens)."
        )
    if name in RESERVED_TENANTS:
        raise InvalidInput(f"Workspace name {name!r} is reserved and cannot be used.")
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
