"""The MLflow-style module API: ``kiln.start_run()``, ``kiln.log_metric()``, ...

All process-wide state (the tracking URI set in code, the active experiment, the
stack of active runs, the clients opened so far) lives in one object, ``_state``.
Everything else is delegated to a ``KilnClient``, which holds no global state.

The stack of active runs is per thread, as in MLflow: a run started in one thread
is not the active run of another. ``synchronous=False`` (or
``kiln.config.enable_async_logging()``) queues metrics, params and tags for
``kiln.tracking.async_logging``; ``end_run`` waits for them.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from kiln.config import Settings
from kiln.entities import (
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from kiln.errors import AlreadyExists, InvalidInput, NotFound
from kiln.tracking import async_logging, logged_model_ops, system_tags
from kiln.tracking.async_logging import RunOperations
from kiln.tracking.client import (
    KilnClient,
    now_ms,
    to_metric_value,
    to_run_status,
    to_view_type,
)
from kiln.tracking.environment import RunEnvironment

if TYPE_CHECKING:
    import pandas as pd

SEARCH_MAX_RESULTS_PANDAS = 100_000
_PAGE_SIZE = 10_000


class ActiveRun(Run):
    """The run ``start_run`` returned: a ``Run`` snapshot that is also a context manager.

    Leaving the ``with`` block ends the run: FINISHED on normal exit, KILLED on
    ``KeyboardInterrupt``, FAILED on any other exception (which still propagates).
    Runs started inside it and not yet ended are ended with the same status.
    """

    __slots__ = ()

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        stack = _state.run_stack()
        while any(entry.run.info.run_id == self.info.run_id for entry in stack):
            end_run(status)
        return False


@dataclass(frozen=True, slots=True)
class _StackEntry:
    run: ActiveRun
    client: KilnClient  # the run's store, even if the tracking URI changes meanwhile
    launcher_owned: bool = False  # joined from KILN_RUN_ID with KILN_RUN_MANAGED: not ours to end


class _FluentState:
    """The process-wide state of the fluent API (and nothing else)."""

    def __init__(self) -> None:
        self.tracking_uri: str | None = None
        self.registry_uri: str | None = None  # kiln.set_registry_uri
        self.experiment_id: str | None = None
        self.env_run_consumed = False
        self.exit_hook_registered = False
        self.clients: dict[tuple[str, str, str | None], KilnClient] = {}
        self.remembered_tags: dict[str, str] = {}  # see remember_tag
        self.lock = threading.Lock()
        self._local = threading.local()

    def run_stack(self) -> list[_StackEntry]:
        stack: list[_StackEntry] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack


_state = _FluentState()


def reset_state() -> None:
    """Forget the tracking URI, active experiment, runs and clients (runs are not ended).

    The clients' stores are closed first (a REST store's connection pool), so
    forgetting them leaks no sockets; SQL engines and artifact connections stay with
    the process's shared owners (``kiln.store.sql.engine.SHARED_ENGINES``,
    ``kiln.store.artifacts.http.SHARED_HTTP_CLIENTS``). For tests and notebooks that
    need a clean slate.
    """
    global _state
    for client in _state.clients.values():
        client.close()
    _state = _FluentState()
    logged_model_ops.reset()


# tracking URI and client ----------------------------------------------------
def set_tracking_uri(uri: str | Path) -> None:
    """Send every later fluent call to ``uri`` (overrides KILN_/MLFLOW_TRACKING_URI).

    A bare path is read as an mlruns folder. Changing the URI forgets the active
    experiment, whose id belongs to the old store.
    """
    value = str(uri)
    if not value.strip():
        raise InvalidInput("the tracking URI is empty; pass e.g. sqlite:///kiln.db")
    with _state.lock:
        if value != _state.tracking_uri:
            _state.experiment_id = None
        _state.tracking_uri = value


def forget_active_experiment() -> None:
    """Forget the active experiment: its id belongs to the store or workspace just left."""
    with _state.lock:
        _state.experiment_id = None


def get_tracking_uri() -> str:
    """The URI set in code, else ``KILN_TRACKING_URI``, ``MLFLOW_TRACKING_URI``, else
    the embedded default ``sqlite:///$KILN_HOME/kiln.db``."""
    return _state.tracking_uri or Settings.from_env().tracking_uri


def _client() -> KilnClient:
    settings = Settings.from_env()
    uri = _state.tracking_uri or settings.tracking_uri
    key = (uri, settings.workspace, settings.artifact_root)
    with _state.lock:
        client = _state.clients.get(key)
        if client is None:
            client = _state.clients[key] = KilnClient.from_uri(uri, settings)
    return client


