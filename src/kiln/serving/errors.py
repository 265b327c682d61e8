"""Why a scoring request was refused, each class with its HTTP status.

The scoring routes answer these as MLflow does (``{"error_code", "message"}``) and
the V2 routes as the Open Inference Protocol does (``{"error": message}``); the
server never answers 500 for a request it could describe.

    ScoringError
     ├── BadInput              400 BAD_REQUEST: malformed body, wrong column/field
     ├── PredictionFailed      400 BAD_REQUEST: the model raised; carries its message
     ├── Unauthorized          401 UNAUTHENTICATED
     ├── UnknownModel          404 RESOURCE_DOES_NOT_EXIST (V2 routes)
     ├── BodyTooLarge          413 REQUEST_LIMIT_EXCEEDED
     ├── UnsupportedMediaType  415 BAD_REQUEST: missing or unsupported Content-Type
     └── Overloaded            503 TEMPORARILY_UNAVAILABLE: the body budget is in use
"""

from __future__ import annotations


class ScoringError(Exception):
    """A request the scoring server refuses; ``str(error)`` is the message sent back."""

    status: int = 400
    error_code: str = "BAD_REQUEST"


class BadInput(ScoringError):
    """The body could not be read as model input."""


class PredictionFailed(ScoringError):
    """The model raised while predicting."""


class Unauthorized(ScoringError):
    """A scoring route was called without the server's bearer token."""

    status = 401
    error_code = "UNAUTHENTICATED"


class UnknownModel(ScoringError):
    """A V2 route named a model or version this server does not serve."""

    status = 404
    error_code = "RESOURCE_DOES_NOT_EXIST"


class BodyTooLarge(ScoringError):
    """The request body is over the configured limit."""

    status = 413
    error_code = "REQUEST_LIMIT_EXCEEDED"


class UnsupportedMediaType(ScoringError):
    """The Content-Type is missing or not one the server reads."""

    status = 415


class Overloaded(ScoringError):
    """Large bodies in flight hold the process's body budget; answered with Retry-After."""

    status = 503
    error_code = "TEMPORARILY_UNAVAILABLE"


__all__ = [
    "Overloaded",
    "BadInput",
    "BodyTooLarge",
    "PredictionFailed",
    "ScoringError",
    "Unauthorized",
    "UnknownModel",
    "UnsupportedMediaType",
]
