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
eval dataset. As in MLflow, fits inside scikit-learn's cross-validation
functions (``cross_val_score``, ...) log nothing. The scikit-learn functions are
wrapped around what is there (the scikit-learn autolog's wrappers included), once
for both flavors.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from copy import deepcopy
from typing import Any

from kiln.models.autolog.boosting import (
    SESSIONS,
    SUSPENDED,
    Config,
    Example,
    example_and_signature,
    first_argument,
    may_log,
    take_example,
)
from kiln.models.autolog.patching import Patches
from kiln.models.autolog.runs import autolog_run, guarded
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
    with autolog_run(config.flavor, config.extra_tags, log, config.silent) as run:
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
            with guarded(log, "the model is not logged"):
                rows, signature = example_and_signature(
                    config, example, lambda rows: model.predict(deepcopy(rows)), log
                )
                log_model(config, model, rows, signature)
        if config.flavor in _users:  # after the model's own predictions (its signature)
            POST.runs[model] = run.info.run_id
        return result


POST = PostTraining()  # the fitted wrappers of both flavors and their predictions
_users: set[str] = set()  # the flavors on: their wrappers log post-training metrics
_wrapped: list[tuple[Any, str, Any, Any]] = []  # (module, name, before, wrapper)
_ORIGINAL = "__kiln_autolog_original__"


def start_post_training(
    flavor: str, patches: Patches, classes: Sequence[type], log_datasets: bool
) -> None:
    """Patch the wrappers' predict methods and score, and (once for both flavors)
    ``sklearn.metrics`` and the cross-validation functions (no runs inside them)."""
    for cls in classes:
        for name in PREDICT_METHODS:
            patches.patch_method(cls, name, predict_wrapper(POST))
        patches.patch_method(cls, "score", score_wrapper(POST))
    POST.log_datasets = log_datasets
    if not _users:
        _patch_sklearn_functions()
    _users.add(flavor)


def stop_post_training(flavor: str) -> None:
    """The flavor's wrappers log no more; the scikit-learn functions are put back
    when neither flavor is on (unless something wrapped them since)."""
    _users.discard(flavor)
    if _users:
        return
    while _wrapped:
        module, name, before, wrapper = _wrapped.pop()
        if getattr(module, name, None) is wrapper:
            setattr(module, name, before)
    POST.runs.clear()


def _wrap(module: Any, name: str, make: Callable[[Any], Callable[..., Any]]) -> None:
    before = getattr(module, name, None)
    if before is None:
        return
    wrapper = make(before)
    functools.update_wrapper(wrapper, before)
    # Not marked as a Kiln patch of the original: a scikit-learn autolog turned on
    # later wraps this wrapper instead of replacing it, and puts it back when off.
    wrapper.__dict__.pop(_ORIGINAL, None)
    setattr(module, name, wrapper)
    _wrapped.append((module, name, before, wrapper))


def _unlogged(original: Callable[..., Any]) -> Callable[..., Any]:
    def unlogged(*args: Any, **kwargs: Any) -> Any:
        with SUSPENDED.suspended():
            return original(*args, **kwargs)

    return unlogged


def _patch_sklearn_functions() -> None:
    import sklearn.metrics
    import sklearn.model_selection

    from kiln.models.autolog.sklearn import UNLOGGED_APIS

    for name in metric_names():
        _wrap(sklearn.metrics, name, metric_wrapper(POST))
    for name in UNLOGGED_APIS:
        _wrap(sklearn.model_selection, name, _unlogged)


__all__ = ["POST", "LogModel", "fit_wrapper", "start_post_training", "stop_post_training"]
