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

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from kiln.entities import LifecycleStage
from kiln.errors import Conflict, InvalidInput
from kiln.server.artifact_files import file_response, join, listing, location_root
from kiln.server.policy import DELETE, READ, WRITE
from kiln.server.responses import page_json
from kiln.server.routing import ApiRoute
from kiln.server.stores import Stores
from kiln.store.artifacts.paths import safe_relpath
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.wire.fields import JsonObject, object_list, opt_int, opt_str, req_str, str_list
from kiln.wire.logged_model import (
    key_values_from_json,
    logged_model_outputs_from_json,
    logged_model_status_from_json,
    logged_model_to_json,
)

LM = "/mlflow/logged-models"


def _bool_field(fields: JsonObject, name: str) -> bool:
    value = fields.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidInput(f"field {name!r} must be a boolean, got {value!r:.60}")


# models ---------------------------------------------------------------------------
def create(stores: Stores, f: JsonObject) -> dict[str, Any]:
    experiment = stores.tracking.get_experiment(req_str(f, "experiment_id"))
    if experiment.lifecycle_stage is not LifecycleStage.ACTIVE:
        raise Conflict(
            f"The experiment {experiment.experiment_id} must be in the 'active' state. "
            f"Current state is {experiment.lifecycle_stage}."
        )
    model = stores.logged_models.create_logged_model(
        experiment.experiment_id,
        experiment.artifact_location,
        name=opt_str(f, "name") or None,
        source_run_id=opt_str(f, "source_run_id") or None,
        tags=key_values_from_json(f, "tags"),
        params=key_values_from_json(f, "params"),
        model_type=opt_str(f, "model_type") or None,
    )
    return {"model": logged_model_to_json(model)}


def get(stores: Stores, f: JsonObject) -> dict[str, Any]:
    model = stores.logged_models.get_logged_model(
        req_str(f, "model_id"), allow_deleted=_bool_field(f, "allow_deleted")
    )
    return {"model": logged_model_to_json(model)}


def finalize(stores: Stores, f: JsonObject) -> dict[str, Any]:
    model = stores.logged_models.finalize_logged_model(
        req_str(f, "model_id"), logged_model_status_from_json(f)
    )
    return {"model": logged_model_to_json(model)}


def delete(stores: Stores, f: JsonObject) -> dict[str, Any]:
    stores.logged_models.delete_logged_model(req_str(f, "model_id"))
    return {}


def set_tags(stores: Stores, f: JsonObject) -> dict[str, Any]:
    stores.logged_models.set_logged_model_tags(
        req_str(f, "model_id"), key_values_from_json(f, "tags")
    )
    return {}


def delete_tag(stores: Stores, f: JsonObject) -> dict[str, Any]:
    stores.logged_models.delete_logged_model_tag(req_str(f, "model_id"), req_str(f, "tag_key"))
    return {}


def log_params(stores: Stores, f: JsonObject) -> dict[str, Any]:
    stores.logged_models.log_logged_model_params(
        req_str(f, "model_id"), key_values_from_json(f, "params")
    )
    return {}


def search(stores: Stores, f: JsonObject) -> dict[str, Any]:
    experiment_ids = str_list(f, "experiment_ids")
    if not experiment_ids:
        raise InvalidInput("Missing value for required parameter 'experiment_ids'.")
    for experiment_id in experiment_ids:
        stores.tracking.get_experiment(experiment_id)
    page = stores.logged_models.search_logged_models(
        experiment_ids,
        filter_string=opt_str(f, "filter") or None,
        datasets=object_list(f, "datasets") or None,
        max_results=opt_int(f, "max_results") or None,
        order_by=object_list(f, "order_by") or None,
        page_token=opt_str(f, "page_token") or None,
    )
    return page_json(page, "models", logged_model_to_json)


def log_outputs(stores: Stores, f: JsonObject) -> dict[str, Any]:
    run = stores.tracking.get_run(req_str(f, "run_id"))
    if run.info.lifecycle_stage is not LifecycleStage.ACTIVE:
        raise Conflict(f"The run {run.info.run_id} must be in the 'active' state.")
    stores.logged_models.log_outputs(run.info.run_id, logged_model_outputs_from_json(f))
    return {}


# artifacts --------------------------------------------------------------------------
def list_artifacts(stores: Stores, f: JsonObject) -> dict[str, Any]:
    location = stores.logged_models.get_logged_model(req_str(f, "model_id")).artifact_location
    rel = safe_relpath(opt_str(f, "artifact_directory_path"))
    return listing(location, stores.destination, rel, stores.artifact_options)


async def download_artifact(stores: Stores, request: Request) -> Response:
    path = request.query_params.get("artifact_file_path")
    if not path:
        raise InvalidInput('Request must include the "artifact_file_path" query parameter.')
    rel = safe_relpath(path)
    store, base = await run_in_threadpool(_model_root, stores, request.path_params["model_id"])
    return await file_response(store, join(base, rel))


def _model_root(stores: Stores, model_id: str) -> tuple[ArtifactStore, str]:
    location = stores.logged_models.get_logged_model(model_id).artifact_location
    return location_root(location, stores.destination, stores.artifact_options)


# Search before ``{model_id}``, which would take "search" for an id.
_ONE = f"{LM}/{{model_id}}"
ROUTES = (
    ApiRoute(f"{LM}/search", "POST", search, ("experiment_ids",), policy=READ),
    ApiRoute(LM, "POST", create, policy=WRITE),
    ApiRoute(_ONE, "GET", get, policy=READ),
    ApiRoute(_ONE, "PATCH", finalize, policy=WRITE),
    ApiRoute(_ONE, "DELETE", delete, policy=DELETE),
    ApiRoute(f"{_ONE}/tags", "PATCH", set_tags, policy=WRITE),
    ApiRoute(f"{_ONE}/tags/{{tag_key:path}}", "DELETE", delete_tag, policy=WRITE),
    ApiRoute(f"{_ONE}/params", "POST", log_params, policy=WRITE),
    ApiRoute(f"{_ONE}/artifacts/directories", "GET", list_artifacts, policy=READ),
    ApiRoute(f"{_ONE}/artifacts/files", "GET", download_artifact, policy=READ),
    ApiRoute("/mlflow/runs/outputs", "POST", log_outputs, policy=WRITE),
)


__all__ = ["ROUTES"]
