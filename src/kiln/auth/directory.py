"""An external directory of users (LDAP / Active Directory): the interface the
auth service asks, so the service never imports ``ldap3`` (``kiln.auth.ldap``
implements it, behind the ``kiln-mlops[ldap]`` extra)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A user the directory vouched for, with the groups it belongs to (their DNs
    and cns, lower-cased, so a binding may name either)."""

    name: str
    dn: str
    groups: frozenset[str] = frozenset()


@runtime_checkable
class Directory(Protocol):
    def authenticate(self, name: str, password: str) -> DirectoryUser | None:
        """The user when ``password`` binds as ``name``; None when it does not (an
        unknown name, a wrong or empty password). Raises ``StoreUnavailable`` when
        the directory cannot be reached."""
        ...


__all__ = ["Directory", "DirectoryUser"]
