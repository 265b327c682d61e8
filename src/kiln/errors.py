"""The Kiln error tree: every error Kiln raises on purpose, scoring errors included.

Each class carries ``error_code``, MLflow's code, which both servers send in the
JSON body (it is part of the wire contract, so it stays with the class). What the
edges answer for a class is theirs, in one table each: the HTTP status in
``kiln.http_status`` (``STATUS_BY_CLASS``, read by the tracking and the scoring
server) and the exit code and hint in ``kiln.cli.errors`` (``ERROR_TABLE``). A new
class goes here, its status into the HTTP table, its exit code and hint into the
CLI table. Subclasses inherit their base's code (and, in both tables, its row)
unless they say otherwise. Callers catch classes (``except NotFound:``), never
compare codes.

    KilnError                   INTERNAL_ERROR
    ├── InvalidInput            INVALID_PARAMETER_VALUE  bad argument, key, filter
    │   ├── InvalidUri                                   a URI no store understands
    │   ├── NotReproducible                              a run that cannot be re-run
    │   ├── BadInput            BAD_REQUEST              a scoring body, unreadable
    │   ├── UnsupportedMediaType BAD_REQUEST             a Content-Type not read
    │   └── BodyTooLarge        REQUEST_LIMIT_EXCEEDED   a body over the limit
    ├── NotFound                RESOURCE_DOES_NOT_EXIST  missing entity or artifact
    │   └── UnknownModel                                 not the model served here
    ├── AlreadyExists           RESOURCE_ALREADY_EXISTS  name taken
    ├── Conflict                INVALID_PARAMETER_VALUE  contradicts stored state
    │   └── DataChanged                                  a dataset digest differs
    ├── PermissionDenied        PERMISSION_DENIED
    ├── Unauthenticated         UNAUTHENTICATED          no or bad credentials/token
    ├── TooManyRequests         REQUEST_LIMIT_EXCEEDED   throttled (failed logins)
    ├── StoreUnavailable        TEMPORARILY_UNAVAILABLE  backend not reachable
    │   └── DriverMissing                                database driver missing
    ├── Overloaded              TEMPORARILY_UNAVAILABLE  scoring body budget in use
    ├── PredictionFailed        BAD_REQUEST              the model raised
    ├── ModelValidationFailed   BAD_REQUEST              a candidate missed a threshold
    ├── SourceUnavailable       INVALID_PARAMETER_VALUE  git clone/checkout failed
    ├── EnvironmentUnavailable  INVALID_PARAMETER_VALUE  env cannot be made here
    │   └── EnvironmentBuildFailed                       uv or pip failed
    └── CheckFailed             INTERNAL_ERROR           an end-to-end check failed
        ├── AnswerMismatch, ExampleFailed, ServingFailed, DemoFailed
        └── RequirementsMissing                          examples need modules

``BadInput`` and ``InvalidInput`` differ only in their code: MLflow's scoring
server answers unreadable model input with ``BAD_REQUEST``, its tracking server a
bad argument with ``INVALID_PARAMETER_VALUE``; Kiln keeps both answers as they are.
"""

from __future__ import annotations

import json
from typing import Any


class KilnError(Exception):
    """Base of every error Kiln raises on purpose; ``str(error)`` is its message.

    It is also ``kiln.exceptions.MlflowException``, so it takes MLflow's constructor:
    ``KilnError(message, error_code=..., **json_kwargs)``, the code as MLflow's name
    or number. ``KilnError`` itself given a code with a class here answers an
    instance of that class (``RESOURCE_DOES_NOT_EXIST`` -> ``NotFound``), so what a
    script raises is caught, and answered by the servers, like Kiln's own errors.
    """

    error_code: str = "INTERNAL_ERROR"

    def __new__(cls, message: str = "", error_code: int | str | None = None, **kwargs: Any) -> Any:
        target = cls
        if cls is KilnError and error_code is not None:
            target = _CLASS_BY_CODE.get(_code_name(error_code), cls)
        return super().__new__(target, message)

    def __init__(
        self, message: str = "", error_code: int | str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message)
        self.message = str(message)
        if error_code is not None:
            self.error_code = _code_name(error_code)
        self.json_kwargs = kwargs

    def serialize_as_json(self) -> str:
        """The JSON body MLflow's servers answer this error with."""
        return json.dumps(
            {"error_code": self.error_code, "message": self.message, **self.json_kwargs}
        )

    def get_http_status_code(self) -> int:
        """The HTTP status Kiln's servers answer this error with (``kiln.http_status``)."""
        from kiln.http_status import status_for

        return status_for(self)

    @classmethod
    def invalid_parameter_value(cls, message: str, **kwargs: Any) -> KilnError:
        """MLflow's shorthand for a bad argument: an ``InvalidInput``."""
        return InvalidInput(message, **kwargs)


