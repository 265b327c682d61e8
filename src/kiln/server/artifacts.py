"""Artifact endpoints: MLflow's proxy (``/api/2.0/mlflow-artifacts/artifacts``) and
the run-level listing (``/mlflow/artifacts/list``).

The proxy serves one ``ArtifactStore`` rooted at the server's artifacts
destination. Runs created through the server get ``mlflow-artifacts:/<exp>/<run>/
artifacts`` URIs; the MLflow client turns these into proxy URLs whose path below
``artifacts/`` is the path under the destination. Every path goes through
``safe_relpath`` (``..``, absolute paths and percent-encoded escapes are 400).

Uploads stream from the request into ``ArtifactStore.write_stream`` (one chunk in
memory, no temporary file); downloads stream from the store in 1 MiB chunks. An
upload whose client hangs up mid-body is answered ``CLIENT_ABORT`` (499, which
nobody receives): ``/metrics`` counts it as a client abort, not a server error,
and nothing is logged (the store keeps no partial file).
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urlparse

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from kiln.entities import FileInfo
from kiln.errors import NotFound
from kiln.server.responses import json_response
from kiln.server.routing import ApiRoute
from kiln.server.runs import run_id_field
from kiln.server.streams import BodyReader
from kiln.server.telemetry import CLIENT_ABORT
from kiln.store.artifacts.paths import safe_relpath
from kiln.store.open import open_artifact_store
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.store.protocols.tracking import TrackingStore
from kiln.wire.fields import JsonObject, opt_str
from kiln.wire.tracking import file_info_to_json

PROXY_SCHEME = "mlflow-artifacts"
PROXY_PATH = "/mlflow-artifacts/artifacts"
CHUNK_SIZE = 1024 * 1024


def proxied_path(artifact_uri: str) -> str | None:
    """The destination-relative path of an ``mlflow-artifacts:`` URI; None for other URIs."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme != PROXY_SCHEME:
        return None
    return safe_relpath(parsed.path.lstrip("/"))


def _join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if base and rel else base or rel


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := stream.read(CHUNK_SIZE):
            yield chunk
    finally:
        stream.close()


@dataclass(frozen=True, slots=True)
class ArtifactApi:
    tracking: TrackingStore
    destination: ArtifactStore

    # the proxy ------------------------------------------------------------------
    async def upload(self, request: Request) -> Response:
        path = safe_relpath(request.path_params["path"])
        body = BodyReader(request.stream(), asyncio.get_running_loop())
        try:
            await run_in_threadpool(self.destination.write_stream, path, body)  # type: ignore[arg-type]
        except Exception:
            if body.disconnected:  # whatever the store wrapped it in
                return Response(status_code=CLIENT_ABORT)
            raise
        return json_response({})

    async def download(self, request: Request) -> Response:
        path = safe_relpath(request.path_params["path"])
        stream = await run_in_threadpool(self.destination.open_read, path)
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        return StreamingResponse(_chunks(stream), media_type=media_type)

    async def delete(self, request: Request) -> Response:
        path = safe_relpath(request.path_params["path"])
        if not path:  # as mlflow server: no such resource (the root is never deleted)
            raise NotFound("DELETE needs an artifact path; the artifact root cannot be deleted")
        await run_in_threadpool(self.destination.delete_artifacts, path)
        return json_response({})

    async def list_dir(self, request: Request) -> Response:
        path = safe_relpath(request.query_params.get("path"))
        infos = await run_in_threadpool(self.destination.list_artifacts, path or None)
        files = [
            file_info_to_json(FileInfo(i.path.rsplit("/", 1)[-1], i.is_dir, i.file_size))
            for i in infos
        ]
        return json_response({"files": files} if files else {})

    # the run-level listing ------------------------------------------------------
    def list_run_artifacts(self, fields: JsonObject) -> dict[str, Any]:
        run = self.tracking.get_run(run_id_field(fields))
        rel = safe_relpath(opt_str(fields, "path"))
        root_uri = run.info.artifact_uri
        base = proxied_path(root_uri)
        if base is None:
            infos = open_artifact_store(root_uri).list_artifacts(rel or None)
            entries = infos
        else:
            infos = self.destination.list_artifacts(_join(base, rel) or None)
            cut = len(base) + 1 if base else 0
            entries = [FileInfo(i.path[cut:], i.is_dir, i.file_size) for i in infos]
        answer: dict[str, Any] = {"root_uri": root_uri}
        if entries:
            answer["files"] = [file_info_to_json(i) for i in entries]
        return answer

    def api_routes(self) -> list[ApiRoute]:
        return [ApiRoute("/mlflow/artifacts/list", "GET", self.list_run_artifacts)]

    def proxy_routes(self, prefix: str) -> list[Route]:
        base = prefix + PROXY_PATH
        return [
            Route(base, self.list_dir, methods=["GET"], name=PROXY_PATH),
            Route(base + "/{path:path}", self.download, methods=["GET"], name=PROXY_PATH + "/*"),
            Route(base + "/{path:path}", self.upload, methods=["PUT"], name=PROXY_PATH + "/*"),
            Route(base + "/{path:path}", self.delete, methods=["DELETE"], name=PROXY_PATH + "/*"),
        ]


__all__ = ["PROXY_PATH", "PROXY_SCHEME", "ArtifactApi", "proxied_path"]
