"""The transport the REST stores share: one server's MLflow REST API over ``httpx``.

Each store says which fields it drops before sending (the tracking and registry
clients of MLflow differ there); sending, decoding and turning error envelopes
into Kiln exceptions (``kiln.wire.errors``) happen here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from kiln.errors import StoreUnavailable
from kiln.wire.errors import error_from_body
from kiln.wire.fields import require_object

API_PREFIX = "/api/2.0/mlflow"
DEFAULT_TIMEOUT_S = 120.0


class RestClient:
    """Requests to the server at ``base_url``, on ``client`` or a new keep-alive one.

    ``label`` names the server in ``StoreUnavailable`` messages ("tracking server").
    """

    def __init__(
        self, base_url: str, client: httpx.Client | None, timeout: float, *, label: str
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = client or httpx.Client(base_url=self.base_url, timeout=timeout)
        self._label = label

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, endpoint: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """Send ``payload`` (query parameters for GET, a JSON body otherwise) to
        ``endpoint``; answer the decoded JSON object or raise its Kiln error."""
        url = API_PREFIX + endpoint
        try:
            if method == "GET":
                response = self._http.get(url, params=dict(payload))
            else:
                response = self._http.request(method, url, json=dict(payload))
        except httpx.HTTPError as exc:
            raise StoreUnavailable(
                f"{self._label} {self.base_url} could not be reached: {exc}"
            ) from exc
        try:
            body: object = response.json() if response.content else {}
        except ValueError:
            body = None
        if response.status_code != 200:
            raise error_from_body(response.status_code, body, response.text)
        if body is None:
            raise StoreUnavailable(
                f"{self._label} {self.base_url} answered {url} with a non-JSON body"
            )
        return require_object(body, f"answer of {url}")


__all__ = ["API_PREFIX", "DEFAULT_TIMEOUT_S", "RestClient"]
