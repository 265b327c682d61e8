"""MLflow experiment endpoints (``/mlflow/experiments/*``) over a ``TrackingStore``.

Each method takes the request's fields and returns the answer's JSON document,
the same fields and defaults as ``mlflow/server/handlers.py``.
"""

from __future__ import annotations

from typing import Any

from kiln.errors import InvalidInput, NotFound
from kiln.server.policy import DELETE, READ, WRITE
from kiln.server.responses import page_json
from kiln.server.routing import ApiRoute
from kiln.server.stores import Stores
from kiln.store.protocols.tracking import (
    SEARCH_MAX_RESULTS_DEFAULT,
    SEARCH_MAX_RESULTS_THRESHOLD,
)
from kiln.wire.fields import JsonObject, object_list, opt_int, opt_str, req_str, str_list
from kiln.wire.tracking import experiment_to_json, parse_view_type, tags_from_json


def max_results_field(fields: JsonObject, name: str = "max_results") -> int:
    """``max_results`` between 1 and MLflow's threshold; default 1000."""
    value = opt_int(fields, name)
    if value is None:
        return SEARCH_MAX_RESULTS_DEFAULT
    if not 1 <= value <= SEARCH_MAX_RESULTS_THRESHOLD:
        raise InvalidInput(
            f"invalid value {value} for parameter {name!r}: it must be at least 1 and "
            f"at most {SEARCH_MAX_RESULTS_THRESHOLD}"
        )
    return value


def create_experiment(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    tags = tags_from_json(object_list(fields, "tags"))
    location = opt_str(fields, "artifact_location") or None
    if location is not None and stores.location_check is not None:
        stores.location_check(location)  # auth on: inside the workspace's artifact root
    # an absent name reads as "" so the store's validation gives its usual message
    experiment_id = stores.tracking.create_experiment(opt_str(fields, "name") or "", location, tags)
    return {"experiment_id": experiment_id}


def get_experiment(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    experiment = stores.tracking.get_experiment(req_str(fields, "experiment_id"))
    return {"experiment": experiment_to_json(experiment)}


def get_experiment_by_name(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    name = req_str(fields, "experiment_name")
    experiment = stores.tracking.get_experiment_by_name(name)
    if experiment is None:
        raise NotFound(f"Could not find experiment with name '{name}'")
    return {"experiment": experiment_to_json(experiment)}


def search_experiments(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    page = stores.tracking.search_experiments(
        view_type=parse_view_type(fields, "view_type"),
        max_results=max_results_field(fields),
        filter_string=opt_str(fields, "filter") or None,
        order_by=str_list(fields, "order_by"),
        page_token=opt_str(fields, "page_token") or None,
    )
    return page_json(page, "experiments", experiment_to_json)


def update_experiment(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    new_name = opt_str(fields, "new_name") or ""  # the store explains what is wrong
    stores.tracking.rename_experiment(req_str(fields, "experiment_id"), new_name)
    return {}


def delete_experiment(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    stores.tracking.delete_experiment(req_str(fields, "experiment_id"))
    return {}


def restore_experiment(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    stores.tracking.restore_experiment(req_str(fields, "experiment_id"))
    return {}


def set_experiment_tag(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    (tag,) = tags_from_json([fields], "request")
    if opt_str(fields, "value") is None:
        raise InvalidInput("missing value for required field 'value'")
    stores.tracking.set_experiment_tag(req_str(fields, "experiment_id"), tag)
    return {}


def delete_experiment_tag(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    stores.tracking.delete_experiment_tag(req_str(fields, "experiment_id"), req_str(fields, "key"))
    return {}


_BASE = "/mlflow/experiments"
ROUTES = (
    ApiRoute(f"{_BASE}/create", "POST", create_experiment, policy=WRITE),
    ApiRoute(f"{_BASE}/get", "GET", get_experiment, policy=READ),
    ApiRoute(f"{_BASE}/get-by-name", "GET", get_experiment_by_name, policy=READ),
    ApiRoute(f"{_BASE}/search", "POST", search_experiments, ("order_by",), policy=READ),
    ApiRoute(f"{_BASE}/search", "GET", search_experiments, ("order_by",), policy=READ),
    ApiRoute(f"{_BASE}/update", "POST", update_experiment, policy=WRITE),
    ApiRoute(f"{_BASE}/delete", "POST", delete_experiment, policy=DELETE),
    ApiRoute(f"{_BASE}/restore", "POST", restore_experiment, policy=DELETE),
    ApiRoute(f"{_BASE}/set-experiment-tag", "POST", set_experiment_tag, policy=WRITE),
    ApiRoute(f"{_BASE}/delete-experiment-tag", "POST", delete_experiment_tag, policy=WRITE),
)


__all__ = ["ROUTES", "max_results_field"]
