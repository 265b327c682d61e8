"""MLflow experiment endpoints (``/mlflow/experiments/*``) over a ``TrackingStore``.

Each method takes the request's fields and returns the answer's JSON document,
the same fields and defaults as ``mlflow/server/handlers.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln.errors import InvalidInput, NotFound
from kiln.server.routing import ApiRoute
from kiln.store.protocols.tracking import (
    SEARCH_MAX_RESULTS_DEFAULT,
    SEARCH_MAX_RESULTS_THRESHOLD,
    TrackingStore,
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


@dataclass(frozen=True, slots=True)
class ExperimentApi:
    store: TrackingStore

    def create(self, fields: JsonObject) -> dict[str, Any]:
        tags = tags_from_json(object_list(fields, "tags"))
        # an absent name reads as "" so the store's validation gives its usual message
        experiment_id = self.store.create_experiment(
            opt_str(fields, "name") or "", opt_str(fields, "artifact_location") or None, tags
        )
        return {"experiment_id": experiment_id}

    def get(self, fields: JsonObject) -> dict[str, Any]:
        experiment = self.store.get_experiment(req_str(fields, "experiment_id"))
        return {"experiment": experiment_to_json(experiment)}

    def get_by_name(self, fields: JsonObject) -> dict[str, Any]:
        name = req_str(fields, "experiment_name")
        experiment = self.store.get_experiment_by_name(name)
        if experiment is None:
            raise NotFound(f"Could not find experiment with name '{name}'")
        return {"experiment": experiment_to_json(experiment)}

    def search(self, fields: JsonObject) -> dict[str, Any]:
        page = self.store.search_experiments(
            view_type=parse_view_type(fields, "view_type"),
            max_results=max_results_field(fields),
            filter_string=opt_str(fields, "filter") or None,
            order_by=str_list(fields, "order_by"),
            page_token=opt_str(fields, "page_token") or None,
        )
        answer: dict[str, Any] = {}
        if page.items:
            answer["experiments"] = [experiment_to_json(e) for e in page.items]
        if page.next_page_token:
            answer["next_page_token"] = page.next_page_token
        return answer

    def update(self, fields: JsonObject) -> dict[str, Any]:
        new_name = opt_str(fields, "new_name") or ""  # the store explains what is wrong
        self.store.rename_experiment(req_str(fields, "experiment_id"), new_name)
        return {}

    def delete(self, fields: JsonObject) -> dict[str, Any]:
        self.store.delete_experiment(req_str(fields, "experiment_id"))
        return {}

    def restore(self, fields: JsonObject) -> dict[str, Any]:
        self.store.restore_experiment(req_str(fields, "experiment_id"))
        return {}

    def set_tag(self, fields: JsonObject) -> dict[str, Any]:
        (tag,) = tags_from_json([fields], "request")
        if opt_str(fields, "value") is None:
            raise InvalidInput("missing value for required field 'value'")
        self.store.set_experiment_tag(req_str(fields, "experiment_id"), tag)
        return {}

    def delete_tag(self, fields: JsonObject) -> dict[str, Any]:
        self.store.delete_experiment_tag(req_str(fields, "experiment_id"), req_str(fields, "key"))
        return {}

    def routes(self) -> list[ApiRoute]:
        base = "/mlflow/experiments"
        return [
            ApiRoute(f"{base}/create", "POST", self.create),
            ApiRoute(f"{base}/get", "GET", self.get),
            ApiRoute(f"{base}/get-by-name", "GET", self.get_by_name),
            ApiRoute(f"{base}/search", "POST", self.search, ("order_by",)),
            ApiRoute(f"{base}/search", "GET", self.search, ("order_by",)),
            ApiRoute(f"{base}/update", "POST", self.update),
            ApiRoute(f"{base}/delete", "POST", self.delete),
            ApiRoute(f"{base}/restore", "POST", self.restore),
            ApiRoute(f"{base}/set-experiment-tag", "POST", self.set_tag),
            ApiRoute(f"{base}/delete-experiment-tag", "POST", self.delete_tag),
        ]


__all__ = ["ExperimentApi", "max_results_field"]
