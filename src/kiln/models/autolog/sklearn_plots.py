"""sklearn autolog's classifier plots, drawn off the caller's thread.

MLflow's autolog logs ``<prefix>confusion_matrix.png`` (normalized over the true
labels) for every classifier and, for two classes, ``<prefix>roc_curve.png`` and
``<prefix>precision_recall_curve.png``. Drawing them costs a few hundred
milliseconds, most of the time autolog added to a small fit, so the caller's
thread only takes what the plots need from the fitted model (its predictions and
scores, as the displays' ``from_estimator`` would) and the drawing and upload run
as a background task (``kiln.tracking.background``): stored before ``end_run`` or
``flush_async_logging`` returns, before this process lists or downloads the run's
artifacts, and at exit; a failure is logged, never raised into the user's code.

The figures use matplotlib's object API (``Figure``, no pyplot) with every style
given explicitly (figure size and dpi, 8-point fonts, tight layout, 175 dpi PNG):
the values MLflow sets through ``rc_context``, which would change the global
``rcParams`` under a user plotting on another thread at the same time.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_log = logging.getLogger("kiln.autolog.sklearn")

DPI = 175
FONT_SIZE = 8.0
TITLE_SCALE = 1.2  # matplotlib's "large", the default title size
CONFUSION_FIGSIZE = (6.0, 4.0)
TIGHT_PAD = 1.08  # TightLayoutEngine's default, in font sizes


@dataclass(frozen=True)
class Curve:
    """A binary classifier's scores for its positive class (``from_estimator``'s)."""

    y_score: Any
    pos_label: Any
    name: str


@dataclass(frozen=True)
class PlotData:
    """Everything the plots read, owned by the task (the model may change meanwhile)."""

    prefix: str
    y_true: Any
    y_pred: Any
    weight: Any
    classes: int
    curve: Curve | None


def _binary_scores(model: Any, X: Any) -> tuple[Any, Any]:
    """``predict_proba``'s positive column, else ``decision_function``, and the positive
    label (the last class): the response ``RocCurveDisplay.from_estimator`` takes."""
    pos_label = model.classes_[-1]
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)[:, -1], pos_label
    return model.decision_function(X), pos_label


def plot_data(model: Any, X: Any, y: Any, weight: Any, prefix: str, y_pred: Any) -> PlotData:
    """What the plots need, taken from the fitted model now (on the caller's thread)."""
    import numpy as np

    y_true = np.array(y, copy=True)
    labels = getattr(model, "classes_", None)
    classes = len(labels) if labels is not None else len(np.unique(y_true))
    curve = None
    if len(np.unique(y_true)) == 2:
        try:
            score, pos_label = _binary_scores(model, X)
            curve = Curve(np.array(score, copy=True), pos_label, type(model).__name__)
        except Exception as exc:
            _log.warning("no ROC and precision-recall curves: %s", exc)
    return PlotData(
        prefix,
        y_true,
        np.array(y_pred, copy=True),
        None if weight is None else np.array(weight, copy=True),
        classes,
        curve,
    )


def _figure(figsize: tuple[float, float] | None = None, dpi: float | None = None) -> Any:
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import TightLayoutEngine

    figure = Figure(figsize=figsize, dpi=dpi)
    # The tight layout pads by 1.08 of rcParams' font size: as much as at FONT_SIZE.
    pad = TIGHT_PAD * FONT_SIZE / float(matplotlib.rcParams["font.size"])
    figure.set_layout_engine(TightLayoutEngine(pad=pad))
    return figure


def _style(ax: Any, font: float, labels: float = FONT_SIZE) -> None:
    ax.tick_params(labelsize=font)
    ax.xaxis.label.set_size(labels)
    ax.yaxis.label.set_size(labels)


def _confusion(data: PlotData) -> Any:
    from sklearn.metrics import ConfusionMatrixDisplay

    font = min(FONT_SIZE, 50.0 / data.classes)
    figure = _figure(CONFUSION_FIGSIZE, DPI)
    display = ConfusionMatrixDisplay.from_predictions(
        data.y_true,
        data.y_pred,
        sample_weight=data.weight,
        normalize="true",
        cmap="Blues",
        ax=figure.add_subplot(),
        text_kw={"fontsize": font},
    )
    _style(display.ax_, font)
    display.im_.colorbar.ax.tick_params(labelsize=font)
    return display


def _curve(display_class: Any, legend: str) -> Callable[[PlotData], Any]:
    def draw(data: PlotData) -> Any:
        curve = data.curve
        assert curve is not None
        figure = _figure()
        display = display_class.from_predictions(
            data.y_true,
            curve.y_score,
            sample_weight=data.weight,
            pos_label=curve.pos_label,
            name=curve.name,
            ax=figure.add_subplot(),
        )
        _style(display.ax_, FONT_SIZE)
        display.ax_.legend(loc=legend, fontsize=FONT_SIZE)
        return display

    return draw


def _plots(data: PlotData) -> list[tuple[str, Callable[[PlotData], Any], str]]:
    from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

    plots: list[tuple[str, Callable[[PlotData], Any], str]] = [
        ("confusion_matrix", _confusion, "Normalized confusion matrix")
    ]
    if data.curve is not None:
        plots += [
            ("roc_curve", _curve(RocCurveDisplay, "lower right"), "ROC curve"),
            (
                "precision_recall_curve",
                _curve(PrecisionRecallDisplay, "lower left"),
                "Precision recall curve",
            ),
        ]
    return plots


def render(data: PlotData) -> dict[str, bytes]:
    """Each plot as PNG bytes by artifact name; a plot that fails is left out, warned."""
    images: dict[str, bytes] = {}
    for name, draw, title in _plots(data):
        file = f"{data.prefix}{name}.png"
        try:
            display = draw(data)
            display.ax_.set_title(title, fontsize=FONT_SIZE * TITLE_SCALE)
            buffer = io.BytesIO()
            display.figure_.savefig(buffer, format="png", dpi=DPI)
            images[file] = buffer.getvalue()
        except Exception as exc:
            _log.warning("the plot %s is not logged: %s", file, exc)
    return images


__all__ = ["Curve", "PlotData", "plot_data", "render"]
