"""MLflow 3 logged-model endpoints over a ``LoggedModelStore``.

Paths, methods and answers of ``mlflow/server/handlers.py``, under both
``/api/2.0`` and ``/ajax-api/2.0``:

=======  ==========================================================  =====================
POST     ``/mlflow/logged-models``                                   create (PENDING)
POST     ``/mlflow/logged-models/search``                            search
GET      ``/mlflow/logged-models/{model_id}``                        get (``allow_deleted``)
PATCH    ``/mlflow/logged-models/{model_id}``                        finalize (status)
DELETE   ``/mlflow/logged-models/{model_id}``                        soft-delete
PATCH    ``/mlflow/logged-models/{model_id}/tags``                   set tags
DELETE   ``/mlflow/logged-models/{model_id}/tags/{tag_key}``         delete a tag
POST     ``/mlflow/logged-models/{model_id}/params``                 log params
GET      ``/mlflow/logged-models/{model_id}/artifacts/directories``  list files
GET      ``/mlflow/logged-models/{model_id}/artifacts/files``        download one file
POST     ``/mlflow/runs/outputs``                                    a run produced models
=======  ==========================================================  =====================

A model's files live at its ``artifact_location``, ``<experiment artifact
location>/models/<id>/artifacts``; the MLflow client uploads them itself (through
the ``mlflow-artifacts`` proxy for proxied experiments), and the two artifact
routes read them back the same way the run artifact listing does.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from kiln.entities import FileInfo, LifecycleStage
from kiln.errors import Conflict, InvalidInput
from kiln.server.artifacts import CHUNK_SIZE, proxied_path
from kiln.server.responses import json_response, read_fields
from kiln.server.routing import API_PREFIXES
from kiln.store.artifacts.paths import safe_relpath
from kiln.store.open import open_artifact_store
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.store.protocols.tracking import TrackingStore
from kiln.wire.fields import JsonObject, object_list, opt_int, opt_str, req_str, str_list
from kiln.wire.logged_model import (
    key_values_from_json,
    logged_model_outputs_from_json,
    logged_model_status_from_json,
    logged_model_to_json,
)
from kiln.wire.tracking import file_info_to_json

LM = "/mlflow/logged-models"
Handler = Callable[[JsonObject], dict[str, Any]]


def _join(base: str, rel: str) -> str:
    return f"{base}/{rel}" if base and rel else base or rel


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := stream.read(CHUNK_SIZE):
            yield chunk
    finally:
        stream.close()


def _bool_field(fields: JsonObject, name: str) -> bool:
    value = fields.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidInput(f"field {name!r} must be a boolean, got {value!r:.60}")


@dataclass(frozen=True, slots=True)
class LoggedModelApi:
    """The endpoints; ``destination`` is the artifact proxy's store."""

    tracking: TrackingStore
    models: LoggedModelStore
    destination: ArtifactStore

    # models ------------------------------------------------------------------
    def create(self, f: JsonObject) -> dict[str, Any]:
        experiment = self.tracking.get_experiment(req_str(f, "experiment_id"))
        if experiment.lifecycle_stage is not LifecycleStage.ACTIVE:
            raise Conflict(
                f"The experiment {experiment.experiment_id} must be in the 'active' state. "
                f"Current state is {experiment.lifecycle_stage}."
            )
        model = self.models.create_logged_model(
            experiment.experiment_id,
            experiment.artifact_location,
            name=opt_str(f, "name") or None,
            source_run_id=opt_str(f, "source_run_id") or None,
            tags=key_values_from_json(f, "tags"),
            params=key_values_from_json(f, "params"),
            model_type=opt_str(f, "model_type") or None,
        )
        return {"model": logged_model_to_json(model)}

    def get(self, f: JsonObject) -> dict[str, Any]:
        model = self.models.get_logged_model(
            req_str(f, "model_id"), allow_deleted=_bool_field(f, "allow_deleted")
        )
        return {"model": logged_model_to_json(model)}

    def finalize(self, f: JsonObject) -> dict[str, Any]:
        model = self.models.finalize_logged_model(
            req_str(f, "model_id"), logged_model_status_from_json(f)
        )
        return {"model": logged_model_to_json(model)}

    def delete(self, f: JsonObject) -> dict[str, Any]:
        self.models.delete_logged_model(req_str(f, "model_id"))
        return {}

    def set_tags(self, f: JsonObject) -> dict[str, Any]:
        self.models.set_logged_model_tags(req_str(f, "model_id"), key_values_from_json(f, "tags"))
        return {}

    def delete_tag(self, f: JsonObject) -> dict[str, Any]:
        self.models.delete_logged_model_tag(req_str(f, "model_id"), req_str(f, "tag_key"))
        return {}

    def log_params(self, f: JsonObject) -> dict[str, Any]:
        self.models.log_logged_model_params(
            req_str(f, "model_id"), key_values_from_json(f, "params")
        )
        return {}

    def search(self, f: JsonObject) -> dict[str, Any]:
        experiment_ids = str_list(f, "experiment_ids")
        if not experiment_ids:
            raise InvalidInput("Missing value for required parameter 'experiment_ids'.")
        for experiment_id in experiment_ids:
            self.tracking.get_experiment(experiment_id)
        page = self.models.search_logged_models(
            experiment_ids,
            filter_string=opt_str(f, "filter") or None,
            datasets=object_list(f, "datasets") or None,
            max_results=opt_int(f, "max_results") or None,
            order_by=object_list(f, "order_by") or None,
            page_token=opt_str(f, "page_token") or None,
        )
        answer: dict[str, Any] = {}
        if page.items:
            answer["models"] = [logged_model_to_json(m) for m in page]
        if page.next_page_token:
            answer["next_page_token"] = page.next_page_token
        return answer

    def log_outputs(self, f: JsonObject) -> dict[str, Any]:
        run = self.tracking.get_run(req_str(f, "run_id"))
        if run.info.lifecycle_stage is not LifecycleStage.ACTIVE:
            raise Conflict(f"The run {run.info.run_id} must be in the 'active' state.")
        self.models.log_outputs(run.info.run_id, logged_model_outputs_from_json(f))
        return {}

    # artifacts -----------------------------------------------------------------
    def _artifact_root(self, model_id: str) -> tuple[str, ArtifactStore, str]:
        """-> (artifact_location, store holding it, path of the root in that store)."""
        location = self.models.get_logged_model(model_id).artifact_location
        base = proxied_path(location)
        if base is None:
            return location, open_artifact_store(location), ""
        return location, self.destination, base

    def list_artifacts(self, f: JsonObject) -> dict[str, Any]:
        location, store, base = self._artifact_root(req_str(f, "model_id"))
        rel = safe_relpath(opt_str(f, "artifact_directory_path"))
        infos = store.list_artifacts(_join(base, rel) or None)
        cut = len(base) + 1 if base else 0
        answer: dict[str, Any] = {"root_uri": location}
        files = [file_info_to_json(FileInfo(i.path[cut:], i.is_dir, i.file_size)) for i in infos]
        if files:
            answer["files"] = files
        return answer

    async def download_artifact(self, request: Request) -> Response:
        path = request.query_params.get("artifact_file_path")
        if not path:
            raise InvalidInput('Request must include the "artifact_file_path" query parameter.')
        rel = safe_relpath(path)
        model_id = request.path_params["model_id"]
        _, store, base = await run_in_threadpool(self._artifact_root, model_id)
        stream = await run_in_threadpool(store.open_read, _join(base, rel))
        media_type = mimetypes.guess_type(rel)[0] or "application/octet-stream"
        return StreamingResponse(_chunks(stream), media_type=media_type)

    # routing -------------------------------------------------------------------
    def endpoints(self) -> dict[str, dict[str, Handler]]:
        """path below the API prefix -> {method: handler}; search before ``{model_id}``."""
        return {
            f"{LM}/search": {"POST": self.search},
            LM: {"POST": self.create},
            f"{LM}/{{model_id}}": {"GET": self.get, "PATCH": self.finalize, "DELETE": self.delete},
            f"{LM}/{{model_id}}/tags": {"PATCH": self.set_tags},
            f"{LM}/{{model_id}}/tags/{{tag_key:path}}": {"DELETE": self.delete_tag},
            f"{LM}/{{model_id}}/params": {"POST": self.log_params},
            f"{LM}/{{model_id}}/artifacts/directories": {"GET": self.list_artifacts},
            "/mlflow/runs/outputs": {"POST": self.log_outputs},
        }

    def routes(self) -> list[Route]:
        """Starlette routes for every endpoint under every API prefix."""
        routes: list[Route] = []
        for path, methods in self.endpoints().items():
            route = _endpoint(methods, ("experiment_ids",))
            for prefix in API_PREFIXES:
                routes.append(Route(prefix + path, route, methods=list(methods), name=path))
        files = f"{LM}/{{model_id}}/artifacts/files"
        for prefix in API_PREFIXES:
            routes.append(
                Route(prefix + files, self.download_artifact, methods=["GET"], name=files)
            )
        return routes


def _endpoint(
    methods: dict[str, Handler], repeated: Collection[str]
) -> Callable[[Request], Awaitable[Response]]:
    async def route(request: Request) -> Response:
        handler = methods.get(request.method) or methods["GET"]  # HEAD -> GET
        fields = await read_fields(request, repeated)
        if request.method != "GET":
            # Query parameters (``allow_deleted``) ride along with a JSON body.
            fields = {**dict(request.query_params), **fields}
        fields = {**fields, **request.path_params}
        document = await run_in_threadpool(handler, fields)
        return json_response(document)

    return route


__all__ = ["LoggedModelApi"]
