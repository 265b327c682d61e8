"""MLflow run endpoints (``/mlflow/runs/*``) over a ``TrackingStore``.

Fields, defaults and answers follow ``mlflow/server/handlers.py``; ``run_uuid`` is
accepted wherever ``run_id`` is, as old clients send only that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiln.entities import Param
from kiln.errors import InvalidInput
from kiln.server.experiments import max_results_field
from kiln.server.routing import ApiRoute
from kiln.store.base import TrackingStore
from kiln.wire.fields import JsonObject, object_list, opt_int, opt_list, opt_str, req_str, str_list
from kiln.wire.tracking import (
    dataset_input_from_json,
    metric_from_json,
    metrics_from_json,
    param_from_json,
    parse_run_status,
    parse_view_type,
    run_info_to_json,
    run_to_json,
    tags_from_json,
)


def run_id_field(fields: JsonObject) -> str:
    """``run_id``, or the deprecated ``run_uuid``; one is required."""
    run_id = opt_str(fields, "run_id") or opt_str(fields, "run_uuid")
    if not run_id:
        raise InvalidInput("missing value for required field 'run_id'")
    return run_id


@dataclass(frozen=True, slots=True)
class RunApi:
    store: TrackingStore

    def create(self, fields: JsonObject) -> dict[str, Any]:
        run = self.store.create_run(
            experiment_id=req_str(fields, "experiment_id"),
            user_id=opt_str(fields, "user_id") or "",
            start_time=opt_int(fields, "start_time"),
            tags=tags_from_json(object_list(fields, "tags")),
            run_name=opt_str(fields, "run_name") or None,
        )
        return {"run": run_to_json(run)}

    def get(self, fields: JsonObject) -> dict[str, Any]:
        return {"run": run_to_json(self.store.get_run(run_id_field(fields)))}

    def update(self, fields: JsonObject) -> dict[str, Any]:
        info = self.store.update_run_info(
            run_id_field(fields),
            status=parse_run_status(fields, "status"),
            end_time=opt_int(fields, "end_time"),
            run_name=opt_str(fields, "run_name"),
        )
        return {"run_info": run_info_to_json(info)}

    def delete(self, fields: JsonObject) -> dict[str, Any]:
        self.store.delete_run(run_id_field(fields))
        return {}

    def restore(self, fields: JsonObject) -> dict[str, Any]:
        self.store.restore_run(run_id_field(fields))
        return {}

    def log_metric(self, fields: JsonObject) -> dict[str, Any]:
        self.store.log_metric(run_id_field(fields), metric_from_json(fields, "request"))
        return {}

    def log_param(self, fields: JsonObject) -> dict[str, Any]:
        if opt_str(fields, "value") is None:
            raise InvalidInput("missing value for required field 'value'")
        self.store.log_param(run_id_field(fields), param_from_json(fields, "request"))
        return {}

    def set_tag(self, fields: JsonObject) -> dict[str, Any]:
        if opt_str(fields, "value") is None:
            raise InvalidInput("missing value for required field 'value'")
        (tag,) = tags_from_json([fields], "request")
        self.store.set_tag(run_id_field(fields), tag)
        return {}

    def delete_tag(self, fields: JsonObject) -> dict[str, Any]:
        self.store.delete_tag(run_id_field(fields), req_str(fields, "key"))
        return {}

    def log_batch(self, fields: JsonObject) -> dict[str, Any]:
        run_id = run_id_field(fields)
        metrics = metrics_from_json(object_list(fields, "metrics"))
        params: list[Param] = [
            param_from_json(p, f"params[{i}]") for i, p in enumerate(object_list(fields, "params"))
        ]
        tags = tags_from_json(object_list(fields, "tags"))
        self.store.log_batch(run_id, metrics=metrics, params=params, tags=tags)
        return {}

    def log_inputs(self, fields: JsonObject) -> dict[str, Any]:
        """Store dataset inputs; model inputs are accepted and not kept.

        ``mlflow`` sends model inputs while logging models; the link from a model
        to the run that used it has no place in a ``TrackingStore`` yet.
        """
        run_id = run_id_field(fields)
        opt_list(fields, "models")
        datasets = [
            dataset_input_from_json(d, f"datasets[{i}]")
            for i, d in enumerate(object_list(fields, "datasets"))
        ]
        self.store.log_inputs(run_id, datasets)
        return {}

    def search(self, fields: JsonObject) -> dict[str, Any]:
        page = self.store.search_runs(
            experiment_ids=str_list(fields, "experiment_ids"),
            filter_string=opt_str(fields, "filter") or None,
            run_view_type=parse_view_type(fields, "run_view_type"),
            max_results=max_results_field(fields),
            order_by=str_list(fields, "order_by"),
            page_token=opt_str(fields, "page_token") or None,
        )
        answer: dict[str, Any] = {}
        if page.items:
            answer["runs"] = [run_to_json(r) for r in page.items]
        if page.next_page_token:
            answer["next_page_token"] = page.next_page_token
        return answer

    def routes(self) -> list[ApiRoute]:
        base = "/mlflow/runs"
        return [
            ApiRoute(f"{base}/create", "POST", self.create),
            ApiRoute(f"{base}/get", "GET", self.get),
            ApiRoute(f"{base}/update", "POST", self.update),
            ApiRoute(f"{base}/delete", "POST", self.delete),
            ApiRoute(f"{base}/restore", "POST", self.restore),
            ApiRoute(f"{base}/log-metric", "POST", self.log_metric),
            ApiRoute(f"{base}/log-parameter", "POST", self.log_param),
            ApiRoute(f"{base}/set-tag", "POST", self.set_tag),
            ApiRoute(f"{base}/delete-tag", "POST", self.delete_tag),
            ApiRoute(f"{base}/log-batch", "POST", self.log_batch),
            ApiRoute(f"{base}/log-inputs", "POST", self.log_inputs),
            ApiRoute(f"{base}/search", "POST", self.search, ("experiment_ids", "order_by")),
        ]


__all__ = ["RunApi", "run_id_field"]
