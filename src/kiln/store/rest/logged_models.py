"""``LoggedModelStore`` over MLflow 3's REST API: a remote Kiln or MLflow server's logged models.

Sends what MLflow's ``RestStore`` (``mlflow/store/tracking/rest_store.py``) sends,
on the routes both servers serve (``/logged-models``, ``/logged-models/{id}``,
``.../tags``, ``.../params``, ``/logged-models/search``, ``/runs/outputs``), and reads
answers with ``kiln.wire.logged_model``. Error envelopes come back as Kiln
exceptions (``kiln.wire.errors``); an unreachable server is ``StoreUnavailable``.

Where the REST API differs from a local store:

* The server places a new model under its experiment's artifact location; the
  ``artifact_root`` argument of ``create_logged_model`` is not sent.
* A model's metrics travel as the metrics of their run (``runs/log-batch`` with
  ``model_id``, as MLflow's client logs them), so the run is logged to as well and
  a metric without a run cannot be sent (``InvalidInput``).
* A run's outputs and model inputs are read from ``runs/get``.
* The wire has no lifecycle stage: ``allow_deleted`` asks once more to tell a
  deleted model from a live one.
* No call writes a model as it was: ``import_logged_model`` raises ``InvalidInput``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from kiln.entities import LifecycleStage, Page
from kiln.entities.logged_model import (
    LoggedModel,
    LoggedModelMetric,
    LoggedModelOutput,
    LoggedModelStatus,
)
from kiln.errors import InvalidInput, InvalidUri, NotFound
from kiln.store.credentials import CredentialSource
from kiln.store.query.logged_models import parse_datasets
from kiln.store.query.runs import validate_max_results
from kiln.store.rest.client import DEFAULT_TIMEOUT_S, RestClient
from kiln.store.rules.logged_models import (
    validate_logged_model_name,
    validate_params,
    validate_tags,
)
from kiln.wire.fields import compact, object_list, opt_str, require_object
from kiln.wire.logged_model import (
    logged_model_from_json,
    logged_model_metric_to_json,
    logged_model_output_to_json,
    logged_model_outputs_from_json,
)

LM = "/logged-models"
PARAMS_PER_REQUEST = 100
"""MLflow's client sends a model's params 100 at a time (create, then ``/params``)."""
METRICS_PER_REQUEST = 1000
"""MLflow's limit on the metrics of one ``log-batch``."""


