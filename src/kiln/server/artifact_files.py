"""Reading the files under an artifact location: the run listing, the logged-model
listing and download, and the proxy's downloads share these.

A location is either proxied (``mlflow-artifacts:/<path>``: ``<path>`` under the
server's artifacts destination) or any other artifact URI, opened as its own
store. Every client-given path goes through ``safe_relpath`` (``..``, absolute
paths and percent-encoded escapes are 400) before it reaches here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO
from urllib.parse import urlparse

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from kiln.entities import FileInfo
from kiln.server.artifact_headers import artifact_headers
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.artifacts.paths import safe_relpath
from kiln.store.open import open_artifact_store
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.wire.tracking import file_info_to_json

PROXY_SCHEME = "mlflow-artifacts"
CHUNK_SIZE = 1024 * 1024


def proxied_path(artifact_uri: str) -> str | None:
    """The destination-relative path of an ``mlflow-artifacts:`` URI; None for other URIs."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme != PROXY_SCHEME:
        return None
    return safe_relpath(parsed.path.lstrip("/"))


def join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if base and rel else base or rel


def location_root(
    location: str, destination: ArtifactStore, options: ArtifactOptions | None = None
) -> tuple[ArtifactStore, str]:
    """-> (the store holding ``location``'s files, the path of its root in that store);
    a location off the proxy is opened with ``options`` (the server's settings)."""
    base = proxied_path(location)
    if base is None:
        return open_artifact_store(location, options=options), ""
    return destination, base


def listing(
    location: str, destination: ArtifactStore, rel: str, options: ArtifactOptions | None = None
) -> dict[str, Any]:
    """MLflow's ``{"root_uri", "files"}`` answer for the folder ``rel`` under ``location``;
    file paths are relative to ``location``."""
    store, base = location_root(location, destination, options)
    infos = store.list_artifacts(join(base, rel) or None)
    cut = len(base) + 1 if base else 0
    answer: dict[str, Any] = {"root_uri": location}
    if infos:
        answer["files"] = [
            file_info_to_json(FileInfo(i.path[cut:], i.is_dir, i.file_size)) for i in infos
        ]
    return answer


async def file_response(store: ArtifactStore, path: str) -> Response:
    """The file at ``path`` in ``store``, streamed in ``CHUNK_SIZE`` chunks, as an
    attachment that no browser sniffs or runs (``kiln.server.artifact_headers``)."""
    stream = await run_in_threadpool(store.open_read, path)
    media_type, headers = artifact_headers(path)
    return StreamingResponse(stream_chunks(stream), media_type=media_type, headers=headers)


def stream_chunks(stream: BinaryIO) -> Iterator[bytes]:
    """``stream`` in ``CHUNK_SIZE`` pieces, closed at the end (or when abandoned)."""
    try:
        while chunk := stream.read(CHUNK_SIZE):
            yield chunk
    finally:
        stream.close()


__all__ = [
    "CHUNK_SIZE",
    "PROXY_SCHEME",
    "file_response",
    "join",
    "listing",
    "location_root",
    "proxied_path",
    "stream_chunks",
]
