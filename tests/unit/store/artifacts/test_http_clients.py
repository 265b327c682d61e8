"""HttpClients: the owner of proxied artifact stores' keep-alive connections."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest

from kiln.store.artifacts.http import SERVICE_PATH, HttpArtifactStore
from kiln.store.artifacts.options import ArtifactOptions, HttpClients
from kiln.store.open import open_artifact_store


class _Listing(http.server.BaseHTTPRequestHandler):
    """Answers every GET with an empty listing, keeping the connection open."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[int]] = []

    def setup(self) -> None:
        super().setup()
        self.connections.append(1)

    def do_GET(self) -> None:
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[int]]]:
    connections: list[int] = []
    handler = type("Handler", (_Listing,), {"connections": connections})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", connections
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_stores_opened_with_one_owner_share_a_connection_until_it_closes(
    server: tuple[str, list[int]],
) -> None:
    url, connections = server
    with HttpClients() as clients:
        options = ArtifactOptions(http=clients)
        first = open_artifact_store(
            "mlflow-artifacts:/0/a/artifacts", tracking_uri=url, options=options
        )
        second = open_artifact_store(f"{url}{SERVICE_PATH}/0/b/artifacts", options=options)
        assert first.list_artifacts() == []
        assert second.list_artifacts() == []
        assert first.list_artifacts() == []
        assert len(connections) == 1  # one keep-alive connection for the three calls
        clients.close()
        assert first.list_artifacts() == []  # a closed owner opens a fresh client
        assert len(connections) == 2


def test_one_client_per_origin() -> None:
    with HttpClients() as clients:
        one = clients.client("http://127.0.0.1:1")
        assert clients.client("http://127.0.0.1:1") is one
        other = clients.client("http://127.0.0.1:2")
        assert other is not one
    assert one.is_closed
    assert other.is_closed


def test_stores_opened_without_an_owner_share_the_process_default(
    server: tuple[str, list[int]],
) -> None:
    url, connections = server
    for run in ("a", "b"):
        store = HttpArtifactStore(f"mlflow-artifacts:/0/{run}/artifacts", tracking_uri=url)
        assert store.list_artifacts() == []
    assert len(connections) == 1