def _pairs(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in values.items()]


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _search_order(order_by: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Order entries as MLflow's client sends them: ``ascending`` always set (an unset
    protobuf bool reads as descending on MLflow's server)."""
    out: list[dict[str, Any]] = []
    for entry in order_by or ():
        ascending = entry.get("ascending")
        item = {
            "field_name": entry.get("field_name"),
            "ascending": True if ascending is None else bool(ascending),
            "dataset_name": entry.get("dataset_name"),
            "dataset_digest": entry.get("dataset_digest"),
        }
        out.append(compact(item))
    return out


class RestLoggedModelStore:
    """MLflow 3 logged models kept by the server at ``base_url`` (one workspace each)."""

    def __init__(
        self,
        base_url: str,
        *,
        workspace: str,
        client: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        credentials: CredentialSource | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._workspace = workspace
        self._rest = RestClient(
            self._base_url, client, timeout, label="tracking server", credentials=credentials
        )

    @property
    def workspace(self) -> str:
        return self._workspace

    @property
    def base_url(self) -> str:
        return self._base_url

    def close(self) -> None:
        self._rest.close()

    def _call(self, method: str, endpoint: str, fields: Mapping[str, Any]) -> Mapping[str, Any]:
        """Send one request without its unset fields."""
        return self._rest.call(method, endpoint, {k: v for k, v in fields.items() if v is not None})

    def _model(self, answer: Mapping[str, Any]) -> LoggedModel:
        return logged_model_from_json(require_object(answer.get("model"), "model"))

    @staticmethod
    def _one(model_id: str) -> str:
        return f"{LM}/{quote(model_id, safe='')}"

    # models ----------------------------------------------------------------------
    def create_logged_model(
        self,
        experiment_id: str,
        artifact_root: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        """Checked here with the stores' own rules, so a Kiln and an MLflow server
        refuse the same input with the same message."""
        if name is not None:
            validate_logged_model_name(name)
        checked_tags = validate_tags(tags or {})
        pairs = _pairs(validate_params(params or {}))
        answer = self._call(
            "POST",
            LM,
            {
                "experiment_id": experiment_id,
                "name": name,
                "model_type": model_type,
                "source_run_id": source_run_id,
                "params": pairs[:PARAMS_PER_REQUEST],
                "tags": _pairs(checked_tags),
            },
        )
        model = self._model(answer)
        if len(pairs) > PARAMS_PER_REQUEST:
            self._send_params(model.model_id, pairs[PARAMS_PER_REQUEST:])
            model = self.get_logged_model(model.model_id)
        return model

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        try:
            return self._model(self._call("GET", self._one(model_id), {}))
        except NotFound:
            if not allow_deleted:
                raise
        # hidden without allow_deleted, so deleted (the wire carries no stage)
        deleted = self._model(self._call("GET", self._one(model_id), {"allow_deleted": "true"}))
        return dataclasses.replace(deleted, lifecycle_stage=LifecycleStage.DELETED)

    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        status = LoggedModelStatus(status)
        answer = self._call(
            "PATCH", self._one(model_id), {"model_id": model_id, "status": status.code}
        )
        return self._model(answer)

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        checked = validate_tags(tags)
        self._call("PATCH", f"{self._one(model_id)}/tags", {"tags": _pairs(checked)})

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._call("DELETE", f"{self._one(model_id)}/tags/{quote(key, safe='')}", {})

    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> None:
        self._send_params(model_id, _pairs(validate_params(params)))

    def _send_params(self, model_id: str, pairs: Sequence[dict[str, str]]) -> None:
        for chunk in _chunks(pairs, PARAMS_PER_REQUEST):
            self._call(
                "POST", f"{self._one(model_id)}/params", {"model_id": model_id, "params": chunk}
            )

    def log_logged_model_metrics(self, model_id: str, metrics: Sequence[LoggedModelMetric]) -> None:
        """Each run's points as one ``log-batch`` (per 1,000) naming the model.

        Raises:
            InvalidInput: a point without a run (nothing is sent then).
        """
        by_run: dict[str, list[dict[str, Any]]] = {}
        for metric in metrics:
            if not metric.run_id:
                raise InvalidInput(
                    f"metric {metric.key!r} of logged model {model_id!r} names no run: "
                    "over the REST API a model's metrics are logged through a run "
                    "(set run_id)"
                )
            by_run.setdefault(metric.run_id, []).append(
                logged_model_metric_to_json(metric, model_id)
            )
        for run_id, points in by_run.items():
            for chunk in _chunks(points, METRICS_PER_REQUEST):
                self._call("POST", "/runs/log-batch", {"run_id": run_id, "metrics": chunk})

    def delete_logged_model(self, model_id: str) -> None:
        self._call("DELETE", self._one(model_id), {"model_id": model_id})

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[Mapping[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: Sequence[Mapping[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> Page[LoggedModel]:
        """``max_results`` is checked here: 0 on the wire means "unset"."""
        if max_results is not None:
            validate_max_results(max_results)
        dataset_filters = parse_datasets(datasets)
        answer = self._call(
            "POST",
            f"{LM}/search",
            {
                "experiment_ids": list(experiment_ids),
                "filter": filter_string,
                "datasets": [
                    compact({"dataset_name": d.name, "dataset_digest": d.digest})
                    for d in dataset_filters
                ],
                "max_results": max_results,
                "order_by": _search_order(order_by),
                "page_token": page_token,
            },
        )
        items = [logged_model_from_json(m) for m in object_list(answer, "models")]
        return Page(items, opt_str(answer, "next_page_token") or None)

    # runs ------------------------------------------------------------------------
    def log_outputs(self, run_id: str, outputs: Sequence[LoggedModelOutput]) -> None:
        self._call(
            "POST",
            "/runs/outputs",
            {"run_id": run_id, "models": [logged_model_output_to_json(o) for o in outputs]},
        )

    def _run(self, run_id: str) -> Mapping[str, Any]:
        answer = self._call("GET", "/runs/get", {"run_id": run_id})
        return require_object(answer.get("run"), "run")

    def get_outputs(self, run_id: str) -> list[LoggedModelOutput]:
        outputs = require_object(self._run(run_id).get("outputs") or {}, "run.outputs")
        return logged_model_outputs_from_json(outputs, "model_outputs")

    def log_model_inputs(self, run_id: str, model_ids: Sequence[str]) -> None:
        self._call(
            "POST",
            "/runs/log-inputs",
            {"run_id": run_id, "models": [{"model_id": m} for m in model_ids]},
        )

    def get_model_inputs(self, run_id: str) -> list[str]:
        inputs = require_object(self._run(run_id).get("inputs") or {}, "run.inputs")
        ids = {opt_str(m, "model_id") for m in object_list(inputs, "model_inputs")}
        return sorted(i for i in ids if i)

    def import_logged_model(self, model: LoggedModel) -> None:
        """Raises: InvalidInput always (the REST API has no call that keeps an id)."""
        raise InvalidInput(
            f"cannot import logged model {model.model_id!r} into the tracking server at "
            f"{self._base_url}: MLflow's REST API has no call that writes a model with its "
            "id; import into the server's backend store (its database or mlruns folder)"
        )


def open_rest_logged_model_store(uri: str, *, workspace: str) -> RestLoggedModelStore:
    """Open the logged models of the server at an ``http://`` or ``https://`` URI.

    Nothing is sent until the first call, so a server that is down is reported
    then, as ``StoreUnavailable``.

    Raises:
        InvalidUri: the URI has no host.
    """
    parsed = httpx.URL(uri)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidUri(f"invalid tracking server URI {uri!r}: expected http(s)://host[:port]")
    return RestLoggedModelStore(uri, workspace=workspace)


__all__ = ["RestLoggedModelStore", "open_rest_logged_model_store"]
