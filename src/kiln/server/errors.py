"""Exceptions -> HTTP answers for the tracking server.

Every error leaves the server as MLflow's envelope ``{"error_code", "message"}``.
A ``KilnError`` keeps its class's ``error_code`` (``kiln.errors``) and gets the
status of the one table both servers share (``kiln.http_status``); anything else
is a bug in Kiln and becomes ``500 INTERNAL_ERROR`` with no traceback in the
body (it is logged instead). The MLflow client retries 500s, so a 4xx here is
always the right answer to bad input.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from kiln.errors import KilnError, Unauthenticated
from kiln.http_status import status_for
from kiln.server.responses import json_response
from kiln.server.startup import mask_secrets
from kiln.wire.errors import error_body

_log = logging.getLogger(__name__)


# Plain HTTP errors raised by routing (unknown path, wrong method).
_HTTP_CODES = {404: "ENDPOINT_NOT_FOUND", 405: "BAD_REQUEST"}
# What a 401 tells the client to send (RFC 9110): a password or a token.
WWW_AUTHENTICATE = 'Basic realm="kiln", Bearer'


def error_response(error_code: str, message: str, status: int) -> Response:
    return json_response({"error_code": error_code, "message": message}, status=status)


async def kiln_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KilnError)
    response = json_response(error_body(exc), status=status_for(exc))
    if isinstance(exc, Unauthenticated):
        response.headers["www-authenticate"] = WWW_AUTHENTICATE
    return response


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "BAD_REQUEST")
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return error_response(code, message, exc.status_code)


async def internal_error_handler(request: Request, exc: Exception) -> Response:
    # a session's secret is part of its path: never in the log
    _log.exception("unhandled error in %s %s", request.method, mask_secrets(request.url.path))
    return error_response(
        "INTERNAL_ERROR", "internal server error; see the server log for details", 500
    )


__all__ = [
    "WWW_AUTHENTICATE",
    "error_response",
    "http_error_handler",
    "internal_error_handler",
    "kiln_error_handler",
]
