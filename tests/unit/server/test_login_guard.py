"""The request guard lets ``POST /api/v1/login`` carry any Content-Type (``curl -d``)
while still refusing a browser's cross-site post to it (kiln.httpguard)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kiln.httpguard import CROSS_ORIGIN, RequestGuard, guarded

FORM = "application/x-www-form-urlencoded"


def _check(path: str, headers: dict[str, str]) -> tuple[int | None, bytes]:
    """(refusal status or None when the request goes on, the refusal body)."""
    guard = RequestGuard.for_server("127.0.0.1")
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [
            (k.lower().encode(), v.encode())
            for k, v in {"host": "127.0.0.1:5000", **headers}.items()
        ],
    }
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    passed = asyncio.run(guarded(guard, scope, receive, send))
    if passed is not None:
        return None, b""
    return sent[0]["status"], sent[1]["body"]


@pytest.mark.parametrize("content_type", [FORM, "text/plain", "application/json", None])
def test_login_takes_any_content_type(content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    assert _check("/api/v1/login", headers) == (None, b"")


@pytest.mark.parametrize("origin", ["http://127.0.0.1:5000", "http://localhost:3000"])
def test_login_from_a_loopback_page_goes_on(origin: str) -> None:
    assert _check("/api/v1/login", {"content-type": FORM, "origin": origin}) == (None, b"")


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "null", "http://127.0.0.1.evil.example"]
)
@pytest.mark.parametrize("content_type", ["text/plain", FORM, "application/json"])
def test_cross_site_login_post_is_refused(origin: str, content_type: str) -> None:
    status, body = _check("/api/v1/login", {"content-type": content_type, "origin": origin})
    assert status == 403
    assert CROSS_ORIGIN.encode() in body


@pytest.mark.parametrize(
    "path",
    ["/api/v1/login/", "/api/v1/login2", "/api/kiln/v1/tokens", "/api/2.0/mlflow/runs/create"],
)
def test_other_api_posts_still_need_json(path: str) -> None:
    status, body = _check(path, {"content-type": FORM})
    assert status == 400
    assert b"Content-Type must be one of ['application/json']" in body