# --- the argument or the request is wrong ---------------------------------------------


class InvalidInput(KilnError):
    """An argument is malformed, too long, or out of range."""

    error_code = "INVALID_PARAMETER_VALUE"


class InvalidUri(InvalidInput):
    """A tracking or artifact URI that no store understands."""


class NotReproducible(InvalidInput):
    """The run cannot be reproduced as asked (not a project run, no commit, dirty)."""


class BadInput(InvalidInput):
    """A scoring request's body could not be read as model input."""

    error_code = "BAD_REQUEST"


class UnsupportedMediaType(InvalidInput):
    """A scoring request's Content-Type is missing or not one the server reads."""

    error_code = "BAD_REQUEST"


class BodyTooLarge(InvalidInput):
    """A scoring request's body is over the configured limit."""

    error_code = "REQUEST_LIMIT_EXCEEDED"


# --- the named thing is missing, taken, or in the way -----------------------------------


class NotFound(KilnError):
    """The named entity does not exist (in this workspace)."""

    error_code = "RESOURCE_DOES_NOT_EXIST"


class UnknownModel(NotFound):
    """A scoring V2 route named a model or version this server does not serve."""


class AlreadyExists(KilnError):
    """An entity with this unique name already exists."""

    error_code = "RESOURCE_ALREADY_EXISTS"


class Conflict(KilnError):
    """The request contradicts stored state, e.g. changing a logged param."""

    error_code = "INVALID_PARAMETER_VALUE"


class DataChanged(Conflict):
    """The data behind a recorded dataset digest is different now, or gone."""


# --- who is asking ----------------------------------------------------------------------


class PermissionDenied(KilnError):
    """The caller may not do this."""

    error_code = "PERMISSION_DENIED"


class Unauthenticated(KilnError):
    """The caller did not prove who they are (credentials, or the scoring bearer token);
    the scoring server adds ``WWW-Authenticate: Bearer``."""

    error_code = "UNAUTHENTICATED"


class TooManyRequests(KilnError):
    """The caller is being slowed down (too many failed logins of one user in the
    window); MLflow answers ``REQUEST_LIMIT_EXCEEDED`` with 429."""

    error_code = "REQUEST_LIMIT_EXCEEDED"


# --- something Kiln needs is not there or busy ------------------------------------------


class StoreUnavailable(KilnError):
    """The storage backend could not be reached or answered unexpectedly."""

    error_code = "TEMPORARILY_UNAVAILABLE"


class DriverMissing(StoreUnavailable):
    """The database driver of a URI is not installed (an extra of ``kiln-mlops``)."""


class Overloaded(KilnError):
    """Large scoring bodies in flight hold the process's body budget; the scoring server
    adds ``Retry-After``."""

    error_code = "TEMPORARILY_UNAVAILABLE"


# --- the model raised while scoring -----------------------------------------------------


class PredictionFailed(KilnError):
    """The model raised while predicting; carries its message (and, for a ``KilnError``
    the model raised, that error's code)."""

    error_code = "BAD_REQUEST"


class ModelValidationFailed(KilnError):
    """A candidate model's evaluation missed a ``MetricThreshold``
    (``validate_evaluation_results``); the message names each failed check with the
    candidate's value and the threshold or baseline. MLflow's name for it is
    ``ModelValidationFailedException``."""

    error_code = "BAD_REQUEST"


# --- a project cannot be fetched or its environment made --------------------------------


class SourceUnavailable(KilnError):
    """git is missing, or could not clone or check out what was asked for."""

    error_code = "INVALID_PARAMETER_VALUE"


class EnvironmentUnavailable(KilnError):
    """The environment a project asks for cannot be made on this machine.

    Conda-only packages (there is no conda here), a Docker image (no engine), a
    Python version that is not installed. The message says what to do instead.
    """

    error_code = "INVALID_PARAMETER_VALUE"


