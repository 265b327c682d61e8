"""Post-training metrics of scikit-learn autolog, named as MLflow names them.

After an autologged fit, the model remembers its run. Its ``predict`` (and
``predict_proba``, ``predict_log_proba``, ``transform``) remembers which
dataset each result came from, by the caller's variable name (``X_test``).
Then ``model.score(X_test, y_test)`` logs ``<Class>_score_X_test``, and a
``sklearn.metrics.<fn>(y_test, result)`` call (through the module, as MLflow
patches it) logs ``<fn>_X_test`` to that run; a second call of the same metric
on a run logs ``<fn>-2_X_test``, a second dataset of the same name is
``X_test-2``. ``metric_info.json`` maps every key to the call that made it.
Each predicted dataset is logged as an input with context ``eval``.
"""

from __future__ import annotations

import inspect
import logging
import threading
import weakref
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

_log = logging.getLogger("kiln.autolog.sklearn")
PREDICT_METHODS = ("predict", "predict_proba", "transform", "predict_log_proba")
_EXCLUDED_METRICS = ("check_scoring", "get_scorer", "make_scorer", "get_scorer_names")


def metric_names() -> list[str]:
    """The ``sklearn.metrics`` functions MLflow patches."""
    from sklearn import metrics

    return [
        name
        for name in metrics.__all__
        if name not in _EXCLUDED_METRICS
        and not name.startswith("plot_")
        and callable(getattr(metrics, name, None))
        and not inspect.isclass(getattr(metrics, name))
    ]


def variable_name(value: Any, fallback: str, frame: FrameType | None) -> str:
    """The name the outermost caller gave ``value``: frames that got it as an argument
    are passed over, the first that holds it as a plain local names it."""
    try:
        while frame is not None:
            info = inspect.getargvalues(frame)
            passed = [info.locals[name] for name in info.args]
            if info.varargs:
                passed += list(info.locals[info.varargs])
            if info.keywords:
                passed += list(info.locals[info.keywords].values())
            if any(value is arg for arg in passed):
                frame = frame.f_back
                continue
            return next((k for k, v in frame.f_locals.items() if v is value), fallback)
    except Exception:
        return fallback
    return fallback


def _loggable(value: Any) -> bool:
    import numpy as np

    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _with_index(name: str, index: int) -> str:
    return name if index == 0 else f"{name}-{index + 1}"


class PostTraining:
    """What links fitted models, their predictions and metric calls to runs."""

    def __init__(self) -> None:
        self.runs: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        self._datasets: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self._results: dict[int, tuple[str, str]] = {}
        self._calls: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self._busy = threading.local()
        self.log_datasets = True

    @property
    def busy(self) -> bool:
        return bool(getattr(self._busy, "depth", 0))

    @contextmanager
    def paused(self) -> Any:
        """No post-training logging inside (a metric that calls another, a fit)."""
        self._busy.depth = getattr(self._busy, "depth", 0) + 1
        try:
            yield
        finally:
            self._busy.depth -= 1

    def dataset_name(self, run_id: str, data: Any, frame: FrameType | None) -> str:
        name = variable_name(data, "unknown_dataset", frame)
        seen = self._datasets[run_id][name]
        if id(data) not in seen:
            seen.append(id(data))
        return _with_index(name, seen.index(id(data)))

    def remember_result(self, run_id: str, dataset: str, result: Any) -> None:
        key = id(result)
        self._results[key] = (dataset, run_id)
        with suppress(TypeError):  # not weak-referenceable: the id may be reused later
            weakref.finalize(result, self._results.pop, key, None)

    def result_of(self, args: list[Any]) -> tuple[str, str] | None:
        import numpy as np

        for arg in args:
            if arg is not None and not np.isscalar(arg) and id(arg) in self._results:
                return self._results[id(arg)]
        return None

    def log(self, run_id: str, name: str, dataset: str, command: str, value: Any) -> None:
        from kiln.tracking import fluent, fluent_artifacts

        calls = self._calls[run_id][name]
        key = f"{_with_index(name, len(calls))}_{dataset}"
        calls.append((key, command))
        fluent.log_metrics({key: float(value)}, run_id=run_id)
        every = sorted(item for made in self._calls[run_id].values() for item in made)
        fluent_artifacts.log_dict(dict(every), "metric_info.json", run_id=run_id)


