"""What the fluent API and ``log_model`` share for MLflow 3 logged models.

* ``model_store`` opens the logged-model store kept where the tracking URI's data
  lives, once per (URI, workspace): a ``memory://`` store is a fresh one per open,
  so the fluent calls of one process must share theirs.
* ``create_model`` makes a PENDING model as ``mlflow``'s ``_create_logged_model``
  does: the active run is its source, the run's (else the active) experiment holds
  it, and the context tags (user, source name and type) are set.
* ``link_metrics`` is what ``log_metric(s)(..., model_id=, dataset=)`` adds to a run
  metric in MLflow 3: the same points on the model (with the dataset's name and
  digest), the dataset as a run input and the model as a run input when the run
  did not produce it. Without ``model_id`` the active model, else the models this
  process logged from the run at that step, receive the metrics (MLflow reads the
  active run's outputs, which only its own process fills, the same way).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from kiln.config import Settings
from kiln.entities import DatasetInput, Metric
from kiln.entities.logged_model import LoggedModel, LoggedModelMetric, LoggedModelOutput
from kiln.store.open import close_store, open_logged_model_store
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.tracking import system_tags
from kiln.tracking.client import KilnClient

MODEL_IS_EXTERNAL_TAG = "mlflow.model.isExternal"  # MLflow: files kept outside MLflow
_lock = threading.Lock()
_stores: dict[tuple[str, str], LoggedModelStore] = {}
_outputs: dict[str, list[LoggedModelOutput]] = {}  # run id -> models this process logged from it
_local = threading.local()


def model_store(uri: str, workspace: str) -> LoggedModelStore:
    """The logged-model store of ``uri`` in ``workspace`` (opened once per process).

    Raises:
        InvalidUri: no logged-model backend for that URI's scheme.
    """
    key = (uri, workspace)
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = open_logged_model_store(uri, workspace=workspace)
        return store


def fluent_store() -> LoggedModelStore:
    """The store the fluent API's tracking URI names, in the settings' workspace."""
    from kiln.tracking.fluent import get_tracking_uri

    return model_store(get_tracking_uri(), Settings.from_env().workspace)


def reset() -> None:
    """Forget the opened stores (a server's gives back its connections) and the
    recorded run outputs (tests, notebooks)."""
    with _lock:
        for store in _stores.values():
            close_store(store)
        _stores.clear()
        _outputs.clear()
    _local.__dict__.clear()


def set_last_model_id(model_id: str | None) -> None:
    """Remember the model this thread created last (``last_logged_model``)."""
    _local.last_model_id = model_id


def last_model_id() -> str | None:
    value = getattr(_local, "last_model_id", None)
    return value if isinstance(value, str) else None


def create_model(
    store: LoggedModelStore,
    client: KilnClient,
    *,
    name: str | None = None,
    source_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    model_type: str | None = None,
    experiment_id: str | None = None,
) -> LoggedModel:
    """A PENDING model where MLflow puts it (see the module docstring)."""
    from kiln.tracking import fluent

    run = fluent.active_run()
    if source_run_id is None and run is not None:
        source_run_id = run.info.run_id
    if experiment_id is None:
        if run is not None:
            experiment_id = run.info.experiment_id
        elif source_run_id is not None:
            experiment_id = client.get_run(source_run_id).info.experiment_id
        else:
            experiment_id = fluent._active_experiment_id(client)
    experiment_id = str(experiment_id)
    root = client.get_experiment(experiment_id).artifact_location
    resolved = system_tags.resolve_system_tags({str(k): str(v) for k, v in (tags or {}).items()})
    resolved.pop(system_tags.GIT_COMMIT, None)  # MLflow's model context has no git commit
    model = store.create_logged_model(
        experiment_id,
        root,
        name=name,
        source_run_id=source_run_id,
        tags=resolved,
        params={str(k): str(v) for k, v in (params or {}).items()},
        model_type=model_type,
    )
    set_last_model_id(model.model_id)
    return model


def record_output(run_id: str, output: LoggedModelOutput) -> None:
    """Remember that ``run_id`` produced a model in this process (see ``link_metrics``)."""
    with _lock:
        _outputs.setdefault(run_id, []).append(output)


def outputs_at_step(run_id: str, step: int) -> list[str]:
    with _lock:
        return [o.model_id for o in _outputs.get(run_id, ()) if o.step == step]


def active_model_id() -> str | None:
    from kiln.tracking.fluent_logged_models import get_active_model_id

    return get_active_model_id()


def link_metrics(
    client: KilnClient,
    run_id: str,
    metrics: Sequence[Metric],
    model_id: str | None,
    dataset: Any,
    *,
    first_model_only: bool = False,
) -> bool:
    """Record run metrics on their logged model(s) and the dataset, as MLflow 3 does.

    ``first_model_only``: MLflow's ``log_metric`` links a metric to the first model
    the run produced at that step, ``log_metrics`` to each of them. Returns True when
    the run's points were logged here too: a server's store sends a model's metrics as
    the run's (``runs/log-batch`` naming the model, as MLflow's client does), so the
    caller must not send them again.
    """
    if not metrics:
        return False
    entity = None
    if dataset is not None:
        from kiln.tracking.datasets import dataset_from

        entity = dataset_from(dataset)
    model_id = model_id or active_model_id()
    step = metrics[0].step
    model_ids = [model_id] if model_id is not None else outputs_at_step(run_id, step)
    if first_model_only:
        model_ids = model_ids[:1]
    store = fluent_store() if model_ids else None
    if entity is not None:
        inputs = client.get_run(run_id).inputs.dataset_inputs
        known = {(i.dataset.name, i.dataset.digest) for i in inputs}
        if (entity.name, entity.digest) not in known:
            client.log_inputs(run_id, [DatasetInput(entity)])
    if store is None or not model_ids:
        return False
    if model_id is not None:
        produced = {o.model_id for o in store.get_outputs(run_id)}
        if model_id not in produced and model_id not in store.get_model_inputs(run_id):
            store.log_model_inputs(run_id, [model_id])
    for target in model_ids:
        store.log_logged_model_metrics(
            target,
            [
                LoggedModelMetric(
                    m.key,
                    m.value,
                    m.timestamp,
                    m.step,
                    run_id,
                    entity.name if entity is not None else None,
                    entity.digest if entity is not None else None,
                )
                for m in metrics
            ],
        )
    return sends_run_metrics(store)


def sends_run_metrics(store: LoggedModelStore) -> bool:
    """Whether ``store`` logs a model's metrics to their run as well (a server's)."""
    return isinstance(getattr(store, "base_url", None), str)


def copy_run_metrics(
    store: LoggedModelStore, client: KilnClient, run_id: str, model_id: str, step: int
) -> None:
    """The run's metric points at ``step`` onto a new model, as MLflow's ``log_model`` does
    (without their dataset: MLflow's run history does not keep it either)."""
    points: list[LoggedModelMetric] = []
    for key in client.get_run(run_id).data.metrics:
        points += [
            LoggedModelMetric(m.key, m.value, m.timestamp, m.step, run_id)
            for m in client.get_metric_history(run_id, key)
            if m.step == step
        ]
    if points:
        store.log_logged_model_metrics(model_id, points)


__all__ = [
    "MODEL_IS_EXTERNAL_TAG",
    "copy_run_metrics",
    "create_model",
    "fluent_store",
    "last_model_id",
    "link_metrics",
    "model_store",
    "outputs_at_step",
    "record_output",
    "reset",
    "set_last_model_id",
]
