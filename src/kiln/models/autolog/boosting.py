"""What the XGBoost and LightGBM autologs share (MLflow logs both the same way).

A native ``train`` call logs its params (the booster params dict and the
function's other arguments, defaults included), one metric point per
evaluation set and metric at each iteration (``<set>-<metric>``, ``@`` spelled
``_at_``), with early stopping ``stopped_iteration``/``best_iteration`` and the
best iteration's metrics again one step after the last, the feature importance
as ``feature_importance_<type>.json`` and ``.png``, and the datasets. The
scikit-learn wrappers' ``fit`` logs through the same ``train`` (no model there)
and then logs the wrapper as the model. Training sessions follow MLflow's
``_SklearnTrainingSession``: a fit inside another logged fit logs nothing, and
neither does any fit inside a scikit-learn autolog fit (a ``Pipeline`` or
``GridSearchCV`` around a booster logs one run, the scikit-learn one). The
importance files and datasets are in ``kiln.models.autolog.boosting_content``.
"""

from __future__ import annotations

import inspect
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kiln.entities import Metric
from kiln.models.autolog.patching import truncate_params
from kiln.models.autolog.runs import Settings, left_alone

INPUT_EXAMPLE_ROWS = 5
NO_EXAMPLE = (
    "please ensure that autologging is enabled before constructing the dataset "
    "(the input example is taken when the DMatrix or Dataset is built)"
)
_EXAMPLE_ATTRIBUTE = "_kiln_autolog_input_example"
_BATCH = 1000  # the store's most metrics in one batch
_FLUSH_SECONDS = 1.0
_V = TypeVar("_V")


@dataclass
class Config(Settings):
    """One flavor's ``autolog(...)`` settings."""

    flavor: str = field(kw_only=True)
    log_input_examples: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # importance_types, model_format


# training sessions ------------------------------------------------------------
@dataclass
class _Session:
    estimator: object
    allow_children: bool
    parent: _Session | None


class Sessions:
    """MLflow's ``_SklearnTrainingSession`` stack, shared by both flavors."""

    def __init__(self) -> None:
        self._stack: list[_Session] = []
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self._stack)

    def current_should_log(self) -> bool:
        """Whether the innermost session logs (True when there is none)."""
        return not self._stack or self._should_log(self._stack[-1])

    def _should_log(self, session: _Session) -> bool:
        for other in self._stack:
            if other is session:
                break
            if other.estimator is session.estimator:
                return False
        return session.parent is None or session.parent.allow_children

    @contextmanager
    def session(self, estimator: object, allow_children: bool) -> Iterator[bool]:
        """Yields whether this fit logs."""
        with self._lock:
            parent = self._stack[-1] if self._stack else None
            allow = allow_children and (parent is None or parent.allow_children)
            entry = _Session(estimator, allow, parent)
            self._stack.append(entry)
            should_log = self._should_log(entry)
        try:
            yield should_log
        finally:
            with self._lock:
                self._stack.remove(entry)


SESSIONS = Sessions()


class Suspension:
    """Autolog off for a while, in every thread (MLflow's ``disable_autologging``)."""

    def __init__(self) -> None:
        self.depth = 0
        self._lock = threading.Lock()

    @contextmanager
    def suspended(self) -> Iterator[None]:
        with self._lock:
            self.depth += 1
        try:
            yield
        finally:
            with self._lock:
                self.depth -= 1


SUSPENDED = Suspension()


def inside_sklearn_fit() -> bool:
    """Whether a scikit-learn autolog fit is under way (it logs the run, not us)."""
    module = sys.modules.get("kiln.models.autolog.sklearn")
    state = getattr(module, "_state", None)
    return bool(state is not None and state.sessions.active)


def may_log(config: Config | None) -> bool:
    """Whether a patched call may log at all, before any session is opened."""
    if config is None or SUSPENDED.depth or inside_sklearn_fit():
        return False
    return not left_alone(config.exclusive, SESSIONS.active)


# params -----------------------------------------------------------------------
def call_params(
    function: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    unlogged: Sequence[str],
) -> dict[str, Any]:
    """The arguments of a call by name, defaults for the ones not passed, minus ``unlogged``
    (MLflow's ``get_mlflow_run_params_for_fn_args``)."""
    spec = [p for p in inspect.signature(function).parameters.values() if p.name != "self"]
    params: dict[str, Any] = {
        p.name: value for p, value in zip(spec[: len(args)], args, strict=False)
    }
    params.update(kwargs)
    params.update({p.name: p.default for p in spec[len(args) :] if p.name not in kwargs})
    return {k: v for k, v in params.items() if k not in unlogged}


def log_params(run_id: str, booster_params: Any, call: Mapping[str, Any]) -> None:
    """The booster params dict and then the call's own arguments."""
    from kiln.tracking import fluent

    if booster_params:
        fluent.log_params(truncate_params(dict(booster_params)), run_id=run_id)
    fluent.log_params(truncate_params(call), run_id=run_id)