def _command(name: str, function: Callable[..., Any], args: Any, kwargs: Any, frame: Any) -> str:
    import numpy as np

    def text(arg: Any) -> str:
        if arg is None or np.isscalar(arg):
            if isinstance(arg, str) and len(arg) > 32:
                return repr(arg[:32] + "...")
            return repr(arg)
        return variable_name(arg, f"<{type(arg).__name__}>", frame)

    try:
        names = [p for p in inspect.signature(function).parameters if p != "self"]
    except (TypeError, ValueError):
        names = []
    parts = [f"{n}={text(a)}" for n, a in zip(names, args, strict=False)]
    parts += [f"{n}={text(a)}" for n, a in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def _eval_input(run_id: str, data: Any) -> None:
    from kiln.models.autolog.sklearn_content import training_dataset
    from kiln.tracking import fluent

    try:
        dataset = training_dataset(data, None)
        if dataset is not None:
            fluent.log_input(dataset, context="eval", run_id=run_id)
    except Exception as exc:
        _log.warning("the evaluation dataset is not logged: %s", exc)


def predict_wrapper(state: PostTraining) -> Callable[[Any], Callable[..., Any]]:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def predicted(self: Any, *args: Any, **kwargs: Any) -> Any:
            run_id = state.runs.get(self)
            if run_id is None or state.busy:
                return original(self, *args, **kwargs)
            with state.paused():
                result = original(self, *args, **kwargs)
            try:
                data = args[0] if args else next(iter(kwargs.values()), None)
                frame = inspect.currentframe()
                name = state.dataset_name(run_id, data, frame.f_back if frame else None)
                state.remember_result(run_id, name, result)
                if state.log_datasets:
                    _eval_input(run_id, data)
            except Exception as exc:
                _log.warning("post-training prediction not recorded: %s", exc)
            return result

        return predicted

    return make


def score_wrapper(state: PostTraining) -> Callable[[Any], Callable[..., Any]]:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def scored(self: Any, *args: Any, **kwargs: Any) -> Any:
            run_id = state.runs.get(self)
            if run_id is None or state.busy:
                return original(self, *args, **kwargs)
            with state.paused():
                value = original(self, *args, **kwargs)
            try:
                if _loggable(value):
                    frame = inspect.currentframe()
                    caller = frame.f_back if frame else None
                    data = args[0] if args else next(iter(kwargs.values()), None)
                    dataset = state.dataset_name(run_id, data, caller)
                    label = f"{type(self).__name__}.{original.__name__}"
                    command = _command(label, original, args, kwargs, caller)
                    state.log(run_id, f"{type(self).__name__}_score", dataset, command, value)
            except Exception as exc:
                _log.warning("post-training score not logged: %s", exc)
            return value

        return scored

    return make


def metric_wrapper(state: PostTraining) -> Callable[[Any], Callable[..., Any]]:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def measured(*args: Any, **kwargs: Any) -> Any:
            if state.busy:
                return original(*args, **kwargs)
            with state.paused():
                value = original(*args, **kwargs)
            try:
                found = state.result_of([*args, *kwargs.values()])
                if found is not None and _loggable(value):
                    dataset, run_id = found
                    frame = inspect.currentframe()
                    caller = frame.f_back if frame else None
                    name = original.__name__
                    command = _command(name, original, args, kwargs, caller)
                    state.log(run_id, name, dataset, command, value)
            except Exception as exc:
                _log.warning("post-training metric not logged: %s", exc)
            return value

        return measured

    return make


__all__ = [
    "PREDICT_METHODS",
    "PostTraining",
    "metric_names",
    "metric_wrapper",
    "predict_wrapper",
    "score_wrapper",
    "variable_name",
]
