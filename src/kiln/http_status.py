"""The one table from Kiln errors to HTTP statuses, read by both HTTP edges.

The tracking server (``kiln.server.errors``, ``kiln.server.fastlane``) and the
scoring server (``kiln.serving.app``) answer a ``KilnError`` with the status
below and the class's ``error_code`` (written on the class in ``kiln.errors``:
MLflow's code is part of the wire contract). Both servers give every class the
same status, so there is one table; it lives beside ``kiln.errors`` and not in
``kiln.server`` because the scoring server must not import the tracking server.

A class is looked up along its MRO, most specific first, so a subclass not named
here answers as its nearest named base; a class with no named base (``KilnError``
itself, ``CheckFailed`` and its subclasses, which no server raises) is a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from kiln.errors import (
    AlreadyExists,
    BodyTooLarge,
    Conflict,
    EnvironmentUnavailable,
    InvalidInput,
    KilnError,
    ModelValidationFailed,
    NotFound,
    Overloaded,
    PermissionDenied,
    PredictionFailed,
    SourceUnavailable,
    StoreUnavailable,
    TooManyRequests,
    Unauthenticated,
    UnsupportedMediaType,
)

UNMAPPED_STATUS = 500
"""The status of a ``KilnError`` whose class has no row (nor any base with one)."""

STATUS_BY_CLASS: Mapping[type[KilnError], int] = MappingProxyType(
    {
        InvalidInput: 400,  # BadInput, InvalidUri, NotReproducible too
        UnsupportedMediaType: 415,
        BodyTooLarge: 413,
        NotFound: 404,  # UnknownModel too
        AlreadyExists: 400,  # MLflow answers RESOURCE_ALREADY_EXISTS with 400
        Conflict: 400,  # DataChanged too
        PermissionDenied: 403,
        Unauthenticated: 401,  # the scoring server adds WWW-Authenticate: Bearer
        TooManyRequests: 429,  # MLflow's status for REQUEST_LIMIT_EXCEEDED
        StoreUnavailable: 503,  # DriverMissing too
        Overloaded: 503,  # the scoring server adds Retry-After
        PredictionFailed: 400,  # MLflow's scoring server answers a raising model with 400
        ModelValidationFailed: 400,  # its BAD_REQUEST code
        # Never sent today (the tracking server sits below kiln.projects); the status
        # their INVALID_PARAMETER_VALUE code means.
        SourceUnavailable: 400,
        EnvironmentUnavailable: 400,  # EnvironmentBuildFailed too
    }
)


def status_for(error: KilnError) -> int:
    """The HTTP status both servers answer ``error`` with.

    Args:
        error: any ``KilnError``.

    Returns:
        The row of the most specific class in ``type(error).__mro__`` that has one;
        ``UNMAPPED_STATUS`` (500) when none has.
    """
    for cls in type(error).__mro__:
        status = STATUS_BY_CLASS.get(cls)
        if status is not None:
            return status
    return UNMAPPED_STATUS


__all__ = ["STATUS_BY_CLASS", "UNMAPPED_STATUS", "status_for"]
