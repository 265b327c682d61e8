"""The transport the REST stores share: one server's MLflow REST API over ``httpx``.

Each store says which fields it drops before sending (the tracking and registry
clients of MLflow differ there); sending, decoding and turning error envelopes
into Kiln exceptions (``kiln.wire.errors``) happen here, once. So does adding
each request's credentials and workspace header (``kiln.store.credentials``),
asked of the credential source at every request, as MLflow's client reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from kiln.errors import StoreUnavailable
from kiln.store.credentials import CredentialSource, credentials_for
from kiln.wire.errors import error_from_body
from kiln.wire.fields import require_object

API_PREFIX = "/api/2.0/mlflow"
DEFAULT_TIMEOUT_S = 120.0


class RestClient:
    """Requests to the server at ``base_url``, on ``client`` or a new keep-alive one.

    ``label`` names the server in ``StoreUnavailable`` messages ("tracking server");
    ``credentials`` says what each request carries (None: the process's default source).
    """

    def __init__(
        self,
        base_url: str,
        client: httpx.Client | None,
        timeout: float,
        *,
        label: str,
        credentials: CredentialSource | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = client or httpx.Client(base_url=self.base_url, timeout=timeout)
        self._label = label
        self._credentials = credentials

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, endpoint: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """Send ``payload`` (query parameters for GET, a JSON body otherwise) to
        ``endpoint``; answer the decoded JSON object or raise its Kiln error."""
        if method == "GET":
            return self.request(method, API_PREFIX + endpoint, params=payload, ok=(200,))
        return self.request(method, API_PREFIX + endpoint, json=payload, ok=(200,))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> Mapping[str, Any]:
        """Send one request to ``path`` (below the base URL) with this client's
        credentials; answer the decoded JSON object (``{}`` for an empty body) of an
        answer whose status is in ``ok``, or raise the answer's Kiln error."""
        headers = credentials_for(self.base_url + path, self._credentials).headers(path)
        try:
            response = self._http.request(
                method,
                path,
                params=None if params is None else dict(params),
                json=None if json is None else dict(json),
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise StoreUnavailable(
                f"{self._label} {self.base_url} could not be reached: {exc}"
            ) from exc
        try:
            body: object = response.json() if response.content else {}
        except ValueError:
            body = None
        if response.status_code not in ok:
            raise error_from_body(response.status_code, body, response.text)
        if body is None:
            raise StoreUnavailable(
                f"{self._label} {self.base_url} answered {path} with a non-JSON body"
            )
        return require_object(body, f"answer of {path}")


__all__ = ["API_PREFIX", "DEFAULT_TIMEOUT_S", "RestClient"]
