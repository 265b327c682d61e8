"""XGBoost autolog: what ``mlflow.xgboost.autolog()`` logs, under the same names.

``xgboost.train`` (also as ``xgboost.sklearn.train``) logs to the active run or
to a run it starts (tagged ``mlflow.autologging=xgboost``):

* params: the booster params dict, then ``train``'s other arguments with their
  defaults (``num_boost_round``, ``early_stopping_rounds``, ``maximize``,
  ``verbose_eval``, ``custom_metric``), as MLflow logs them;
* metrics: ``<eval name>-<metric>`` at each iteration (step = iteration) for
  ``evals``; with ``early_stopping_rounds`` also ``stopped_iteration``,
  ``best_iteration`` and the best iteration's metrics one step after the last;
* artifacts: ``feature_importance_<type>.json`` and ``.png`` for each of
  ``importance_types`` (``["weight"]``), and the Booster at ``model``
  (``kiln.xgboost.log_model``; the input example is the first rows given to
  ``DMatrix``, which autolog patches to keep them);
* datasets: the training DMatrix (context ``train``) and each of ``evals``
  (``eval``, named after it).

The scikit-learn wrappers (``XGBClassifier``, ``XGBRegressor``, ...) log the
same through ``train`` and the fitted wrapper as the model
(``kiln.models.autolog.boosting_sklearn``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kiln.errors import InvalidInput
from kiln.models.autolog.boosting import (
    SESSIONS,
    Config,
    MetricsBatch,
    example_and_signature,
    example_of,
    log_early_stopping,
    may_log,
    metric_names,
)
from kiln.models.autolog.boosting_content import log_dataset, log_importance
from kiln.models.autolog.boosting_train import BoostingAutolog, Trained
from kiln.models.autolog.runs import checked_tags

FLAVOR_NAME = "xgboost"
MODEL_FORMATS = ("ubj", "json", "xgb", "deprecated")
_UNLOGGED = (
    "params",
    "dtrain",
    "evals",
    "obj",
    "feval",
    "evals_result",
    "xgb_model",
    "callbacks",
    "learning_rates",
)
_log = logging.getLogger("kiln.autolog.xgboost")


def _callback(batch: MetricsBatch) -> Any:
    """A ``TrainingCallback`` recording each iteration's last evaluation results."""
    import xgboost

    class AutologCallback(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Mapping[str, Any]) -> bool:
            try:
                values = {
                    f"{data}-{name}": float(history[-1])
                    for data, metrics in evals_log.items()
                    for name, history in metric_names(metrics).items()
                }
                batch.record(values, epoch)
            except Exception as exc:
                _log.warning("the metrics of iteration %s are not logged: %s", epoch, exc)
            return False

    return AutologCallback()


def _log_datasets(run_id: str, dtrain: Any, kwargs: Mapping[str, Any]) -> Any:
    def features(matrix: Any) -> Any:
        data = matrix.get_data()
        return data.toarray() if hasattr(data, "toarray") else data

    dataset = log_dataset(run_id, features(dtrain), None, "train", None, _log)
    for matrix, name in kwargs.get("evals") or ():
        log_dataset(run_id, features(matrix), None, "eval", name, _log)
    return dataset


def _log_model(config: Config, model: Any, example: Any, signature: Any) -> None:
    from kiln.models import xgboost as flavor

    flavor.log_model(
        model,
        "model",
        signature=signature,
        input_example=example,
        model_format=str(config.options["model_format"]),
        registered_model_name=config.registered_model_name,
    )


def _feature_importance(run_id: str, model: Any, types: Sequence[str]) -> None:
    for importance_type in types:
        try:
            importance = model.get_score(importance_type=importance_type)
        except Exception as exc:
            _log.warning("the feature importance %s is not logged: %s", importance_type, exc)
            continue
        log_importance(run_id, importance_type, importance, _log)


def _after_train(trained: Trained) -> None:
    """The model, the early-stopping metrics and the feature importance."""
    import xgboost

    config, model, batch = trained.config, trained.model, trained.batch
    if trained.log_models:
        rows, signature = example_and_signature(
            config,
            example_of(trained.data),
            lambda rows: model.predict(xgboost.DMatrix(rows)),
            _log,
        )
        _log_model(config, model, rows, signature)
    if trained.call.get("early_stopping_rounds") and batch.results:
        step = len(batch.results)
        best = int(model.best_iteration)
        log_early_stopping(trained.run_id, step - 1, best, batch.results[best], step)
    _feature_importance(trained.run_id, model, config.options["importance_types"])


_state = BoostingAutolog(
    name=FLAVOR_NAME,
    log=_log,
    data_class="DMatrix",
    data_argument="dtrain",
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
            if not may_log(config) or not SESSIONS.current_should_log():
                return original(*args, **kwargs)
            assert config is not None
            logs_model = log_models and config.log_models
            return _state.logged_train(config, logs_model, original, args, kwargs)

        return patched

    return make


def sklearn_estimators() -> list[type]:
    """The XGBoost scikit-learn wrappers MLflow patches (subclasses of ``XGBModel``)."""
    import inspect

    import xgboost.sklearn

    base = xgboost.sklearn.XGBModel
    return [
        cls
        for _, cls in inspect.getmembers(xgboost.sklearn, inspect.isclass)
        if issubclass(cls, base) and cls is not base
    ]


def autolog(
    importance_types: Sequence[str] | None = None,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    model_format: str = "ubj",
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Turn XGBoost autolog on (again, with these settings) or off (``disable``).

    Raises:
        InvalidInput: an unknown model format, or ``extra_tags`` that is not a mapping.
    """
    if model_format not in MODEL_FORMATS:
        raise InvalidInput(
            f"Unrecognized model format: {model_format}. Use one of {MODEL_FORMATS}."
        )
    tags = checked_tags(extra_tags)
    _state.turn_off()
    if disable:
        return
    import xgboost
    import xgboost.sklearn

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
        options={
            "importance_types": list(importance_types or ["weight"]),
            "model_format": model_format,
        },
    )
    _state.turn_on(config, xgboost, _train_wrapper, sklearn_estimators())


def enabled() -> bool:
    """Whether XGBoost autolog is on in this process."""
    return _state.config is not None


__all__ = ["FLAVOR_NAME", "autolog", "enabled", "sklearn_estimators"]
