"""``evaluate``: MLflow's default evaluator for regressors and classifiers.

It logs to the active run (starting one, and ending it after, when none is active)
the metrics and plots MLflow's default evaluator logs, under the same names, and
returns an ``EvaluationResult``, with the SHAP plots when ``shap`` is installed
(``kiln.models.evaluation.explainability``). Not done: ``extra_metrics``,
``custom_artifacts``, the eval results table, and other evaluators.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kiln.errors import InvalidInput
from kiln.models.evaluation.base import (
    Dataset,
    EvaluationResult,
    Logger,
    Predictor,
    resolve_model,
    split_data,
    to_1d,
)

MODEL_TYPES = ("regressor", "classifier")

_log = logging.getLogger(__name__)


def _check_evaluators(evaluators: Any) -> None:
    names = [evaluators] if isinstance(evaluators, str) else list(evaluators or ["default"])
    unknown = [n for n in names if n not in ("default", "regressor", "classifier", "shap")]
    if unknown:
        raise InvalidInput(
            f"Unknown evaluators {unknown}: Kiln has MLflow's 'default' evaluator only."
        )


def evaluate(
    model: Any = None,
    data: Any = None,
    *,
    model_type: str | None = None,
    targets: Any = None,
    predictions: str | None = None,
    dataset_path: str | None = None,
    feature_names: list[str] | None = None,
    evaluators: str | Sequence[str] | None = None,
    evaluator_config: Mapping[str, Any] | None = None,
    extra_metrics: Sequence[Any] | None = None,
    custom_artifacts: Sequence[Any] | None = None,
    env_manager: str = "local",
    model_config: Mapping[str, Any] | None = None,
    inference_params: Mapping[str, Any] | None = None,
    model_id: str | None = None,
) -> EvaluationResult:
    """Evaluate ``model`` on ``data`` and log the results, as ``mlflow.models.evaluate``.

    Args:
        model: a model URI (``runs:/``, ``models:/``, a path), a loaded pyfunc model, a
            callable from features to predictions, or None to evaluate the data's
            ``predictions`` column.
        data: a pandas DataFrame (``targets`` names the label column) or a numpy
            array (``targets`` is the label array).
        model_type: "regressor" or "classifier".
        evaluator_config: MLflow's keys: ``metric_prefix``, ``pos_label``,
            ``label_list``, ``average``, ``sample_weights``, and the SHAP ones
            (``log_model_explainability``, ``explainability_algorithm``,
            ``explainability_nsamples``, ``explainability_kernel_link``).

    Raises:
        InvalidInput: an unknown model type or evaluator, data without targets, or an
            option Kiln does not have (``extra_metrics``, ``custom_artifacts``, an
            ``env_manager`` other than "local").
    """
    if model_type not in MODEL_TYPES:
        raise InvalidInput(
            f"model_type={model_type!r} is not supported: use 'regressor' or 'classifier'."
        )
    _check_evaluators(evaluators)
    if extra_metrics or custom_artifacts:
        raise InvalidInput("extra_metrics and custom_artifacts are not supported by Kiln yet.")
    if env_manager != "local":
        raise InvalidInput(f"env_manager={env_manager!r}: Kiln evaluates in this environment.")
    config = dict(evaluator_config or {})
    dataset = split_data(data, targets, predictions, feature_names)
    predictor = resolve_model(model, model_config)
    if predictor.predict is None and dataset.predictions is None:
        raise InvalidInput(
            "Either a model or set of predictions must be specified in order to use the "
            "default evaluator."
        )
    from kiln.tracking import fluent

    started = fluent.active_run() is None
    run = fluent.active_run() or fluent.start_run()
    run_id = run.info.run_id
    logger = Logger(run_id, str(config.get("metric_prefix") or ""))
    try:
        name = _log_dataset(data, targets, predictions if model is None else None, logger)
        if predictor.model_uuid is not None:
            _tag_dataset(data, targets, feature_names, dataset_path, name, predictor.model_uuid)
        metrics, log_artifacts = _compute(model_type, dataset, predictor, config, inference_params)
        named = {f"{logger.prefix}{k}": _plain(v) for k, v in metrics.items()}
        fluent.log_metrics({k: float(v) for k, v in named.items()}, step=0, run_id=run_id)
        if log_artifacts is not None:
            log_artifacts(logger)
        from kiln.models.evaluation import explainability

        if explainability.wanted(model_type, evaluators, config):
            explainability.log_explainability(dataset, predictor, config, logger)
        return EvaluationResult(named, dict(logger.artifacts), run_id)
    finally:
        logger.close()
        if started:
            fluent.end_run()


def _log_dataset(data: Any, targets: Any, predictions: str | None, logger: Logger) -> str:
    """The evaluation data as the run's input "dataset", as MLflow logs it (the
    metric prefix, when set, is its context); answers the data set's name."""
    import pandas as pd

    from kiln import data as datasets
    from kiln.tracking import fluent

    if isinstance(data, pd.DataFrame):
        dataset: Any = datasets.from_pandas(data, targets=targets, predictions=predictions)
    else:
        dataset = datasets.from_numpy(data, targets=targets)
    fluent.log_input(dataset, context=logger.prefix or None, run_id=logger.run_id)
    return str(dataset.name)


