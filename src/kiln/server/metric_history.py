"""Metric history endpoints: ``metrics/get-history`` and ``get-history-bulk-interval``.

``TrackingStore.get_metric_history`` returns every point; paging happens here. Page
tokens are the stores' (``kiln.store.query.page_token``). The bulk interval samples
each run as MLflow 3.17's store does (up to ``max_results`` points per run, by row,
first and last kept; ``kiln.store.protocols.series.read_sample``), runs in the order
asked; the SQL store reads only the kept points.
"""

from __future__ import annotations

from typing import Any

from kiln.errors import InvalidInput
from kiln.server.policy import READ
from kiln.server.routing import ApiRoute
from kiln.server.runs import run_id_field
from kiln.server.stores import Stores
from kiln.store.protocols.series import read_sample
from kiln.store.query.page_token import decode_page_token, encode_page_token
from kiln.wire.fields import JsonObject, opt_int, opt_str, req_str, str_list
from kiln.wire.tracking import metric_to_json

MAX_RUNS_BULK_INTERVAL = 100  # MLflow's MAX_RUNS_GET_METRIC_HISTORY_BULK
MAX_RESULTS_PER_RUN = 2500  # MLflow's MAX_RESULTS_PER_RUN


def get_history(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    run_id = run_id_field(fields)
    key = req_str(fields, "metric_key")
    max_results = opt_int(fields, "max_results")
    if max_results is not None and max_results <= 0:
        raise InvalidInput(
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            "It must be a positive integer."
        )
    offset = decode_page_token(opt_str(fields, "page_token"))
    history = stores.tracking.get_metric_history(run_id, key)
    end = len(history) if max_results is None else offset + max_results
    answer: dict[str, Any] = {}
    page = history[offset:end]
    if page:
        answer["metrics"] = [metric_to_json(m) for m in page]
    if end < len(history):
        answer["next_page_token"] = encode_page_token(end)
    return answer


def get_history_bulk_interval(stores: Stores, fields: JsonObject) -> dict[str, Any]:
    run_ids = str_list(fields, "run_ids")
    if not run_ids:
        raise InvalidInput("missing value for required field 'run_ids'")
    if len(run_ids) > MAX_RUNS_BULK_INTERVAL:
        raise InvalidInput(
            f"GetMetricHistoryBulkInterval request must specify at most "
            f"{MAX_RUNS_BULK_INTERVAL} run_ids. Received {len(run_ids)} run_ids."
        )
    key = req_str(fields, "metric_key")
    max_results = opt_int(fields, "max_results") or MAX_RESULTS_PER_RUN
    if not 1 <= max_results <= MAX_RESULTS_PER_RUN:
        raise InvalidInput(f"max_results must be between 1 and {MAX_RESULTS_PER_RUN}.")
    start, end = opt_int(fields, "start_step"), opt_int(fields, "end_step")
    if (start is None) != (end is None):
        raise InvalidInput(
            "If either start step or end step are specified, both must be specified."
        )
    if start is not None and end is not None and start > end:
        raise InvalidInput(
            "end_step must be greater than start_step. "
            f"Found start_step={start} and end_step={end}."
        )
    steps = None if start is None or end is None else (start, end)
    points: list[dict[str, Any]] = []
    for run_id in run_ids:
        sample = read_sample(stores.tracking, run_id, key, max_results, steps)
        points.extend({**metric_to_json(m), "run_id": run_id} for m in sample)
    return {"metrics": points} if points else {}


ROUTES = (
    ApiRoute("/mlflow/metrics/get-history", "GET", get_history, policy=READ),
    ApiRoute(
        "/mlflow/metrics/get-history-bulk-interval",
        "GET",
        get_history_bulk_interval,
        ("run_ids",),
        policy=READ,
    ),
)


__all__ = ["ROUTES"]
