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
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from kiln.entities import FileInfo
from kiln.errors import NotFound
from kiln.server.artifact_files import PROXY_SCHEME, file_response, listing, proxied_path
from kiln.server.policy import DELETE, READ, WRITE
from kiln.server.responses import json_response
from kiln.server.routing import ApiRoute
from kiln.server.runs import run_id_field
from kiln.server.stores import Stores
from kiln.server.streams import BodyReader
from kiln.server.telemetry import CLIENT_ABORT
from kiln.store.artifacts.paths import safe_relpath
from kiln.wire.fields import JsonObject, opt_str
from kiln.wire.tracking import file_info_to_json

PROXY_PATH = "/mlflow-artifacts/artifacts"


# the proxy ----------------------------------------------------------------------
async def upload(stores: Stores, request: Request) -> Response:
    path = safe_relpath(request.path_params["path"])
    body = BodyReader(request.stream(), asyncio.get_running_loop())
    try:
        await run_in_threadpool(stores.destination.write_stream, path, body)  # type: ignore[arg-type]
    except Exception:
        if body.disconnected:  # whatever the store wrapped it in
            return Response(status_code=CLIENT_ABORT)
        raise
    return json_response({})


async def download(stores: Stores, request: Request) -> Response:
    return await file_response(stores.destination, safe_relpath(request.path_params["path"]))


async def delete(stores: Stores, request: Request) -> Response:
    path = safe_relpath(request.path_params["path"])
    if not path:  # as mlflow server: no such resource (the root is never deleted)
        raise NotFound("DELETE needs an artifact path; the artifact root cannot be deleted")
    await run_in_threadpool(stores.destination.delete_artifacts, path)
    return json_response({})


async def list_dir(stores: Stores, request: Request) -> Response:
    """One folder of the destination, as MLflow's proxy lists it (names, not paths).

    Reads only the query string, as before the routes were declared in one table: a
    GET's body (malformed JSON included) is ignored and lists the root, as
    ``mlflow server`` answers it.
    """
    path = safe_relpath(request.query_params.get("path"))
    infos = await run_in_threadpool(stores.destination.list_artifacts, path or None)
    files = [
        file_info_to_json(FileInfo(i.path.rsplit("/", 1)[-1], i.is_dir, i.file_size)) for i in infos
    ]
    return json_response({"files": files} if files else {})


# the run-level listing ------------------------------------------------------------
def list_run_artifacts(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    run = stores.tracking.get_run(run_id_field(fields))
    rel = safe_relpath(opt_str(fields, "path"))
    return listing(run.info.artifact_uri, stores.destination, rel, stores.artifact_options)


_FILE = PROXY_PATH + "/{path:path}"
ROUTES = (
    ApiRoute("/mlflow/artifacts/list", "GET", list_run_artifacts, policy=READ),
    ApiRoute(PROXY_PATH, "GET", list_dir, policy=READ),
    ApiRoute(_FILE, "GET", download, name=PROXY_PATH + "/*", policy=READ),
    ApiRoute(_FILE, "PUT", upload, name=PROXY_PATH + "/*", policy=WRITE),
    ApiRoute(_FILE, "DELETE", delete, name=PROXY_PATH + "/*", policy=DELETE),
)


__all__ = ["PROXY_PATH", "PROXY_SCHEME", "ROUTES", "proxied_path"]
