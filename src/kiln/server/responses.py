"""Reading MLflow-style requests and writing JSON answers.

A POST/PATCH body is a JSON object; a GET (or HEAD) carries the same fields as query
parameters, where repeated fields (``order_by``, ``run_ids``) may appear several
times (a GET without a query string may send a JSON body instead, as MLflow
allows). Malformed JSON, a non-object body or a body over ``MAX_JSON_BODY`` bytes
is ``InvalidInput`` (400), and so is JSON nested deeper than the parser allows or an
integer of more digits than Python converts (a ValueError or RecursionError would
otherwise be a 500, which the official client retries).

JSON goes through orjson; the standard library takes over for what orjson
refuses and ``json`` accepts (``NaN`` literals, integers beyond 64 bits), so
both read the same documents.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response

from kiln.entities import Page
from kiln.errors import InvalidInput
from kiln.wire.fields import MAX_JSON_DEPTH, JsonObject, nested_deeper_than, require_object

T = TypeVar("T")

JSON_MEDIA_TYPE = "application/json"
# The largest valid MLflow request (a full log-batch) is well under 2 MiB.
MAX_JSON_BODY = 16 * 1024 * 1024
# Python's default int-string conversion limit (sys.get_int_max_str_digits()).
MAX_INT_DIGITS = 4300
_TOO_DEEP = (
    f"JSON in the request body is nested too deeply; the limit is {MAX_JSON_DEPTH} levels "
    "of arrays and objects"
)


def encode_json(document: Any) -> bytes:
    """Compact JSON; NaN/Infinity must already be encoded as strings (``kiln.wire``)."""
    try:
        return orjson.dumps(document)
    except TypeError:  # e.g. an int beyond 64 bits: the standard library writes it
        return json.dumps(document, separators=(",", ":"), allow_nan=False).encode()


def _parse_int(text: str) -> int:
    """``json``'s integer hook: refuse, naming the limit, what ``int()`` would refuse
    with a bare ValueError (more digits than Python converts)."""
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise InvalidInput(
            f"an integer in the request body has {digits} digits; the limit is "
            f"{MAX_INT_DIGITS} (int64 fields hold at most 19)"
        )
    return int(text)


def decode_json(raw: bytes) -> JsonObject:
    """The JSON object in a request body.

    Raises:
        InvalidInput: malformed JSON, not an object, nested deeper than
            ``MAX_JSON_DEPTH`` levels, or an integer of more than ``MAX_INT_DIGITS``
            digits.
    """
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit"):  # orjson's own, at 1,024 levels
            raise InvalidInput(_TOO_DEEP) from None
        try:  # NaN literals and huge integers, which json accepts and orjson does not
            document = json.loads(raw, parse_int=_parse_int)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"malformed JSON in request body: {exc}") from None
        except RecursionError:  # json's C scanner recurses once per level
            raise InvalidInput(_TOO_DEEP) from None
    if nested_deeper_than(document, raw):
        raise InvalidInput(_TOO_DEEP)
    return require_object(document)


def json_response(document: Any, status: int = 200) -> Response:
    """A JSON answer (see ``encode_json``)."""
    return Response(encode_json(document), status_code=status, media_type=JSON_MEDIA_TYPE)


async def read_fields(request: Request, repeated: Collection[str] = ()) -> JsonObject:
    """The request's fields: the JSON body, or the query string of a GET.

    Args:
        request: the incoming request.
        repeated: names of repeated fields, read as lists from a query string.
    """
    params = request.query_params
    if request.method in ("GET", "HEAD") and params:
        return {k: params.getlist(k) if k in repeated else params[k] for k in params}
    raw = await read_limited(request)
    if not raw.strip():
        return {}
    return decode_json(raw)


async def read_limited(request: Request, limit: int = MAX_JSON_BODY) -> bytes:
    """The request's body, refused (400) as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidInput(f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def page_json(page: Page[T], key: str, to_json: Callable[[T], Any]) -> dict[str, Any]:
    """MLflow's answer for one page: ``key`` only when there are items,
    ``next_page_token`` only when more pages follow."""
    answer: dict[str, Any] = {}
    if page.items:
        answer[key] = [to_json(item) for item in page.items]
    if page.next_page_token:
        answer["next_page_token"] = page.next_page_token
    return answer


__all__ = [
    "JSON_MEDIA_TYPE",
    "MAX_INT_DIGITS",
    "MAX_JSON_BODY",
    "decode_json",
    "encode_json",
    "json_response",
    "page_json",
    "read_fields",
    "read_limited",
]
