"""SHAP explainability of MLflow's default evaluator (its ``shap`` evaluator).

For a regressor or a classifier whose labels are numbers, ``evaluate`` explains the
model on a sample of the evaluation rows and logs ``shap_beeswarm_plot``,
``shap_summary_plot`` and ``shap_feature_importance_plot``, as MLflow does when
``shap`` is installed (``pip install kiln-mlops[explain]``). MLflow's
``evaluator_config`` keys: ``log_model_explainability`` (True), ``explainability_algorithm``
(shap's choice; or exact, permutation, partition, kernel), ``explainability_nsamples``
(2000), ``explainability_kernel_link`` (identity or logit), ``ignore_exceptions`` (True),
``log_explainer`` (Kiln has no shap flavor: it warns). Whatever stops the explanation
(shap missing, labels or features that are not numbers, shap failing) is a warning and
no artifacts, never a failed evaluation, as in MLflow. shap is imported only here.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kiln.errors import InvalidInput
from kiln.models.evaluation.base import PLOT_STYLE, Dataset, Logger, Predictor

SUPPORTED_ALGORITHMS = ("exact", "permutation", "partition", "kernel")
DEFAULT_SAMPLE_ROWS = 2000
_MAX_DISPLAY = 10  # the features shap's beeswarm and bar plots show

_log = logging.getLogger(__name__)


def wanted(
    model_type: str, evaluators: str | Sequence[str] | None, config: Mapping[str, Any]
) -> bool:
    """Whether MLflow's shap evaluator runs: for a regressor or a classifier, under the
    "default" (or "shap") evaluator, unless ``log_model_explainability`` is false."""
    names = [evaluators] if isinstance(evaluators, str) else list(evaluators or ["default"])
    return (
        model_type in ("regressor", "classifier")
        and ("default" in names or "shap" in names)
        and bool(config.get("log_model_explainability", True))
    )


def log_explainability(
    dataset: Dataset, predictor: Predictor, config: Mapping[str, Any], logger: Logger
) -> None:
    """Explain the model on sampled rows and log MLflow's three SHAP plots.

    Raises:
        InvalidInput: an ``explainability_algorithm`` shap does not have (MLflow raises).
    """
    import numpy as np

    y_true = np.asarray(dataset.labels)
    if not (np.issubdtype(y_true.dtype, np.number) or y_true.dtype == np.bool_):
        _log.warning(
            "Skip logging model explainability insights because it requires all label "
            "values to be numeric or boolean."
        )
        return
    algorithm = config.get("explainability_algorithm")
    if algorithm is not None and algorithm not in SUPPORTED_ALGORITHMS:
        raise InvalidInput(
            f"Specified explainer algorithm {algorithm} is unsupported. Currently only "
            f"support {','.join(SUPPORTED_ALGORITHMS)} algorithms."
        )
    features = _features(dataset.features)
    # pandas' own dtypes (strings, categories) count as not numeric: MLflow's check raises
    # a TypeError on them and fails the whole evaluation
    numeric = all(isinstance(t, np.dtype) and np.issubdtype(t, np.number) for t in features.dtypes)
    if algorithm != "kernel" and not numeric:
        _log.warning(
            "Skip logging model explainability insights because the shap explainer "
            f"{algorithm} requires all feature values to be numeric, and each feature "
            "column must only contain scalar values."
        )
        return
    try:
        # shap 0.51's import calls matplotlib functions that warn of their deprecation:
        # not the caller's to see (and an error where warnings are errors)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            import matplotlib  # noqa: F401  (the plots need it; MLflow checks both)
            import shap
    except ImportError:
        _log.warning(
            "SHAP or matplotlib package is not installed, so model explainability insights "
            "will not be logged."
        )
        return
    try:
        values = _explain(shap, features, dataset, predictor, config, algorithm)
    except Exception as error:  # shap fails on some models and data: MLflow warns
        if not config.get("ignore_exceptions", True):
            raise
        _log.warning(
            "Shap evaluation failed. Reason: %r. Set logging level to DEBUG to see the full "
            "traceback.",
            error,
        )
        _log.debug("", exc_info=True)
        return
    if config.get("log_explainer", False):
        _log.warning(
            "Logging explainer failed. Reason: Kiln has no shap model flavor to log an "
            "explainer with."
        )
    for name, draw in (
        ("shap_beeswarm_plot", _beeswarm),
        ("shap_summary_plot", _summary),
        ("shap_feature_importance_plot", _importance),
    ):
        try:
            logger.log_image(name, functools.partial(_save, draw, values))
        except Exception as error:  # as MLflow: a plot that fails is a warning
            _log.warning("Failed to log image artifact %r: %r", name, error)


def _features(features: Any) -> Any:
    """The features as a DataFrame; an array's columns get MLflow's names
    (``feature_1``..., zero-padded to the same width)."""
    import pandas as pd

    if isinstance(features, pd.DataFrame):
        return features.copy()
    count = features.shape[1]
    width = math.ceil(math.log10(count + 1))
    return pd.DataFrame(
        features, columns=[f"feature_{str(i + 1).zfill(width)}" for i in range(count)]
    )


def _fill_values(frame: Any) -> dict[str, Any]:
    """Each column's mean (float columns) or mode (the others), for missing values."""
    import pandas as pd

    continuous = [
        c
        for c in frame.columns
        if pd.Series(frame[c]).convert_dtypes().dtype.name.lower().startswith("float")
    ]
    means = {} if not continuous else frame[continuous].mean().to_dict()
    others = frame.drop(columns=continuous)
    modes = {} if others.empty else others.mode().loc[0].to_dict()
    return {**means, **modes}


