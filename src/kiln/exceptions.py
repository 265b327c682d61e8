"""MLflow's exception names (``mlflow.exceptions``) over Kiln's error tree.

``import kiln as mlflow`` scripts write ``except mlflow.exceptions.MlflowException``
and ``raise MlflowException(msg, error_code=INVALID_PARAMETER_VALUE)``: the base is
``kiln.errors.KilnError`` itself, so it catches every error Kiln raises, and raising
it with a code gives the Kiln class of that code (``kiln.errors.KilnError``). The
subclass names MLflow exposes are aliases of the nearest Kiln class; as in Kiln
everywhere, catch classes, never compare codes. The code constants are MLflow's
numbers (``mlflow.protos.databricks_pb2``), which the constructor takes as MLflow's
does (names work too).

Deliberately left out: the tracing exceptions (``MlflowTracingException`` and its
subclasses; Kiln has no GenAI tracing) and MLflow's private multipart classes.
"""

from __future__ import annotations

from kiln.errors import MLFLOW_ERROR_CODES, InvalidUri, KilnError, NotFound
from kiln.http_status import status_for

MlflowException = KilnError
"""The base users catch: every error Kiln raises on purpose is one."""

RestException = KilnError
"""MLflow raises it for a non-2xx answer of a server; Kiln's REST stores raise the Kiln
class of the answer's ``error_code`` (``NotFound``, ``InvalidInput``, ...), all of which
this catches."""

MissingConfigException = NotFound
"""A configuration file or folder that is not there (an MLproject, a meta.yaml)."""

InvalidUrlException = InvalidUri
"""A URL no store or client understands."""

ExecutionException = KilnError
"""MLflow raises it when a project run fails; ``kiln.projects`` raises the class of the
cause (``SourceUnavailable``, ``EnvironmentUnavailable``, ...), all of which this catches."""

MlflowNotImplementedException = KilnError
"""A feature MLflow does not implement here; Kiln raises ``InvalidInput`` saying what
to use instead."""

ERROR_CODE_TO_HTTP_STATUS: dict[str, int] = {
    name: status_for(KilnError("", error_code=name)) for name in MLFLOW_ERROR_CODES
}
"""The status Kiln's servers answer each code with (MLflow's table, as Kiln answers it)."""

HTTP_STATUS_TO_ERROR_CODE: dict[int, str] = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
"""MLflow's code for an HTTP status a server answered (``mlflow.exceptions``'s table)."""


def get_error_code(http_status: int) -> int:
    """MLflow's error code number for ``http_status`` (INTERNAL_ERROR when unknown)."""
    return MLFLOW_ERROR_CODES[HTTP_STATUS_TO_ERROR_CODE.get(http_status, "INTERNAL_ERROR")]


INTERNAL_ERROR = MLFLOW_ERROR_CODES["INTERNAL_ERROR"]
TEMPORARILY_UNAVAILABLE = MLFLOW_ERROR_CODES["TEMPORARILY_UNAVAILABLE"]
BAD_REQUEST = MLFLOW_ERROR_CODES["BAD_REQUEST"]
DEADLINE_EXCEEDED = MLFLOW_ERROR_CODES["DEADLINE_EXCEEDED"]
CANCELLED = MLFLOW_ERROR_CODES["CANCELLED"]
RESOURCE_EXHAUSTED = MLFLOW_ERROR_CODES["RESOURCE_EXHAUSTED"]
ABORTED = MLFLOW_ERROR_CODES["ABORTED"]
NOT_FOUND = MLFLOW_ERROR_CODES["NOT_FOUND"]
ALREADY_EXISTS = MLFLOW_ERROR_CODES["ALREADY_EXISTS"]
UNAUTHENTICATED = MLFLOW_ERROR_CODES["UNAUTHENTICATED"]
INVALID_PARAMETER_VALUE = MLFLOW_ERROR_CODES["INVALID_PARAMETER_VALUE"]
ENDPOINT_NOT_FOUND = MLFLOW_ERROR_CODES["ENDPOINT_NOT_FOUND"]
INVALID_STATE = MLFLOW_ERROR_CODES["INVALID_STATE"]
PERMISSION_DENIED = MLFLOW_ERROR_CODES["PERMISSION_DENIED"]
CUSTOMER_UNAUTHORIZED = MLFLOW_ERROR_CODES["CUSTOMER_UNAUTHORIZED"]
REQUEST_LIMIT_EXCEEDED = MLFLOW_ERROR_CODES["REQUEST_LIMIT_EXCEEDED"]
RESOURCE_CONFLICT = MLFLOW_ERROR_CODES["RESOURCE_CONFLICT"]
NOT_IMPLEMENTED = MLFLOW_ERROR_CODES["NOT_IMPLEMENTED"]
DATA_LOSS = MLFLOW_ERROR_CODES["DATA_LOSS"]
RESOURCE_ALREADY_EXISTS = MLFLOW_ERROR_CODES["RESOURCE_ALREADY_EXISTS"]
RESOURCE_DOES_NOT_EXIST = MLFLOW_ERROR_CODES["RESOURCE_DOES_NOT_EXIST"]


__all__ = [
    "ABORTED",
    "ALREADY_EXISTS",
    "BAD_REQUEST",
    "CANCELLED",
    "CUSTOMER_UNAUTHORIZED",
    "DATA_LOSS",
    "DEADLINE_EXCEEDED",
    "ENDPOINT_NOT_FOUND",
    "ERROR_CODE_TO_HTTP_STATUS",
    "HTTP_STATUS_TO_ERROR_CODE",
    "INTERNAL_ERROR",
    "INVALID_PARAMETER_VALUE",
    "INVALID_STATE",
    "NOT_FOUND",
    "NOT_IMPLEMENTED",
    "PERMISSION_DENIED",
    "REQUEST_LIMIT_EXCEEDED",
    "RESOURCE_ALREADY_EXISTS",
    "RESOURCE_CONFLICT",
    "RESOURCE_DOES_NOT_EXIST",
    "RESOURCE_EXHAUSTED",
    "TEMPORARILY_UNAVAILABLE",
    "UNAUTHENTICATED",
    "ExecutionException",
    "InvalidUrlException",
    "MissingConfigException",
    "MlflowException",
    "MlflowNotImplementedException",
    "RestException",
    "get_error_code",
]