def with_callback(
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    callback: Any,
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call's arguments with ``callback`` added to its ``callbacks`` (the user's list
    is copied, not changed)."""
    index = list(inspect.signature(function).parameters).index("callbacks")
    if len(args) > index:
        listed = list(args)
        listed[index] = [*(listed[index] or []), callback]
        return tuple(listed), kwargs
    return args, {**kwargs, "callbacks": [*(kwargs.get("callbacks") or []), callback]}


# metrics ----------------------------------------------------------------------
def metric_names(values: Mapping[str, _V]) -> dict[str, _V]:
    """``ndcg@3`` is no valid metric name: MLflow logs it as ``ndcg_at_3``."""
    return {name.replace("@", "_at_"): value for name, value in values.items()}


class MetricsBatch:
    """Per-iteration metrics, sent in batches (at most every second, and at the end)."""

    def __init__(self, run_id: str, log: logging.Logger) -> None:
        self.run_id = run_id
        self.log = log
        self.results: list[dict[str, float]] = []  # one entry per iteration
        self._pending: list[Metric] = []
        self._last = time.monotonic()

    def record(self, values: Mapping[str, float], step: int) -> None:
        from kiln.tracking.client import now_ms

        values = metric_names(values)
        self.results.append(dict(values))
        when = now_ms()
        self._pending += [Metric(k, float(v), when, int(step)) for k, v in values.items()]
        if time.monotonic() - self._last >= _FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        from kiln.tracking.fluent import _target

        pending, self._pending = self._pending, []
        self._last = time.monotonic()
        if not pending:
            return
        client, run_id = _target(self.run_id)
        try:
            for start in range(0, len(pending), _BATCH):
                client.log_batch(run_id, metrics=pending[start : start + _BATCH])
        except Exception as exc:
            self.log.warning("per-iteration metrics are not logged: %s", exc)


def log_early_stopping(
    run_id: str, stopped: int, best: int, best_results: Mapping[str, float], step: int
) -> None:
    """``stopped_iteration`` and ``best_iteration`` (step 0), the best iteration's
    metrics again at ``step`` (one after the last iteration)."""
    from kiln.tracking import fluent

    fluent.log_metrics({"stopped_iteration": stopped, "best_iteration": best}, run_id=run_id)
    if best_results:
        fluent.log_metrics(dict(best_results), step=step, run_id=run_id)


# input example and signature ---------------------------------------------------
@dataclass(frozen=True)
class Example:
    """The first rows of a training set, or why there are none."""

    rows: Any = None
    error: str | None = None


def take_example(data: Any) -> Example:
    try:
        if isinstance(data, str | Path):
            raise ValueError("cannot gather example input when dataset is loaded from a file.")
        return Example(rows=deepcopy(data[:INPUT_EXAMPLE_ROWS]))
    except Exception as exc:
        return Example(error=str(exc))


def remember_example(target: Any, data: Any) -> None:
    """Keep the first rows of a DMatrix's or Dataset's data on it (they cannot be read back)."""
    if data is not None:
        try:
            setattr(target, _EXAMPLE_ATTRIBUTE, take_example(data))
        except Exception:  # an object that takes no attributes keeps no example
            return


def example_of(target: Any) -> Example:
    found = getattr(target, _EXAMPLE_ATTRIBUTE, None)
    return found if isinstance(found, Example) else Example(error=NO_EXAMPLE)


def example_and_signature(
    config: Config, example: Example, predict: Callable[[Any], Any], log: logging.Logger
) -> tuple[Any, Any]:
    """MLflow's ``resolve_input_example_and_signature``: each only when asked for.

    The signature is ``False`` (none, and none inferred from the example when the
    model is saved) when it was not asked for or could not be inferred.
    """
    from kiln.models.signature import infer_signature

    if not (config.log_input_examples or config.log_model_signatures):
        return None, None
    if example.error is not None:
        log.warning("no input example could be taken from the training data: %s", example.error)
        return None, None
    signature: Any = False
    if config.log_model_signatures:
        try:
            signature = infer_signature(example.rows, predict(deepcopy(example.rows)))
        except Exception as exc:
            log.warning("the model signature could not be inferred: %s", exc)
    return (example.rows if config.log_input_examples else None), signature


def first_argument(
    fit: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> Any:
    """X of a scikit-learn style ``fit(X, y, ...)`` call."""
    if args:
        return args[0]
    names = [name for name in inspect.signature(fit).parameters if name != "self"]
    return kwargs.get(names[0] if names else "X")


__all__ = [
    "INPUT_EXAMPLE_ROWS",
    "SESSIONS",
    "SUSPENDED",
    "Config",
    "Example",
    "MetricsBatch",
    "Sessions",
    "Suspension",
    "call_params",
    "example_and_signature",
    "example_of",
    "first_argument",
    "inside_sklearn_fit",
    "log_early_stopping",
    "log_params",
    "may_log",
    "metric_names",
    "remember_example",
    "take_example",
    "with_callback",
]
