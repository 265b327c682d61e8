"""The scikit-learn API of XGBoost and LightGBM under autolog, as MLflow patches it.

``XGBClassifier.fit``, ``LGBMRegressor.fit``, ... train through the flavor's
patched ``train`` (params, metrics, importance and datasets are logged there,
the Booster is not); afterwards the fitted wrapper itself is logged as the
model, with the input example taken from ``X`` before the fit. A wrapper's fit
inside another wrapper's fit (``LGBMClassifier.fit`` calling ``LGBMModel.fit``)
is one session and logs once.

Post-training metrics follow, as MLflow's autolog logs them for these wrappers
(``kiln.models.autolog.sklearn_post``): a fitted wrapper's ``predict`` and
``score`` and the ``sklearn.metrics`` functions called on its predictions log
``<metric>_<dataset variable>`` to its run, with ``metric_info.json`` and the
eval dataset. The metric functions are wrapped around what is there (the
scikit-learn autolog's wrappers included), once for both flavors.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from copy import deepcopy
from typing import Any

from kiln.models.autolog.boosting import (
    SESSIONS,
    Config,
    Example,
    example_and_signature,
    first_argument,
    managed_run,
    may_log,
    take_example,
)
from kiln.models.autolog.patching import Patches, quiet, rerouted_warnings
from kiln.models.autolog.sklearn_post import (
    PREDICT_METHODS,
    PostTraining,
    metric_names,
    metric_wrapper,
    predict_wrapper,
    score_wrapper,
)

LogModel = Callable[[Config, Any, Any, Any], None]  # (config, model, example, signature)


def fit_wrapper(
    config_of: Callable[[], Config | None], log_model: LogModel, log: logging.Logger
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``make(original)`` for ``Patches.patch_method`` on the wrappers' ``fit``."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
            config = config_of()
            if not may_log(config):
                return original(self, *args, **kwargs)
            assert config is not None
            with SESSIONS.session(self, allow_children=True) as should_log:
                if not should_log:
                    return original(self, *args, **kwargs)
                return _logged_fit(config, log_model, log, original, self, args, kwargs)

        return patched

    return make


def _logged_fit(
    config: Config,
    log_model: LogModel,
    log: logging.Logger,
    original: Callable[..., Any],
    model: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    with quiet(log, config.silent), managed_run(config, log) as run:
        if run is None:
            return original(model, *args, **kwargs)
        try:
            example = take_example(first_argument(model.fit, args, kwargs))
        except Exception as exc:
            example = Example(error=str(exc))
        POST.runs.pop(model, None)  # a refit: its run is the new one, once logged
        with POST.paused():
            result = original(model, *args, **kwargs)
        if config.log_models:
            with rerouted_warnings(log):
                try:
                    rows, signature = example_and_signature(
                        config, example, lambda rows: model.predict(deepcopy(rows)), log
                    )
                    log_model(config, model, rows, signature)
                except Exception as exc:
                    log.warning("the model is not logged: %s", exc)
        if config.flavor in _users:  # after the model's own predictions (its signature)
            POST.runs[model] = run.info.run_id
        return result


POST = PostTraining()  # the fitted wrappers of both flavors and their predictions
_users: set[str] = set()  # the flavors whose wrappers log post-training metrics
_metrics: list[tuple[str, Any, Any]] = []  # (name, before, wrapper) in sklearn.metrics
_ORIGINAL = "__kiln_autolog_original__"


def start_post_training(
    flavor: str, patches: Patches, classes: Sequence[type], log_datasets: bool
) -> None:
    """Patch the wrappers' predict methods and score, and (once) ``sklearn.metrics``."""
    for cls in classes:
        for name in PREDICT_METHODS:
            patches.patch_method(cls, name, predict_wrapper(POST))
        patches.patch_method(cls, "score", score_wrapper(POST))
    POST.log_datasets = log_datasets
    if not _users:
        _patch_metrics()
    _users.add(flavor)


def stop_post_training(flavor: str) -> None:
    """The flavor's wrappers log no more; the metric functions are put back when
    neither flavor is on (unless something wrapped them since)."""
    _users.discard(flavor)
    if _users:
        return
    import sklearn.metrics

    while _metrics:
        name, before, wrapper = _metrics.pop()
        if getattr(sklearn.metrics, name, None) is wrapper:
            setattr(sklearn.metrics, name, before)
    POST.runs.clear()


def _patch_metrics() -> None:
    import sklearn.metrics

    for name in metric_names():
        before = getattr(sklearn.metrics, name)
        wrapper = metric_wrapper(POST)(before)
        functools.update_wrapper(wrapper, before)
        # Not marked as a Kiln patch of the original: a scikit-learn autolog turned
        # on later wraps this wrapper instead of replacing it.
        wrapper.__dict__.pop(_ORIGINAL, None)
        setattr(sklearn.metrics, name, wrapper)
        _metrics.append((name, before, wrapper))


__all__ = ["POST", "LogModel", "fit_wrapper", "start_post_training", "stop_post_training"]