def _tag_dataset(
    data: Any,
    targets: Any,
    feature_names: list[str] | None,
    path: str | None,
    name: str,
    model_uuid: str,
) -> None:
    """Add (data set, model) to the active run's ``mlflow.datasets`` tag, as MLflow does
    when it evaluates a pyfunc model."""
    from kiln.models.evaluation.dataset_tag import TAG, dataset_hash, tag_value
    from kiln.tracking import fluent

    entry = {"name": name, "hash": dataset_hash(data, targets, None, feature_names)}
    if path is not None:
        entry["path"] = path
    entry["model"] = model_uuid
    run = fluent.active_run()
    assert run is not None  # evaluate logs into an active run
    value = tag_value(fluent.get_run(run.info.run_id).data.tags.get(TAG), entry)
    if value is not None:
        fluent.set_tag(TAG, value)


def _predict(
    predictor: Predictor, dataset: Dataset, inference_params: Mapping[str, Any] | None
) -> Any:
    if predictor.predict is None:
        return to_1d(dataset.predictions)
    if inference_params:
        return to_1d(predictor.predict(dataset.features, params=dict(inference_params)))
    return to_1d(predictor.predict(dataset.features))


def _compute(
    model_type: str,
    dataset: Dataset,
    predictor: Predictor,
    config: dict[str, Any],
    inference_params: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], Callable[[Logger], None] | None]:
    """The metrics (``score`` first when the model is a scikit-learn one, as MLflow's),
    and for a classifier what logs its plots."""
    y_pred = _predict(predictor, dataset, inference_params)
    weights = config.get("sample_weights")
    metrics: dict[str, Any] = {}
    if predictor.raw_sklearn is not None and hasattr(predictor.raw_sklearn, "score"):
        try:
            metrics["score"] = predictor.raw_sklearn.score(
                dataset.features, dataset.labels, sample_weight=weights
            )
        except Exception as error:  # MLflow warns and goes on without the score
            _log.warning("Computing sklearn model score failed: %r", error)
    if model_type == "regressor":
        from kiln.models.evaluation.regressor import regressor_metrics

        metrics.update(regressor_metrics(dataset.labels, y_pred, weights))
        return metrics, None
    from kiln.models.evaluation.classifier import ClassifierEvaluation

    proba = None
    if predictor.predict_proba is not None:
        proba = predictor.predict_proba(dataset.features)
    evaluation = ClassifierEvaluation(dataset.labels, y_pred, proba, config)
    metrics.update(evaluation.metrics())
    return metrics, evaluation.log_artifacts


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number it holds."""
    item = getattr(value, "item", None)
    return item() if callable(item) else value
