"""The scikit-learn API of XGBoost and LightGBM under autolog, as MLflow patches it.

``XGBClassifier.fit``, ``LGBMRegressor.fit``, ... train through the flavor's
patched ``train`` (params, metrics, importance and datasets are logged there,
the Booster is not); afterwards the fitted wrapper itself is logged as the
model, with the input example taken from ``X`` before the fit. A wrapper's fit
inside another wrapper's fit (``LGBMClassifier.fit`` calling ``LGBMModel.fit``)
is one session and logs once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
from kiln.models.autolog.patching import quiet, rerouted_warnings

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
        return result


__all__ = ["LogModel", "fit_wrapper"]