# experiments ----------------------------------------------------------------
def set_experiment(
    experiment_name: str | None = None, experiment_id: str | None = None
) -> Experiment:
    """Make an experiment active, creating it by name if it does not exist.

    Raises:
        InvalidInput: neither or both arguments given, or the experiment is deleted.
        NotFound: no experiment has ``experiment_id``.
    """
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidInput("pass exactly one of experiment_name or experiment_id")
    client = _client()
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    else:
        assert experiment_name is not None
        found = client.get_experiment_by_name(experiment_name)
        if found is None:
            try:
                found = client.get_experiment(client.create_experiment(experiment_name))
            except AlreadyExists:  # another process created it meanwhile
                found = client.get_experiment_by_name(experiment_name)
                if found is None:
                    raise
        experiment = found
    if experiment.lifecycle_stage is not LifecycleStage.ACTIVE:
        raise InvalidInput(
            f"cannot set the deleted experiment {experiment.name!r} as the active experiment; "
            "restore it first (kiln experiments restore) or choose another name"
        )
    _state.experiment_id = experiment.experiment_id
    return experiment


def get_experiment_by_name(name: str) -> Experiment | None:
    return _client().get_experiment_by_name(name)


def _experiment_from_env(client: KilnClient, env: RunEnvironment) -> str | None:
    if env.experiment_name is not None:
        found = client.get_experiment_by_name(env.experiment_name)
        if found is None:
            return client.create_experiment(env.experiment_name)
        if env.experiment_id and env.experiment_id != found.experiment_id:
            raise InvalidInput(
                f"the experiment id {env.experiment_id!r} from the environment does not match "
                f"experiment {env.experiment_name!r} (id {found.experiment_id})"
            )
        return found.experiment_id
    if env.experiment_id is not None:
        try:
            return client.get_experiment(env.experiment_id).experiment_id
        except NotFound as exc:
            raise InvalidInput(
                f"the experiment id {env.experiment_id!r} from the environment does not exist"
            ) from exc
    return None


def _active_experiment_id(client: KilnClient) -> str:
    if _state.experiment_id is not None:
        return _state.experiment_id
    return _experiment_from_env(client, RunEnvironment.from_env()) or client.default_experiment_id()


# runs -----------------------------------------------------------------------
def _with_note(tags: Mapping[str, Any] | None, description: str | None) -> dict[str, str]:
    result = {str(k): str(v) for k, v in (tags or {}).items()}
    if description:
        if system_tags.NOTE in result:
            raise InvalidInput(
                f"the description is given twice: drop the {system_tags.NOTE!r} tag or the "
                "description argument"
            )
        result[system_tags.NOTE] = description
    return result


