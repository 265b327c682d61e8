"""scikit-learn autolog: what ``mlflow.sklearn.autolog()`` logs, under the same names.

``autolog()`` patches ``fit``, ``fit_transform`` and ``fit_predict`` of every
scikit-learn estimator MLflow patches (all of ``sklearn.utils.all_estimators()``
plus ``Pipeline``, ``GridSearchCV`` and ``RandomizedSearchCV``, minus the
preprocessing, imputation, feature-extraction/selection modules and
``ColumnTransformer``). The outermost fit logs, to the active run or to a run it
starts (tagged ``mlflow.autologging=sklearn``) and ends (FINISHED, or FAILED
when the fit raises):

* params: ``get_params(deep=True)`` (not deep for a search), truncated as MLflow
  truncates; for a search also ``best_<name>`` for ``best_params_``;
* tags: ``estimator_name`` and ``estimator_class``;
* metrics: ``training_*`` (``kiln.models.autolog.sklearn_content``); for a search
  also ``best_cv_score``;
* artifacts: ``estimator.html``, the classifier plots, the model at ``model``
  (``kiln.sklearn.log_model``, with a signature and, when asked, an input
  example); for a search also ``best_estimator``, ``cv_results.csv`` and one
  child run per top candidate (``max_tuning_runs``);
* the training data as a dataset input with context ``train``.

The classifier plots and ``estimator.html`` are taken from the model at once and
written by a background task (``kiln.tracking.background``): stored before
``end_run``/``flush_async_logging`` return, before this process lists or
downloads artifacts, and at exit, so they add little to the fit's own time.

Fits inside ``sklearn.model_selection``'s cross-validation functions
(``UNLOGGED_APIS``, reached through the module) log nothing, as in MLflow.
Anything that fails while logging is a warning; the user's fit always runs and
its result or error is the user's. With ``log_post_training_metrics`` the
model's later ``predict``/``score`` and ``sklearn.metrics`` calls log to its run
(``kiln.models.autolog.sklearn_post``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from kiln.errors import InvalidInput
from kiln.models.autolog.patching import (
    truncate_params,
    truncate_tags,
)
from kiln.models.autolog.runs import (
    FitState,
    Settings,
    autolog_run,
    checked_tags,
    guarded,
)
from kiln.models.autolog.sklearn_content import (
    estimator_tags,
    is_search,
    log_classifier_plots,
    log_estimator_html,
    training_dataset,
    training_metrics,
)
from kiln.models.autolog.sklearn_post import (
    PREDICT_METHODS,
    PostTraining,
    metric_names,
    metric_wrapper,
    predict_wrapper,
    score_wrapper,
)
from kiln.tracking import background

FLAVOR_NAME = "sklearn"
INPUT_EXAMPLE_ROWS = 5
FIT_METHODS = ("fit", "fit_transform", "fit_predict")
_EXCLUDED_MODULES = (
    "sklearn.preprocessing",
    "sklearn.impute",
    "sklearn.feature_extraction",
    "sklearn.feature_selection",
)
_EXCLUDED_CLASSES = ("sklearn.compose._column_transformer.ColumnTransformer",)
# Functions that fit clones of an estimator: no run for each clone (as MLflow).
UNLOGGED_APIS = (
    "cross_validate",
    "cross_val_predict",
    "cross_val_score",
    "learning_curve",
    "permutation_test_score",
    "validation_curve",
)
_log = logging.getLogger("kiln.autolog.sklearn")


@dataclass
class Config(Settings):
    log_input_examples: bool = False
    max_tuning_runs: int | None = 5
    log_post_training_metrics: bool = True
    serialization_format: str = "cloudpickle"
    pos_label: Any = None


@dataclass
class _State(FitState[Config]):
    unlogged: int = 0  # > 0 inside one of UNLOGGED_APIS
    post: PostTraining = field(default_factory=PostTraining)


_state = _State()


def estimators_to_patch() -> list[type]:
    """The estimator classes MLflow's sklearn autolog patches."""
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.utils import all_estimators

    classes = {cls for _, cls in all_estimators()} | {GridSearchCV, RandomizedSearchCV, Pipeline}
    return sorted(
        (
            cls
            for cls in classes
            if not cls.__module__.startswith(_EXCLUDED_MODULES)
            and f"{cls.__module__}.{cls.__name__}" not in _EXCLUDED_CLASSES
        ),
        key=lambda cls: (len(cls.__mro__), cls.__module__, cls.__name__),
    )


