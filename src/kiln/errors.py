"""The Kiln error tree.

Every failure a user can cause is one of these classes. Each carries the MLflow
``error_code`` that the REST API reports; the mapping to HTTP status and CLI exit
code lives at the edges (``kiln.server``, ``kiln.cli``), never here.

    KilnError
    ├── InvalidInput            bad argument, bad key, oversized value, bad filter
    │   └── InvalidUri          a URI no store understands
    ├── NotFound                missing experiment, run, model, artifact
    ├── AlreadyExists           name taken (experiment, registered model)
    ├── Conflict                write-once param changed, run not active
    ├── PermissionDenied        not allowed in this workspace
    ├── Unauthenticated         no or bad credentials
    └── StoreUnavailable        the backend could not be reached
"""

from __future__ import annotations


class KilnError(Exception):
    """Base of every error Kiln raises on purpose."""

    error_code: str = "INTERNAL_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(KilnError):
    """An argument is malformed, too long, or out of range."""

    error_code = "INVALID_PARAMETER_VALUE"


class InvalidUri(InvalidInput):
    """A tracking or artifact URI that no store understands."""


class NotFound(KilnError):
    """The named entity does not exist (in this workspace)."""

    error_code = "RESOURCE_DOES_NOT_EXIST"


class AlreadyExists(KilnError):
    """An entity with this unique name already exists."""

    error_code = "RESOURCE_ALREADY_EXISTS"


class Conflict(KilnError):
    """The request contradicts stored state, e.g. changing a logged param."""

    error_code = "INVALID_PARAMETER_VALUE"


class PermissionDenied(KilnError):
    """The caller may not do this."""

    error_code = "PERMISSION_DENIED"


class Unauthenticated(KilnError):
    """The caller did not prove who they are."""

    error_code = "UNAUTHENTICATED"


class StoreUnavailable(KilnError):
    """The storage backend could not be reached or answered unexpectedly."""

    error_code = "TEMPORARILY_UNAVAILABLE"


class CheckFailed(KilnError):
    """A lifecycle check Kiln ran end to end (an example, the demo) did not pass; the
    message says which step and why."""


__all__ = [
    "AlreadyExists",
    "CheckFailed",
    "Conflict",
    "InvalidInput",
    "InvalidUri",
    "KilnError",
    "NotFound",
    "PermissionDenied",
    "StoreUnavailable",
    "Unauthenticated",
]
