"""MLflow error envelopes <-> Kiln exceptions: the one table of error codes.

The server writes ``{"error_code": ..., "message": ...}`` from an exception's
``error_code``; the REST store reads an envelope back into the Kiln class that
callers catch (``except NotFound:``), never comparing codes themselves.

Some Kiln classes share an MLflow code (``Conflict`` and ``InvalidInput`` are
both ``INVALID_PARAMETER_VALUE``, as in MLflow). For those the envelope carries one
extra key, ``"kiln_error": "<class name>"``, so a Kiln client gets the exact class
back; MLflow clients ignore unknown keys (its own envelopes carry extras too).
"""

from __future__ import annotations

from typing import Any

from kiln.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    InvalidUri,
    KilnError,
    NotFound,
    PermissionDenied,
    StoreUnavailable,
    TooManyRequests,
    Unauthenticated,
)

# MLflow error_code (mlflow/protos/databricks.proto) -> the Kiln class it means.
ERROR_CODE_CLASSES: dict[str, type[KilnError]] = {
    "INVALID_PARAMETER_VALUE": InvalidInput,
    "BAD_REQUEST": InvalidInput,
    "MALFORMED_REQUEST": InvalidInput,
    "INVALID_STATE": InvalidInput,
    "RESOURCE_DOES_NOT_EXIST": NotFound,
    "NOT_FOUND": NotFound,
    "ENDPOINT_NOT_FOUND": NotFound,
    "RESOURCE_ALREADY_EXISTS": AlreadyExists,
    "ALREADY_EXISTS": AlreadyExists,
    "PERMISSION_DENIED": PermissionDenied,
    "UNAUTHENTICATED": Unauthenticated,
    "CUSTOMER_UNAUTHORIZED": Unauthenticated,
    "TEMPORARILY_UNAVAILABLE": StoreUnavailable,
    "INTERNAL_ERROR": StoreUnavailable,
}

# Classes a "kiln_error" key may name.
_CLASSES_BY_NAME: dict[str, type[KilnError]] = {
    cls.__name__: cls
    for cls in (
        AlreadyExists,
        Conflict,
        InvalidInput,
        InvalidUri,
        NotFound,
        PermissionDenied,
        StoreUnavailable,
        Unauthenticated,
    )
}

# HTTP status -> class, for answers that carry no MLflow envelope.
_STATUS_CLASSES: dict[int, type[KilnError]] = {
    400: InvalidInput,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    # REQUEST_LIMIT_EXCEEDED is also a too-large body's code (413): the status tells
    429: TooManyRequests,
}


def error_body(error: KilnError) -> dict[str, Any]:
    """The MLflow error envelope of an exception (plus ``kiln_error`` when ambiguous)."""
    body: dict[str, Any] = {"error_code": error.error_code, "message": error.message}
    if ERROR_CODE_CLASSES.get(error.error_code) is not type(error):
        name = type(error).__name__
        if name in _CLASSES_BY_NAME:
            body["kiln_error"] = name
    return body


def error_from_body(status: int, body: object, fallback_text: str = "") -> KilnError:
    """Rebuild the Kiln exception a server answered with.

    Args:
        status: the HTTP status of the answer.
        body: the decoded JSON body, or None when it was not JSON.
        fallback_text: the raw body, quoted in the message when there is no envelope.
    """
    if isinstance(body, dict) and isinstance(body.get("error_code"), str):
        code = body["error_code"]
        message = str(body.get("message", ""))
        cls = (
            _CLASSES_BY_NAME.get(str(body.get("kiln_error")))
            or ERROR_CODE_CLASSES.get(code)
            or _STATUS_CLASSES.get(status, StoreUnavailable)
        )
        return cls(message or code)
    cls = _STATUS_CLASSES.get(status, StoreUnavailable)
    return cls(f"server answered HTTP {status}: {fallback_text[:200]}")


__all__ = ["ERROR_CODE_CLASSES", "error_body", "error_from_body"]