def _x_y_weight(fit: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """(X, y, sample_weight) of a fit call, X and y copied before the fit can change them."""
    import inspect

    names = list(inspect.signature(fit).parameters)
    x_name, y_name = [*names, "X", "y"][:2]
    X = args[0] if args else kwargs.get(x_name)
    y = args[1] if len(args) > 1 else kwargs.get(y_name)
    weight = None
    if "sample_weight" in names:
        index = names.index("sample_weight")
        weight = args[index] if len(args) > index else kwargs.get("sample_weight")
    return deepcopy(X), deepcopy(y), weight


class _Fit:
    """One logged fit: what is logged before and after the original method runs."""

    def __init__(self, config: Config, estimator: Any, run_id: str) -> None:
        self.config = config
        self.estimator = estimator
        self.run_id = run_id

    def params(self, params: Mapping[str, Any]) -> None:
        from kiln.tracking import fluent

        fluent.log_params(truncate_params(params), run_id=self.run_id)

    def metrics(self, values: Mapping[str, float]) -> None:
        from kiln.tracking import fluent

        if values:
            fluent.log_metrics(values, step=0, run_id=self.run_id)

    def before(self, X: Any, y: Any) -> None:
        from kiln.entities import Param, RunTag
        from kiln.tracking import async_logging, fluent

        estimator = self.estimator
        params = truncate_params(estimator.get_params(deep=not is_search(estimator)))
        tags = truncate_tags(estimator_tags(estimator))
        client, run_id = fluent._target(self.run_id)
        async_logging.send(  # one log_batch (within its limits) for both
            client,
            run_id,
            None,
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        if self.config.log_datasets:
            try:
                dataset = training_dataset(X, y)
                if dataset is not None:
                    fluent.log_input(dataset, context="train", run_id=self.run_id)
            except Exception as exc:
                _log.warning("the training dataset is not logged: %s", exc)

    def _example_and_signature(self, X: Any) -> tuple[Any, Any]:
        from kiln.models.signature import infer_signature

        try:
            example = deepcopy(X[:INPUT_EXAMPLE_ROWS])
        except Exception as exc:
            _log.warning("no input example could be taken from the training data: %s", exc)
            return None, None
        signature = None
        if self.config.log_model_signatures:
            model = self.estimator
            try:
                if hasattr(model, "predict"):
                    output = model.predict(deepcopy(example))
                else:
                    output = model.transform(deepcopy(example))
                signature = infer_signature(example, output)
            except Exception as exc:
                _log.warning("the model signature could not be inferred: %s", exc)
        return (example if self.config.log_input_examples else None), signature

    def log_model(self, model: Any, name: str, example: Any, signature: Any) -> None:
        from kiln.models import sklearn as flavor

        try:
            flavor.log_model(
                model,
                name,
                serialization_format=self.config.serialization_format,
                signature=signature,
                input_example=example,
                registered_model_name=(
                    self.config.registered_model_name if name == "model" else None
                ),
            )
        except Exception as exc:
            _log.warning("the model %r is not logged: %s", name, exc)

    def after(self, X: Any, y: Any, weight: Any) -> None:
        config, model = self.config, self.estimator
        example = signature = None
        if config.log_models:
            example, signature = self._example_and_signature(X)
            self.log_model(model, "model", example, signature)
        y_pred = _predictions(model, X, y)
        self.metrics(training_metrics(model, X, y, weight, config.pos_label, y_pred=y_pred))
        log_classifier_plots(self.run_id, model, X, y, weight, "training_", y_pred)
        try:
            log_estimator_html(self.run_id, model)
        except Exception as exc:
            _log.warning("estimator.html is not logged: %s", exc)
        if is_search(model):
            from kiln.models.autolog.sklearn_search import log_search

            log_search(self, X, y, example, signature)


def _predictions(model: Any, X: Any, y: Any) -> Any:
    """A classifier's ``predict(X)``, made once for its metrics and its plots; else None."""
    from sklearn.base import is_classifier

    if y is None or not is_classifier(model):
        return None
    try:
        return model.predict(X)
    except Exception as exc:
        _log.warning("the classifier could not predict its training data: %s", exc)
        return None


def _fit_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _state.unlogged:
            return original(self, *args, **kwargs)
        with _state.logging_fit(self) as config:
            if config is None:
                return original(self, *args, **kwargs)
            with background.held():  # the plots start drawing once the fit returns
                return _logged_fit(config, original, self, args, kwargs)

    return patched


def _logged_fit(
    config: Config,
    original: Callable[..., Any],
    estimator: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    run_of = autolog_run(FLAVOR_NAME, config.extra_tags, _log, config.silent, background.not_waited)
    with _state.post.paused(), run_of as run:
        if run is None:
            return original(estimator, *args, **kwargs)
        fit: _Fit | None = None
        X = y = weight = None
        with guarded(_log, "sklearn autolog could not log before the fit"):
            X, y, weight = _x_y_weight(estimator.fit, args, kwargs)
            fit = _Fit(config, estimator, run.info.run_id)
            fit.before(X, y)
        result = original(estimator, *args, **kwargs)
        if fit is not None:
            with guarded(_log, "sklearn autolog could not log after the fit"):
                fit.after(X, y, weight)
            if config.log_post_training_metrics:
                _state.post.runs[estimator] = fit.run_id
        return result


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    max_tuning_runs: int | None = 5,
    log_post_training_metrics: bool = True,
    serialization_format: str = "cloudpickle",
    registered_model_name: str | None = None,
    pos_label: Any = None,
    extra_tags: Mapping[str, Any] | None = None,
) -> None:
    """Turn scikit-learn autolog on (again, with these settings) or off (``disable``).

    Raises:
        InvalidInput: a negative ``max_tuning_runs``, an unknown serialization
            format, or ``extra_tags`` that is not a mapping.
    """
    from kiln.models.sklearn import SERIALIZATION_FORMATS

    if max_tuning_runs is not None and max_tuning_runs < 0:
        raise InvalidInput(
            f"`max_tuning_runs` must be non-negative, instead got {max_tuning_runs}."
        )
    if serialization_format not in SERIALIZATION_FORMATS:
        raise InvalidInput(
            f"Unrecognized serialization format: {serialization_format}. "
            f"Use one of {list(SERIALIZATION_FORMATS)}."
        )
    tags = checked_tags(extra_tags)
    _state.patches.restore()
    _state.config = None
    if disable:
        return
    _state.config = Config(
        log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures,
        log_models=log_models,
        log_datasets=log_datasets,
        exclusive=exclusive,
        silent=silent,
        max_tuning_runs=max_tuning_runs,
        log_post_training_metrics=log_post_training_metrics,
        serialization_format=serialization_format,
        registered_model_name=registered_model_name,
        pos_label=pos_label,
        extra_tags=tags,
    )
    _state.post = PostTraining()
    _state.post.log_datasets = log_datasets
    for cls in estimators_to_patch():
        for name in FIT_METHODS:
            _state.patches.patch_method(cls, name, _fit_wrapper)
        if log_post_training_metrics:
            for name in PREDICT_METHODS:
                _state.patches.patch_method(cls, name, predict_wrapper(_state.post))
            _state.patches.patch_method(cls, "score", score_wrapper(_state.post))
    import sklearn.metrics
    import sklearn.model_selection

    if log_post_training_metrics:
        for name in metric_names():
            _state.patches.patch_function(sklearn.metrics, name, metric_wrapper(_state.post))

    for name in UNLOGGED_APIS:
        _state.patches.patch_function(sklearn.model_selection, name, _unlogged_wrapper)


def _unlogged_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    def unlogged(*args: Any, **kwargs: Any) -> Any:
        _state.unlogged += 1
        try:
            return original(*args, **kwargs)
        finally:
            _state.unlogged -= 1

    return unlogged


def enabled() -> bool:
    """Whether scikit-learn autolog is on in this process."""
    return _state.config is not None


__all__ = ["FLAVOR_NAME", "autolog", "enabled", "estimators_to_patch"]
