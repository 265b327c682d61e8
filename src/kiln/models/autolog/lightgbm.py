"""LightGBM autolog: what ``mlflow.lightgbm.autolog()`` logs, under the same names.

``lightgbm.train`` (also as ``lightgbm.sklearn.train``) logs to the active run
or to a run it starts (tagged ``mlflow.autologging=lightgbm``):

* params: the booster params dict, then ``train``'s other arguments with their
  defaults (``num_boost_round``, ``keep_training_booster``);
* metrics: ``<valid name>-<metric>`` at each iteration (step = iteration) for
  ``valid_sets``; when training stopped early (``best_iteration > 0``) also
  ``stopped_iteration``, ``best_iteration`` and the best iteration's metrics one
  step after the last;
* artifacts: ``feature_importance_split``/``_gain`` ``.json`` and ``.png``, and
  the Booster at ``model`` (``kiln.lightgbm.log_model``; the input example is
  the first rows given to ``lightgbm.Dataset``, which autolog patches to keep);
* datasets: the training set (context ``train``) and each of ``valid_sets``
  (``eval``, named by ``valid_names``).

The scikit-learn wrappers (``LGBMClassifier``, ``LGBMRegressor``, ...) log the
same through ``train`` and the fitted wrapper as the model, serialized with
skops as MLflow 3 does (cloudpickle when skops is not installed).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Mapping
from typing import Any

from kiln.models.autolog.boosting import (
    SESSIONS,
    Config,
    MetricsBatch,
    example_and_signature,
    example_of,
    log_early_stopping,
    may_log,
)
from kiln.models.autolog.boosting_content import log_dataset, log_importance
from kiln.models.autolog.boosting_train import BoostingAutolog, Trained
from kiln.models.autolog.runs import checked_tags

FLAVOR_NAME = "lightgbm"
IMPORTANCE_TYPES = ("split", "gain")
_UNLOGGED = (
    "params",
    "train_set",
    "valid_sets",
    "valid_names",
    "fobj",
    "feval",
    "init_model",
    "learning_rates",
    "callbacks",
)
_log = logging.getLogger("kiln.autolog.lightgbm")


def _callback(batch: MetricsBatch) -> Callable[[Any], None]:
    """A LightGBM callback recording each iteration's evaluation results."""

    def record(env: Any) -> None:
        try:
            values = {
                f"{entry[0]}-{entry[1]}": float(entry[2]) for entry in env.evaluation_result_list
            }
            batch.record(values, env.iteration)
        except Exception as exc:
            _log.warning("the metrics of iteration %s are not logged: %s", env.iteration, exc)

    return record


def _log_datasets(run_id: str, train_set: Any, kwargs: Mapping[str, Any]) -> None:
    log_dataset(run_id, train_set.data, train_set.label, "train", None, _log)
    valid_sets = kwargs.get("valid_sets")
    if valid_sets is None:
        return
    names = kwargs.get("valid_names")
    if names is None:
        for valid in valid_sets:
            log_dataset(run_id, valid.data, valid.label, "eval", None, _log)
        return
    for valid, name in zip(valid_sets, names, strict=False):
        log_dataset(run_id, valid.data, valid.label, "eval", name, _log)


def _log_model(config: Config, model: Any, example: Any, signature: Any) -> None:
    import lightgbm

    from kiln.models import lightgbm as flavor

    options: dict[str, Any] = {}
    if not isinstance(model, lightgbm.Booster):
        skops = importlib.util.find_spec("skops") is not None
        options["serialization_format"] = "skops" if skops else "cloudpickle"
    flavor.log_model(
        model,
        "model",
        signature=signature,
        input_example=example,
        registered_model_name=config.registered_model_name,
        **options,
    )


def _feature_importance(run_id: str, model: Any) -> None:
    for importance_type in IMPORTANCE_TYPES:
        try:
            values = model.feature_importance(importance_type=importance_type).tolist()
            importance = dict(zip(model.feature_name(), values, strict=True))
        except Exception as exc:
            _log.warning("the feature importance %s is not logged: %s", importance_type, exc)
            continue
        log_importance(run_id, importance_type, importance, _log, indent=2)


def _after_train(trained: Trained) -> None:
    """The early-stopping metrics, the feature importance and the model."""
    model, batch = trained.model, trained.batch
    best = int(model.best_iteration)
    if best > 0 and batch.results:
        step = len(batch.results)
        log_early_stopping(trained.run_id, step, best, batch.results[best - 1], step)
    _feature_importance(trained.run_id, model)
    if trained.log_models:
        rows, signature = example_and_signature(
            trained.config, example_of(trained.data), model.predict, _log
        )
        _log_model(trained.config, model, rows, signature)


_state = BoostingAutolog(
    name=FLAVOR_NAME,
    log=_log,
    data_class="Dataset",
    data_argument="train_set",
    unlogged=_UNLOGGED,
    callback=_callback,
    log_datasets=_log_datasets,
    after_train=_after_train,
    log_model=_log_model,
)


def _train_wrapper(log_models: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def patched(*args: Any, **kwargs: Any) -> Any:
            config = _state.config
            if not may_log(config):
                return original(*args, **kwargs)
            assert config is not None
            with SESSIONS.session(_state.train, allow_children=False) as should_log:
                if not should_log:
                    return original(*args, **kwargs)
                logs_model = log_models and config.log_models
                return _state.logged_train(config, logs_model, original, args, kwargs)

        return patched

    return make


def sklearn_estimators() -> list[type]:
    """The LightGBM scikit-learn wrappers MLflow patches (``LGBMModel`` and subclasses)."""
    import inspect

    import lightgbm.sklearn

    base = getattr(lightgbm.sklearn, "_LGBMModelBase")  # noqa: B009  # private to mypy
    return [
        cls
        for _, cls in inspect.getmembers(lightgbm.sklearn, inspect.isclass)
        if cls.__module__.split(".")[0] == FLAVOR_NAME and issubclass(cls, base) and cls is not base
    ]


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Turn LightGBM autolog on (again, with these settings) or off (``disable``).

    Raises:
        InvalidInput: ``extra_tags`` that is not a mapping.
    """
    tags = checked_tags(extra_tags)
    _state.turn_off()
    if disable:
        return
    import lightgbm
    import lightgbm.sklearn

    config = Config(
        flavor=FLAVOR_NAME,
        log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures,
        log_models=log_models,
        log_datasets=log_datasets,
        exclusive=exclusive,
        silent=silent,
        registered_model_name=registered_model_name,
        extra_tags=tags,
    )
    _state.turn_on(config, lightgbm, _train_wrapper, sklearn_estimators())


def enabled() -> bool:
    """Whether LightGBM autolog is on in this process."""
    return _state.config is not None


__all__ = ["FLAVOR_NAME", "autolog", "enabled", "sklearn_estimators"]