class EnvironmentBuildFailed(EnvironmentUnavailable):
    """uv or pip failed while building an environment (bad pin, no such package, ...).

    The message carries the tail of the tool's output.
    """


# --- an end-to-end check Kiln ran did not pass ------------------------------------------


class CheckFailed(KilnError):
    """A lifecycle check Kiln ran end to end (an example, the demo) did not pass; the
    message says which step and why."""


class AnswerMismatch(CheckFailed):
    """A scoring answer did not have the expected status, shape or values."""


class ExampleFailed(CheckFailed):
    """A step of an example's lifecycle failed; the message says which and why."""


class ServingFailed(CheckFailed):
    """The scoring process exited or did not become healthy in time."""


class DemoFailed(CheckFailed):
    """A step of the demo failed; the message says which and why."""


class RequirementsMissing(CheckFailed):
    """Examples named in ``--only`` need modules this Python lacks (checked before any runs)."""


# MLflow's numeric error codes (mlflow.protos.databricks_pb2.ErrorCode) by name.
MLFLOW_ERROR_CODES: dict[str, int] = {
    "INTERNAL_ERROR": 1,
    "TEMPORARILY_UNAVAILABLE": 2,
    "BAD_REQUEST": 4,
    "DEADLINE_EXCEEDED": 7,
    "CANCELLED": 8,
    "RESOURCE_EXHAUSTED": 9,
    "ABORTED": 10,
    "NOT_FOUND": 11,
    "ALREADY_EXISTS": 12,
    "UNAUTHENTICATED": 13,
    "INVALID_PARAMETER_VALUE": 1000,
    "ENDPOINT_NOT_FOUND": 1001,
    "INVALID_STATE": 1003,
    "PERMISSION_DENIED": 1004,
    "CUSTOMER_UNAUTHORIZED": 1006,
    "REQUEST_LIMIT_EXCEEDED": 1007,
    "RESOURCE_CONFLICT": 1008,
    "NOT_IMPLEMENTED": 1010,
    "DATA_LOSS": 1011,
    "RESOURCE_ALREADY_EXISTS": 3001,
    "RESOURCE_DOES_NOT_EXIST": 3002,
}
_NAME_BY_NUMBER = {number: name for name, number in MLFLOW_ERROR_CODES.items()}

# The class ``KilnError(message, error_code=...)`` answers for a code (see KilnError).
_CLASS_BY_CODE: dict[str, type[KilnError]] = {
    "INVALID_PARAMETER_VALUE": InvalidInput,
    "BAD_REQUEST": BadInput,
    "RESOURCE_DOES_NOT_EXIST": NotFound,
    "NOT_FOUND": NotFound,
    "ENDPOINT_NOT_FOUND": NotFound,
    "RESOURCE_ALREADY_EXISTS": AlreadyExists,
    "ALREADY_EXISTS": AlreadyExists,
    "PERMISSION_DENIED": PermissionDenied,
    "UNAUTHENTICATED": Unauthenticated,
    "REQUEST_LIMIT_EXCEEDED": TooManyRequests,
    "TEMPORARILY_UNAVAILABLE": StoreUnavailable,
}


def _code_name(code: int | str) -> str:
    """MLflow's code name for a name or number; INTERNAL_ERROR for anything unknown (as
    MLflow does)."""
    if isinstance(code, str) and code in MLFLOW_ERROR_CODES:
        return code
    if isinstance(code, int) and not isinstance(code, bool):
        return _NAME_BY_NUMBER.get(code, "INTERNAL_ERROR")
    return "INTERNAL_ERROR"


__all__ = [
    "AlreadyExists",
    "AnswerMismatch",
    "BadInput",
    "BodyTooLarge",
    "CheckFailed",
    "Conflict",
    "DataChanged",
    "DemoFailed",
    "DriverMissing",
    "EnvironmentBuildFailed",
    "EnvironmentUnavailable",
    "ExampleFailed",
    "InvalidInput",
    "InvalidUri",
    "KilnError",
    "ModelValidationFailed",
    "NotFound",
    "NotReproducible",
    "Overloaded",
    "PermissionDenied",
    "PredictionFailed",
    "RequirementsMissing",
    "ServingFailed",
    "SourceUnavailable",
    "StoreUnavailable",
    "TooManyRequests",
    "Unauthenticated",
    "UnknownModel",
    "UnsupportedMediaType",
]
