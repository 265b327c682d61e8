"""MLflow run endpoints (``/mlflow/runs/*``) over a ``TrackingStore``.

Fields, defaults and answers follow ``mlflow/server/handlers.py``; ``run_uuid`` is
accepted wherever ``run_id`` is, as old clients send only that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kiln.entities import Metric, Param
from kiln.entities.logged_model import LoggedModelMetric
from kiln.errors import InvalidInput
from kiln.server.experiments import max_results_field
from kiln.server.policy import DELETE, READ, WRITE
from kiln.server.responses import page_json
from kiln.server.routing import ApiRoute
from kiln.server.stores import Stores
from kiln.wire.fields import JsonObject, object_list, opt_int, opt_str, req_str, str_list
from kiln.wire.logged_model import logged_model_output_to_json
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


def model_metrics_from_json(
    items: Sequence[JsonObject], metrics: Sequence[Metric], run_id: str
) -> dict[str, list[LoggedModelMetric]]:
    """model id -> the metrics of ``items`` that name it (MLflow 3's ``Metric.model_id``).

    ``metrics`` are ``items`` already parsed, in the same order; MLflow logs a
    metric with a ``model_id`` on the run *and* on the model, with the dataset
    it was computed on.
    """
    found: dict[str, list[LoggedModelMetric]] = {}
    for index, (item, metric) in enumerate(zip(items, metrics, strict=True)):
        model_id = item.get("model_id")
        if not model_id:
            continue
        where = f"metrics[{index}]"
        model_metric = LoggedModelMetric(
            key=metric.key,
            value=metric.value,
            timestamp=metric.timestamp,
            step=metric.step,
            run_id=run_id,
            dataset_name=_opt_str_in(item, "dataset_name", where),
            dataset_digest=_opt_str_in(item, "dataset_digest", where),
        )
        found.setdefault(_opt_str_in(item, "model_id", where) or "", []).append(model_metric)
    return found


def model_input_ids_from_json(fields: JsonObject) -> list[str]:
    """``LogInputs.models``: ``[{"model_id"}]`` -> the ids, in order, without repeats.

    Raises:
        InvalidInput: an entry without a model id.
    """
    ids: list[str] = []
    for index, item in enumerate(object_list(fields, "models")):
        model_id = _opt_str_in(item, "model_id", f"models[{index}]")
        if not model_id:
            raise InvalidInput(f"missing value for required field 'models[{index}].model_id'")
        if model_id not in ids:
            ids.append(model_id)
    return ids


def _opt_str_in(item: JsonObject, name: str, where: str) -> str | None:
    value = item.get(name)
    if value is None or isinstance(value, str):
        return value
    raise InvalidInput(f"field '{where}.{name}' must be a string, got {value!r:.60}")


def create_run(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    run = stores.tracking.create_run(
        experiment_id=req_str(fields, "experiment_id"),
        user_id=opt_str(fields, "user_id") or "",
        start_time=opt_int(fields, "start_time"),
        tags=tags_from_json(object_list(fields, "tags")),
        run_name=opt_str(fields, "run_name") or None,
    )
    return {"run": run_to_json(run)}


def get_run(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    """The run, with MLflow 3's model inputs and outputs from the logged-model store."""
    run = stores.tracking.get_run(run_id_field(fields))
    document = run_to_json(run)
    run_id = run.info.run_id
    model_inputs = stores.logged_models.get_model_inputs(run_id)
    if model_inputs:
        document["inputs"]["model_inputs"] = [{"model_id": m} for m in model_inputs]
    outputs = stores.logged_models.get_outputs(run_id)
    if outputs:
        document["outputs"]["model_outputs"] = [logged_model_output_to_json(o) for o in outputs]
    return {"run": document}


def update_run(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    info = stores.tracking.update_run_info(
        run_id_field(fields),
        status=parse_run_status(fields, "status"),
        end_time=opt_int(fields, "end_time"),
        run_name=opt_str(fields, "run_name"),
    )
    return {"run_info": run_info_to_json(info)}


def delete_run(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    stores.tracking.delete_run(run_id_field(fields))
    return {}


def restore_run(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    stores.tracking.restore_run(run_id_field(fields))
    return {}


def log_metric(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    run_id = run_id_field(fields)
    metric = metric_from_json(fields, "request")
    if not fields.get("model_id"):
        stores.tracking.log_metric(run_id, metric)
        return {}
    ((model_id, model_metrics),) = model_metrics_from_json([fields], [metric], run_id).items()
    stores.logged_models.get_logged_model(model_id)
    stores.tracking.log_metric(run_id, metric)
    stores.logged_models.log_logged_model_metrics(model_id, model_metrics)
    return {}


def log_param(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    if opt_str(fields, "value") is None:
        raise InvalidInput("missing value for required field 'value'")
    stores.tracking.log_param(run_id_field(fields), param_from_json(fields, "request"))
    return {}


def set_tag(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    if opt_str(fields, "value") is None:
        raise InvalidInput("missing value for required field 'value'")
    (tag,) = tags_from_json([fields], "request")
    stores.tracking.set_tag(run_id_field(fields), tag)
    return {}


def delete_tag(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    stores.tracking.delete_tag(run_id_field(fields), req_str(fields, "key"))
    return {}


def log_batch(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    run_id = run_id_field(fields)
    raw_metrics = object_list(fields, "metrics")
    metrics = metrics_from_json(raw_metrics)
    params: list[Param] = [
        param_from_json(p, f"params[{i}]") for i, p in enumerate(object_list(fields, "params"))
    ]
    tags = tags_from_json(object_list(fields, "tags"))
    by_model = model_metrics_from_json(raw_metrics, metrics, run_id)
    for model_id in by_model:  # a missing model fails the request before any write
        stores.logged_models.get_logged_model(model_id)
    stores.tracking.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    for model_id, model_metrics in by_model.items():
        stores.logged_models.log_logged_model_metrics(model_id, model_metrics)
    return {}


def log_inputs(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    """Dataset inputs go to the tracking store, model inputs (``mlflow`` sends
    them when a run loads a logged model) to the logged-model store."""
    run_id = run_id_field(fields)
    model_ids = model_input_ids_from_json(fields)
    datasets = [
        dataset_input_from_json(d, f"datasets[{i}]")
        for i, d in enumerate(object_list(fields, "datasets"))
    ]
    stores.tracking.log_inputs(run_id, datasets)
    if model_ids:
        stores.logged_models.log_model_inputs(run_id, model_ids)
    return {}


def search_runs(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    page = stores.tracking.search_runs(
        experiment_ids=str_list(fields, "experiment_ids"),
        filter_string=opt_str(fields, "filter") or None,
        run_view_type=parse_view_type(fields, "run_view_type"),
        max_results=max_results_field(fields),
        order_by=str_list(fields, "order_by"),
        page_token=opt_str(fields, "page_token") or None,
    )
    return page_json(page, "runs", run_to_json)


_BASE = "/mlflow/runs"
ROUTES = (
    ApiRoute(f"{_BASE}/create", "POST", create_run, policy=WRITE),
    ApiRoute(f"{_BASE}/get", "GET", get_run, policy=READ),
    ApiRoute(f"{_BASE}/update", "POST", update_run, policy=WRITE),
    ApiRoute(f"{_BASE}/delete", "POST", delete_run, policy=DELETE),
    ApiRoute(f"{_BASE}/restore", "POST", restore_run, policy=DELETE),
    ApiRoute(f"{_BASE}/log-metric", "POST", log_metric, policy=WRITE),
    ApiRoute(f"{_BASE}/log-parameter", "POST", log_param, policy=WRITE),
    ApiRoute(f"{_BASE}/set-tag", "POST", set_tag, policy=WRITE),
    ApiRoute(f"{_BASE}/delete-tag", "POST", delete_tag, policy=WRITE),
    ApiRoute(f"{_BASE}/log-batch", "POST", log_batch, policy=WRITE),
    ApiRoute(f"{_BASE}/log-inputs", "POST", log_inputs, policy=WRITE),
    ApiRoute(f"{_BASE}/search", "POST", search_runs, ("experiment_ids", "order_by"), policy=READ),
)


__all__ = ["ROUTES", "run_id_field"]
