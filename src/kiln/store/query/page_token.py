"""The one page-token codec, for every paged call.

A token is base64 of the JSON ``{"offset": N}`` (MLflow's format), plus, when the
caller passes a ``fingerprint`` of its query (filter, order, scope), those fields
beside the offset, so that a token handed back with a different query is refused
instead of paging through the wrong results. Run, experiment and registry searches,
logged-model search and the metric-history endpoint all page with it, so a bad token
gets the same ``InvalidInput`` (a 400) everywhere.

Decoding takes both base64 alphabets (``+/`` and the URL-safe ``-_``).
"""

from __future__ import annotations

import base64
import binascii
import json
import reprlib
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from kiln.errors import InvalidInput
from kiln.store.query.limits import MAX_PAGE_OFFSET
from kiln.wire.fields import nested_deeper_than

T = TypeVar("T")


def _bad(token: str, why: str = "pass back a next_page_token") -> InvalidInput:
    return InvalidInput(f"invalid page token {token[:40]!r}: {why}")


def encode_page_token(offset: int, fingerprint: Mapping[str, Any] | None = None) -> str:
    """The token for ``offset`` (and the query ``fingerprint``, if any)."""
    document = {"offset": offset, **(fingerprint or {})}
    return base64.b64encode(json.dumps(document, sort_keys=True).encode()).decode("ascii")


def _document(token: str) -> Any:
    try:
        raw = base64.b64decode(token, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise _bad(token) from None
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and the int digit limit
        document = None
    if document is None or nested_deeper_than(document, raw):
        raise _bad(token)
    return document


def decode_page_token(token: str | None, fingerprint: Mapping[str, Any] | None = None) -> int:
    """The offset a token carries; None or "" is offset 0.

    Raises:
        InvalidInput: the token was not made by ``encode_page_token``, its offset is
            negative or past ``MAX_PAGE_OFFSET``, or (with a ``fingerprint``) it was
            made for a different query.
    """
    if not token:
        return 0
    if not isinstance(token, str):
        raise InvalidInput(f"page token must be a string, got {type(token).__name__}")
    document = _document(token)
    offset = document.get("offset") if isinstance(document, dict) else None
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise _bad(token, f"bad offset {reprlib.repr(offset)}; pass back a next_page_token")
    if offset > MAX_PAGE_OFFSET:
        raise _bad(token, f"its offset is above the limit of {MAX_PAGE_OFFSET}")
    if fingerprint is not None:
        document.pop("offset")
        if document != json.loads(json.dumps(dict(fingerprint))):
            names = sorted(fingerprint)
            changed = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
            raise InvalidInput(f"the page token belongs to a different search ({changed} changed)")
    return offset


def paginate(
    items: Sequence[T],
    page_token: str | None,
    max_results: int,
    fingerprint: Mapping[str, Any] | None = None,
) -> tuple[list[T], str | None]:
    """One page of fully sorted ``items``: (page, next token or None).

    ``max_results`` must already be checked against the caller's limit.
    """
    start = decode_page_token(page_token, fingerprint)
    end = start + max_results
    next_token = encode_page_token(end, fingerprint) if end < len(items) else None
    return list(items[start:end]), next_token


__all__ = ["decode_page_token", "encode_page_token", "paginate"]