def _resume(client: KilnClient, run_id: str, run_name: str | None, tags: dict[str, str]) -> Run:
    run = client.get_run(run_id)
    if _state.experiment_id is not None and _state.experiment_id != run.info.experiment_id:
        raise InvalidInput(
            f"cannot resume run {run_id}: it belongs to experiment {run.info.experiment_id}, "
            f"not to the active experiment {_state.experiment_id}"
        )
    if run.info.lifecycle_stage is LifecycleStage.DELETED:
        raise InvalidInput(f"cannot resume run {run_id}: it is deleted (restore it first)")
    client.store.update_run_info(run_id, status=RunStatus.RUNNING, run_name=run_name)
    if tags:
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    return client.get_run(run_id)


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a new run, or resume one, and make it the active run.

    ``run_id`` (else ``KILN_RUN_ID``/``MLFLOW_RUN_ID``, read once per process)
    resumes that run: its status goes back to RUNNING. Otherwise a run is created
    in ``experiment_id``, else the active experiment (``set_experiment``), else the
    one named by ``KILN_EXPERIMENT_NAME``/``MLFLOW_EXPERIMENT_NAME`` or
    ``KILN_EXPERIMENT_ID``/``MLFLOW_EXPERIMENT_ID``, else ``"0"``. New runs carry
    MLflow's system tags; nested runs carry ``mlflow.parentRunId``.
    ``log_system_metrics`` (unset: ``kiln.enable_system_metrics_logging()``) logs the
    machine's CPU, memory, disk and network use while the run is active.

    Raises:
        InvalidInput: a run is already active and ``nested`` is False; the run to
            resume is deleted; ``parent_run_id`` is not the active run.
        NotFound: the run or experiment does not exist.
    """
    stack = _state.run_stack()
    if stack and not nested:
        raise InvalidInput(
            f"run {stack[0].run.info.run_id} is already active: end it with kiln.end_run() "
            "before starting a new one, or pass nested=True to start a nested run"
        )
    client = _client()
    all_tags = {**_state.remembered_tags, **_with_note(tags, description)}
    existing = run_id
    launcher_owned = False
    if existing is None and not _state.env_run_consumed:
        _state.env_run_consumed = True  # MLflow also joins the env run only once
        launched = RunEnvironment.from_env()
        existing = launched.run_id
        launcher_owned = bool(existing) and launched.managed
    if existing:
        run = _resume(client, existing, run_name, all_tags)
    else:
        if parent_run_id is not None:
            if stack and parent_run_id != stack[-1].run.info.run_id:
                raise InvalidInput(
                    f"parent_run_id {parent_run_id} is not the active run "
                    f"{stack[-1].run.info.run_id}; end the active run first"
                )
            parent = client.get_run(parent_run_id)
            if parent.info.lifecycle_stage is LifecycleStage.DELETED:
                raise InvalidInput(f"cannot start a run under the deleted run {parent_run_id}")
        elif stack:
            parent_run_id = stack[-1].run.info.run_id
        if parent_run_id is not None:
            all_tags[system_tags.PARENT_RUN_ID] = parent_run_id
        if run_name:
            all_tags[system_tags.RUN_NAME] = run_name
        exp_id = str(experiment_id) if experiment_id is not None else _active_experiment_id(client)
        run = client.create_run(
            exp_id, tags=system_tags.resolve_system_tags(all_tags), run_name=run_name
        )
    active = ActiveRun(run.info, run.data, run.inputs)
    stack.append(_StackEntry(active, client, launcher_owned))
    from kiln.tracking import system_metrics

    if log_system_metrics or (log_system_metrics is None and system_metrics.enabled()):
        system_metrics.start(client, run.info.run_id, resumed=bool(existing))
    if not _state.exit_hook_registered:
        # Registered on first use, not at import: a script that exits without
        # end_run() still leaves its runs FINISHED, as with MLflow.
        _state.exit_hook_registered = True
        atexit.register(_end_runs_at_exit)
    return active


def _end_runs_at_exit() -> None:
    while active_run() is not None:
        try:
            end_run()
        except Exception:  # the store may be gone; asynchronous failures were logged
            continue


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    """End the active run (if any) with ``status``; its parent becomes active again.

    A run joined from ``KILN_RUN_ID`` while ``KILN_RUN_MANAGED`` is set (``kiln run``
    does both) only stops being active here: its launcher sets the final status from
    the command's exit code, so it never shows FINISHED while the command still runs.

    Raises:
        KilnError: (the store's own class) asynchronous logging failed and nothing
            raised it yet; the run is ended first.
    """
    stack = _state.run_stack()
    if not stack:
        return
    final = to_run_status(status)
    entry = stack.pop()
    _state._local.last_run_id = entry.run.info.run_id  # kiln.last_active_run reads it
    from kiln.tracking import system_metrics

    system_metrics.stop(entry.run.info.run_id)
    failure = async_logging.pending_failure()  # waits for everything queued
    try:
        if not entry.launcher_owned:  # else ``kiln run`` ends it from the exit status
            entry.client.set_terminated(entry.run.info.run_id, final)
    finally:
        if failure is not None:
            raise failure


def active_run() -> ActiveRun | None:
    """The innermost active run of this thread, or None."""
    stack = _state.run_stack()
    return stack[-1].run if stack else None


def remember_tag(key: str, value: str) -> None:
    """Tag the active run (if any) and every run this process starts or joins later.

    For facts about the process rather than one run, such as the seed that
    ``kiln.seed_everything`` set before ``kiln.start_run`` was called. Tags passed
    to ``start_run`` win over remembered ones.
    """
    _state.remembered_tags[key] = value
    stack = _state.run_stack()
    if stack:
        stack[-1].client.set_tag(stack[-1].run.info.run_id, key, value)


def _target(run_id: str | None) -> tuple[KilnClient, str]:
    """The client and run a logging call goes to: ``run_id``, else the active run,
    else a new run (as MLflow does)."""
    if run_id is not None:
        return _client(), run_id
    stack = _state.run_stack()
    if not stack:
        start_run()
    entry = stack[-1]
    return entry.client, entry.run.info.run_id


# logging ----------------------------------------------------------------------
# ``synchronous=False`` (or unset after ``kiln.config.enable_async_logging()``) queues
# the call and answers a ``RunOperations`` (``kiln.tracking.async_logging``).
def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Log a write-once param on the active run; returns ``value`` (when synchronous).

    Raises:
        Conflict: the param was already logged with another value.
    """
    client, run_id = _target(None)
    if async_logging.is_async(synchronous):
        return async_logging.submit(client, run_id, params=[Param(key, str(value))])
    return client.log_param(run_id, key, value)


def log_params(
    params: Mapping[str, Any], synchronous: bool | None = None, run_id: str | None = None
) -> RunOperations | None:
    """Log several params (in batches of 100)."""
    client, target = _target(run_id)
    items = [Param(str(k), str(v)) for k, v in params.items()]
    return async_logging.send(client, target, synchronous, params=items)


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> RunOperations | None:
    """Log one metric point (``step`` defaults to 0, ``timestamp`` to now, in ms), also
    on a logged model and dataset as MLflow 3 does (``logged_model_ops.link_metrics``)."""
    client, target = _target(run_id)
    when = client.now() if timestamp is None else timestamp
    point = Metric(key, to_metric_value(key, value), when, 0 if step is None else step)
    if logged_model_ops.link_metrics(
        client, target, [point], model_id, dataset, first_model_only=True
    ):
        return None  # a server logged the run's point with the model's
    if not async_logging.is_async(synchronous):
        client.log_metric(target, key, value, timestamp=when, step=step)
        return None
    return async_logging.submit(client, target, metrics=(point,))


def log_metrics(
    metrics: Mapping[str, float],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> RunOperations | None:
    """Log several metrics at one step and timestamp (in batches of 1000); ``model_id``
    and ``dataset`` as in ``log_metric``."""
    client, target = _target(run_id)
    when = now_ms() if timestamp is None else timestamp
    items = [
        Metric(str(k), to_metric_value(str(k), v), when, 0 if step is None else step)
        for k, v in metrics.items()
    ]
    if logged_model_ops.link_metrics(client, target, items, model_id, dataset):
        return None  # a server logged the run's points with the model's
    return async_logging.send(client, target, synchronous, metrics=items)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> RunOperations | None:
    client, run_id = _target(None)
    if async_logging.is_async(synchronous):
        return async_logging.submit(client, run_id, tags=[RunTag(key, str(value))])
    client.set_tag(run_id, key, value)
    return None


def set_tags(
    tags: Mapping[str, Any], synchronous: bool | None = None, run_id: str | None = None
) -> RunOperations | None:
    """Set several tags (in batches of 100)."""
    client, target = _target(run_id)
    items = [RunTag(str(k), str(v)) for k, v in tags.items()]
    return async_logging.send(client, target, synchronous, tags=items)


def log_input(
    dataset: Any,
    context: str | None = None,
    tags: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> None:
    """Log a dataset the active run used, as ``mlflow.log_input`` does.

    ``dataset`` is a kiln ``Dataset``, a pandas DataFrame, a file path or an
    MLflow dataset (``kiln.tracking.datasets.dataset_from`` computes digest,
    schema and profile); ``context`` (``"training"``, ``"eval"``, ...) is stored
    as the input tag ``mlflow.data.context``. Logging the same dataset to the
    run again changes nothing.
    """
    client, target = _target(run_id)
    client.log_input(target, dataset, context=context, tags=tags)


# reading ----------------------------------------------------------------------
def get_run(run_id: str) -> Run:
    return _client().get_run(run_id)


def get_metric_history(run_id: str, key: str) -> list[Metric]:
    return _client().get_metric_history(run_id, key)


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: ViewType | str | int = ViewType.ACTIVE_ONLY,
    max_results: int = SEARCH_MAX_RESULTS_PANDAS,
    order_by: Sequence[str] | None = None,
    output_format: Literal["pandas", "list"] = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> pd.DataFrame | list[Run]:
    """Search runs as MLflow does, fetching every page up to ``max_results``.

    With neither ``experiment_ids`` nor ``experiment_names`` the active experiment
    is searched (every active experiment with ``search_all_experiments``). Unknown
    experiment names are skipped.

    Returns:
        A DataFrame (``output_format="pandas"``) with MLflow's columns, or a list of runs.

    Raises:
        InvalidInput: both ids and names given, a bad filter, or a bad output format.
    """
    if output_format not in ("pandas", "list"):
        raise InvalidInput(f"unsupported output format {output_format!r}: use 'pandas' or 'list'")
    if experiment_ids and experiment_names:
        raise InvalidInput("pass experiment_ids or experiment_names, not both")
    client = _client()
    view = to_view_type(run_view_type)
    if experiment_names:
        found = [client.get_experiment_by_name(n) for n in experiment_names]
        ids = [e.experiment_id for e in found if e is not None]
    elif experiment_ids:
        ids = [experiment_ids] if isinstance(experiment_ids, str) else list(experiment_ids)
    elif search_all_experiments:
        ids = []
        token: str | None = None
        while True:
            page = client.search_experiments(page_token=token)
            ids.extend(e.experiment_id for e in page)
            token = page.next_page_token
            if not token:
                break
    else:
        ids = [_active_experiment_id(client)]
    runs: list[Run] = []
    if ids:
        runs = list(
            client.iter_runs(ids, filter_string, view, max_results, order_by, page_size=_PAGE_SIZE)
        )
    if output_format == "list":
        return runs
    from kiln.tracking.frames import runs_to_frame

    return runs_to_frame(runs)


__all__ = [
    "ActiveRun",
    "active_run",
    "end_run",
    "get_experiment_by_name",
    "get_metric_history",
    "get_run",
    "get_tracking_uri",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "reset_state",
    "search_runs",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