def _predict_fn(dataset: Dataset, predictor: Predictor) -> Callable[[Any], Any] | None:
    """The scikit-learn model's own predict when there is one (as MLflow's), else the
    model's; it gets the rows back as the model was given them (named columns, or an
    array when the data was one)."""
    import numpy as np
    import pandas as pd

    predict = (
        predictor.raw_sklearn.predict if predictor.raw_sklearn is not None else predictor.predict
    )
    if predict is None:
        return None
    if not isinstance(dataset.features, pd.DataFrame):
        return lambda x: predict(np.asarray(x))
    names = list(dataset.features.columns)

    def call(x: Any) -> Any:
        frame = pd.DataFrame(x)
        return predict(frame.rename(columns=dict(zip(frame.columns, names, strict=False))))

    return call


def _explain(
    shap: Any,
    features: Any,
    dataset: Dataset,
    predictor: Predictor,
    config: Mapping[str, Any],
    algorithm: str | None,
) -> Any:
    """shap's Explanation of the sampled rows, with the explainer MLflow picks."""
    import numpy as np

    rows = config.get("explainability_nsamples", DEFAULT_SAMPLE_ROWS)
    fill = _fill_values(features)
    sampled = shap.sample(features, rows, random_state=0).fillna(fill)
    predict = _predict_fn(dataset, predictor)
    if predict is None:
        raise TypeError("'NoneType' object is not callable: there is no model to explain")
    labels = config.get("label_list")
    if labels is None:
        labels = np.unique(
            np.concatenate([np.asarray(dataset.labels), np.ravel(predict(features.copy()))])
        )
    names = list(features.columns)
    raw = predictor.raw_sklearn
    if algorithm == "kernel":
        link = config.get("explainability_kernel_link", "identity")
        if link not in ("identity", "logit"):
            raise ValueError(
                "explainability_kernel_link config can only be set to 'identity' or "
                f"'logit', but got '{link}'."
            )
        background = shap.sample(features, rows, random_state=3).fillna(fill)
        explainer = shap.KernelExplainer(predict, background, link=link)
    elif algorithm:
        explainer = shap.Explainer(predict, sampled, feature_names=names, algorithm=algorithm)
    elif raw is not None and len(labels) <= 2 and not _is_pipeline(raw):
        # The model itself (shap picks a Linear or Tree explainer); not for several
        # classes, whose plots shap draws badly, as MLflow.
        explainer = shap.Explainer(raw, sampled, feature_names=names)
    else:
        explainer = shap.Explainer(predict, sampled, feature_names=names)
    _log.info("Shap explainer %s is used.", type(explainer).__name__)
    return explainer(sampled)


def _is_pipeline(model: Any) -> bool:
    from sklearn.pipeline import Pipeline

    return isinstance(model, Pipeline)


def _save(draw: Callable[[Any], Any], values: Any, path: Path) -> None:
    """Draw under MLflow's plot settings and save the PNG (closing a pyplot figure)."""
    import matplotlib
    from matplotlib import pyplot

    # shap's own notices (numpy's "global RNG was seeded" FutureWarning once anything
    # called np.random.seed, its deprecations) are not the caller's to see, and would
    # fail the plot where warnings are errors
    with matplotlib.rc_context(PLOT_STYLE), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        figure = draw(values)
        try:
            figure.savefig(path, bbox_inches="tight")
        finally:
            if figure.canvas.manager is not None:
                pyplot.close(figure)


def _finish(figure: Any) -> Any:
    """MLflow's touches: a thin, long color bar and 10-point tick labels."""
    main = figure.axes[0]
    if len(figure.axes) > 1:
        bar = figure.axes[-1]
        bar.set_aspect("auto")
        bar.set_box_aspect(50)
    main.tick_params(labelsize=10)
    return figure


def _beeswarm(values: Any) -> Any:
    import shap
    from matplotlib.figure import Figure

    # shap's "auto" size, which it gives only a figure it finds through pyplot
    figure = Figure(figsize=(8, min(values.shape[1], _MAX_DISPLAY) * 0.4 + 1.5))
    shap.plots.beeswarm(values, ax=figure.add_subplot(), plot_size=None, show=False, color_bar=True)
    return _finish(figure)


def _importance(values: Any) -> Any:
    import shap
    from matplotlib.figure import Figure

    # sized before drawing: shap places the value labels by the axes' size
    figure = Figure(figsize=(8, min(values.shape[1], _MAX_DISPLAY) * 0.5 + 1.5))
    shap.plots.bar(values, ax=figure.add_subplot(), show=False)
    return _finish(figure)


def _summary(values: Any) -> Any:
    """shap's legacy summary plot, which draws only through pyplot."""
    import shap
    from matplotlib import pyplot

    figure = pyplot.figure()
    try:
        shap.summary_plot(values, show=False, color_bar=True)
        return _finish(figure)
    except BaseException:
        pyplot.close(figure)
        raise
