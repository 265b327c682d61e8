"""What opening an artifact store needs besides its URI, decided by the caller.

The store layer reads no configuration: the edge (the CLI, the server, the fluent
API, ``KilnClient.from_uri``) reads ``kiln.config.Settings`` once and passes an
``ArtifactOptions`` to ``kiln.store.open.open_artifact_store``.

``HttpClients`` owns the keep-alive HTTP clients of ``mlflow-artifacts:`` /
``http(s)://`` artifact stores, one per origin: stores opened with one share its
connections, and whoever made it closes it. Stores opened without one (a
``KilnClient``'s by default, the server's, ``kiln.models``') use
``SHARED_HTTP_CLIENTS`` in ``kiln.store.artifacts.http``, the process's default,
closed when the interpreter exits: repeated calls keep reusing its connections.
httpx is imported on the first request, not here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from kiln.store.credentials import CredentialSource

DEFAULT_TIMEOUT_S = 120.0


class HttpClients:
    """The owner of keep-alive ``httpx.Client``s, one per ``scheme://host:port``.

    Thread-safe; usable as a context manager. ``close()`` closes every client; a
    later request opens a fresh one.
    """

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self._timeout_s = timeout_s
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()

    def client(self, origin: str) -> httpx.Client:
        """The client for one origin, opened on first use."""
        client = self._clients.get(origin)
        if client is not None:
            return client
        import httpx

        with self._lock:
            client = self._clients.get(origin)
            if client is None:
                client = self._clients[origin] = httpx.Client(timeout=self._timeout_s)
        return client

    def close(self) -> None:
        """Close every client (their pooled connections with them)."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            client.close()

    def __enter__(self) -> HttpClients:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class ArtifactOptions:
    """How to reach artifact stores, beyond their URIs.

    Attributes:
        s3_endpoint_url: an S3-compatible endpoint (MinIO ...) for ``s3://`` URIs;
            None for AWS. Credentials and region stay with boto3's own chain.
        http: the owner of the HTTP connections of proxied artifact stores; None for
            the process's shared one.
        credentials: what requests to proxied artifact stores carry; None for the
            process's default source (``kiln.store.credentials``).
    """

    s3_endpoint_url: str | None = None
    http: HttpClients | None = None
    credentials: CredentialSource | None = None


__all__ = ["DEFAULT_TIMEOUT_S", "ArtifactOptions", "HttpClients"]
