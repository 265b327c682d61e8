"""``TrackingStore`` over MLflow's REST API: a remote Kiln or MLflow tracking server.

One persistent ``httpx.Client`` per store (keep-alive, so a run's many small
writes reuse one connection). Error envelopes come back as the Kiln exception
classes of ``kiln.wire.errors``; a server that cannot be reached is
``StoreUnavailable``. The store is as thread-safe as ``httpx.Client``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import httpx

from kiln.entities import (
    DatasetInput,
    Experiment,
    Metric,
    Page,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
    normalized_inputs,
)
from kiln.errors import InvalidUri, NotFound
from kiln.store.credentials import CredentialSource
from kiln.store.protocols.tracking import SEARCH_MAX_RESULTS_DEFAULT
from kiln.store.rest.client import DEFAULT_TIMEOUT_S, RestClient
from kiln.store.rules.tracking import validate_dataset_inputs
from kiln.wire.fields import object_list, opt_str, require_object
from kiln.wire.tracking import (
    dataset_input_to_json,
    experiment_from_json,
    metric_from_json,
    metric_to_json,
    param_to_json,
    run_from_json,
    run_info_from_json,
    tag_to_json,
)

PROXY_ARTIFACT_ROOT = "mlflow-artifacts:/"


def _read_run(obj: Mapping[str, Any]) -> Run:
    """A run from the server, its inputs in the stores' order (MLflow's server
    answers them in database order)."""
    run = run_from_json(dict(obj))
    return replace(run, inputs=normalized_inputs(run.inputs.dataset_inputs))


class RestTrackingStore:
    """Experiments and runs kept by a tracking server at ``base_url``."""

    def __init__(
        self,
        base_url: str,
        *,
        workspace: str,
        artifact_root: str | None = None,
        client: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        credentials: CredentialSource | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._workspace = workspace
        self._artifact_root = artifact_root or PROXY_ARTIFACT_ROOT
        self._rest = RestClient(
            self._base_url, client, timeout, label="tracking server", credentials=credentials
        )

    @property
    def workspace(self) -> str:
        return self._workspace

    @property
    def default_artifact_root(self) -> str:
        return self._artifact_root

    @property
    def base_url(self) -> str:
        return self._base_url

    def close(self) -> None:
        self._rest.close()

    def _call(self, method: str, endpoint: str, fields: Mapping[str, Any]) -> Mapping[str, Any]:
        """Send one request (a GET drops unset fields; a body goes as given)."""
        if method == "GET":
            fields = {k: v for k, v in fields.items() if v is not None}
        return self._rest.call(method, endpoint, fields)

    # experiments ---------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Sequence[RunTag] = (),
    ) -> str:
        answer = self._call(
            "POST",
            "/experiments/create",
            {
                "name": name,
                "artifact_location": artifact_location,
                "tags": [tag_to_json(t.key, t.value) for t in tags],
            },
        )
        return str(answer["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        answer = self._call("GET", "/experiments/get", {"experiment_id": experiment_id})
        return experiment_from_json(require_object(answer.get("experiment"), "experiment"))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            answer = self._call("GET", "/experiments/get-by-name", {"experiment_name": name})
        except NotFound:
            return None
        return experiment_from_json(require_object(answer.get("experiment"), "experiment"))

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Experiment]:
        answer = self._call(
            "POST",
            "/experiments/search",
            {
                "view_type": ViewType(view_type).value,
                "max_results": max_results,
                "filter": filter_string,
                "order_by": list(order_by),
                "page_token": page_token,
            },
        )
        items = [experiment_from_json(e) for e in object_list(answer, "experiments")]
        return Page(items, opt_str(answer, "next_page_token") or None)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._call(
            "POST", "/experiments/update", {"experiment_id": experiment_id, "new_name": new_name}
        )

    def delete_experiment(self, experiment_id: str) -> None:
        self._call("POST", "/experiments/delete", {"experiment_id": experiment_id})

    def restore_experiment(self, experiment_id: str) -> None:
        self._call("POST", "/experiments/restore", {"experiment_id": experiment_id})

    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None:
        self._call(
            "POST",
            "/experiments/set-experiment-tag",
            {"experiment_id": experiment_id, "key": tag.key, "value": tag.value},
        )

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._call(
            "POST",
            "/experiments/delete-experiment-tag",
            {"experiment_id": experiment_id, "key": key},
        )

    # runs ------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        user_id: str = "",
        start_time: int | None = None,
        tags: Sequence[RunTag] = (),
        run_name: str | None = None,
    ) -> Run:
        answer = self._call(
            "POST",
            "/runs/create",
            {
                "experiment_id": experiment_id,
                "user_id": user_id,
                "start_time": start_time,
                "tags": [tag_to_json(t.key, t.value) for t in tags],
                "run_name": run_name,
            },
        )
        return _read_run(require_object(answer.get("run"), "run"))

    def get_run(self, run_id: str) -> Run:
        answer = self._call("GET", "/runs/get", {"run_id": run_id})
        return _read_run(require_object(answer.get("run"), "run"))

    def update_run_info(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        answer = self._call(
            "POST",
            "/runs/update",
            {
                "run_id": run_id,
                "run_uuid": run_id,
                "status": None if status is None else RunStatus(status).value,
                "end_time": end_time,
                "run_name": run_name,
            },
        )
        return run_info_from_json(require_object(answer.get("run_info"), "run_info"))

    def delete_run(self, run_id: str) -> None:
        self._call("POST", "/runs/delete", {"run_id": run_id})

    def restore_run(self, run_id: str) -> None:
        self._call("POST", "/runs/restore", {"run_id": run_id})

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self._call("POST", "/runs/log-metric", {"run_id": run_id, **metric_to_json(metric)})

    def log_param(self, run_id: str, param: Param) -> None:
        self._call("POST", "/runs/log-parameter", {"run_id": run_id, **param_to_json(param)})

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self._call("POST", "/runs/set-tag", {"run_id": run_id, "key": tag.key, "value": tag.value})

    def delete_tag(self, run_id: str, key: str) -> None:
        self._call("POST", "/runs/delete-tag", {"run_id": run_id, "key": key})

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        self._call(
            "POST",
            "/runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [metric_to_json(m) for m in metrics],
                "params": [param_to_json(p) for p in params],
                "tags": [tag_to_json(t.key, t.value) for t in tags],
            },
        )

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        """Checked here with the stores' own limits, then sent as one ``log-inputs``."""
        items = validate_dataset_inputs(datasets)
        self._call(
            "POST",
            "/runs/log-inputs",
            {"run_id": run_id, "datasets": [dataset_input_to_json(d) for d in items]},
        )

    def get_metric_history(self, run_id: str, metric_key: str) -> list[Metric]:
        answer = self._call(
            "GET", "/metrics/get-history", {"run_id": run_id, "metric_key": metric_key}
        )
        return [metric_from_json(m) for m in object_list(answer, "metrics")]

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[Run]:
        answer = self._call(
            "POST",
            "/runs/search",
            {
                "experiment_ids": list(experiment_ids),
                "filter": filter_string,
                "run_view_type": ViewType(run_view_type).value,
                "max_results": max_results,
                "order_by": list(order_by),
                "page_token": page_token,
            },
        )
        items = [_read_run(r) for r in object_list(answer, "runs")]
        return Page(items, opt_str(answer, "next_page_token") or None)


def open_rest_store(
    uri: str,
    *,
    workspace: str,
    artifact_root: str | None = None,
) -> RestTrackingStore:
    """Open the tracking server at an ``http://`` or ``https://`` URI.

    Nothing is sent until the first call, so a server that is down is reported
    then, as ``StoreUnavailable``.

    Raises:
        InvalidUri: the URI has no host.
    """
    parsed = httpx.URL(uri)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidUri(f"invalid tracking server URI {uri!r}: expected http(s)://host[:port]")
    return RestTrackingStore(uri, workspace=workspace, artifact_root=artifact_root)


__all__ = ["RestTrackingStore", "open_rest_store"]
