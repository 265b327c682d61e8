"""The Kiln error tree: every error Kiln raises on purpose, scoring errors included.

Each class carries, as class attributes, the three answers the edges give for it:
``error_code`` (MLflow's code, in the JSON body of both servers), ``http_status``
(the tracking and the scoring server's status) and ``exit_code`` (the CLI's).
The edges read them from the exception (``kiln.server.errors``,
``kiln.serving.app``, ``kiln.cli.errors``); none keeps a status or exit-code table
of its own (the CLI adds only its hint texts), so a new class is mapped everywhere
by writing it here. Subclasses inherit their base's answers unless they say
otherwise.

    KilnError                   500 INTERNAL_ERROR           exit 1
    ├── InvalidInput            400 INVALID_PARAMETER_VALUE  exit 2  bad argument, key, filter
    │   ├── InvalidUri                                               a URI no store understands
    │   ├── NotReproducible                                          a run that cannot be re-run
    │   ├── BadInput            400 BAD_REQUEST                      a scoring body, unreadable
    │   ├── UnsupportedMediaType 415 BAD_REQUEST                     a Content-Type not read
    │   └── BodyTooLarge        413 REQUEST_LIMIT_EXCEEDED           a body over the limit
    ├── NotFound                404 RESOURCE_DOES_NOT_EXIST  exit 3  missing entity or artifact
    │   └── UnknownModel                                             not the model served here
    ├── AlreadyExists           400 RESOURCE_ALREADY_EXISTS  exit 4  name taken
    ├── Conflict                400 INVALID_PARAMETER_VALUE  exit 4  contradicts stored state
    │   └── DataChanged                                              a dataset digest differs
    ├── PermissionDenied        403 PERMISSION_DENIED        exit 5
    ├── Unauthenticated         401 UNAUTHENTICATED          exit 5  no or bad credentials/token
    ├── StoreUnavailable        503 TEMPORARILY_UNAVAILABLE  exit 6  backend not reachable
    │   └── DriverMissing                                            database driver missing
    ├── Overloaded              503 TEMPORARILY_UNAVAILABLE  exit 6  scoring body budget in use
    ├── PredictionFailed        400 BAD_REQUEST              exit 1  the model raised
    ├── SourceUnavailable       400 INVALID_PARAMETER_VALUE  exit 7  git clone/checkout failed
    ├── EnvironmentUnavailable  400 INVALID_PARAMETER_VALUE  exit 7  env cannot be made here
    │   └── EnvironmentBuildFailed                                   uv or pip failed
    └── CheckFailed             500 INTERNAL_ERROR           exit 1  an end-to-end check failed
        ├── AnswerMismatch, ExampleFailed, ServingFailed, DemoFailed
        └── RequirementsMissing                                      examples need modules

``BadInput`` and ``InvalidInput`` differ only in their code: MLflow's scoring
server answers unreadable model input with ``BAD_REQUEST``, its tracking server a
bad argument with ``INVALID_PARAMETER_VALUE``; Kiln keeps both answers as they are.
The project errors' 400 is never sent today (the tracking server sits below
``kiln.projects`` and cannot raise them); it is the status their code means.
"""

from __future__ import annotations


class KilnError(Exception):
    """Base of every error Kiln raises on purpose; ``str(error)`` is its message."""

    error_code: str = "INTERNAL_ERROR"
    http_status: int = 500
    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- the argument or the request is wrong: 400-class, exit 2 ---------------------------


class InvalidInput(KilnError):
    """An argument is malformed, too long, or out of range."""

    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400
    exit_code = 2


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
    http_status = 415


class BodyTooLarge(InvalidInput):
    """A scoring request's body is over the configured limit."""

    error_code = "REQUEST_LIMIT_EXCEEDED"
    http_status = 413


# --- the named thing is missing, taken, or in the way: 404/400, exit 3/4 -----------------


class NotFound(KilnError):
    """The named entity does not exist (in this workspace)."""

    error_code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404
    exit_code = 3


class UnknownModel(NotFound):
    """A scoring V2 route named a model or version this server does not serve."""


class AlreadyExists(KilnError):
    """An entity with this unique name already exists."""

    error_code = "RESOURCE_ALREADY_EXISTS"
    http_status = 400  # MLflow answers RESOURCE_ALREADY_EXISTS with 400
    exit_code = 4


class Conflict(KilnError):
    """The request contradicts stored state, e.g. changing a logged param."""

    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400
    exit_code = 4


class DataChanged(Conflict):
    """The data behind a recorded dataset digest is different now, or gone."""


# --- who is asking: 401/403, exit 5 -----------------------------------------------------


class PermissionDenied(KilnError):
    """The caller may not do this."""

    error_code = "PERMISSION_DENIED"
    http_status = 403
    exit_code = 5


class Unauthenticated(KilnError):
    """The caller did not prove who they are (credentials, or the scoring bearer token);
    the scoring server adds ``WWW-Authenticate: Bearer``."""

    error_code = "UNAUTHENTICATED"
    http_status = 401
    exit_code = 5


# --- something Kiln needs is not there or busy: 503, exit 6 ------------------------------


class StoreUnavailable(KilnError):
    """The storage backend could not be reached or answered unexpectedly."""

    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503
    exit_code = 6


class DriverMissing(StoreUnavailable):
    """The database driver of a URI is not installed (an extra of ``kiln-mlops``)."""


class Overloaded(KilnError):
    """Large scoring bodies in flight hold the process's body budget; the scoring server
    adds ``Retry-After``."""

    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503
    exit_code = 6


# --- the model raised while scoring: 400 as MLflow's scoring server ----------------------


class PredictionFailed(KilnError):
    """The model raised while predicting; carries its message (and, for a ``KilnError``
    the model raised, that error's code)."""

    error_code = "BAD_REQUEST"
    http_status = 400


# --- a project cannot be fetched or its environment made: exit 7 -------------------------


class SourceUnavailable(KilnError):
    """git is missing, or could not clone or check out what was asked for."""

    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400
    exit_code = 7


class EnvironmentUnavailable(KilnError):
    """The environment a project asks for cannot be made on this machine.

    Conda-only packages (there is no conda here), a Docker image (no engine), a
    Python version that is not installed. The message says what to do instead.
    """

    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400
    exit_code = 7


class EnvironmentBuildFailed(EnvironmentUnavailable):
    """uv or pip failed while building an environment (bad pin, no such package, ...).

    The message carries the tail of the tool's output.
    """


# --- an end-to-end check Kiln ran did not pass: exit 1 -----------------------------------


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
    "NotFound",
    "NotReproducible",
    "Overloaded",
    "PermissionDenied",
    "PredictionFailed",
    "RequirementsMissing",
    "ServingFailed",
    "SourceUnavailable",
    "StoreUnavailable",
    "Unauthenticated",
    "UnknownModel",
    "UnsupportedMediaType",
]
