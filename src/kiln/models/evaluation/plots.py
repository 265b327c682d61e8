"""The classifier plots of MLflow's default evaluator, drawn with matplotlib.

Each function draws on the current figure; ``Logger.log_plot`` saves it. The
drawings follow MLflow's (titles, axis labels, legends) without being pixel-equal.
"""

from __future__ import annotations

from typing import Any

_DASHED: dict[str, Any] = {"color": "gray", "alpha": 0.3, "linestyle": "dashed"}


def _curve(kind: str, y: Any, score: Any, pos_label: Any, w: Any) -> tuple[Any, Any, float]:
    """(x, y, area) of a ROC curve (AUC) or a precision-recall curve (average precision)."""
    import numpy as np
    from sklearn import metrics as sk

    if kind == "roc":
        fpr, tpr, _ = sk.roc_curve(y, score, pos_label=pos_label, sample_weight=w)
        auc = sk.roc_auc_score(np.asarray(y) == pos_label, score, sample_weight=w)
        return fpr, tpr, float(auc)
    precision, recall, _ = sk.precision_recall_curve(y, score, pos_label=pos_label, sample_weight=w)
    ap = sk.average_precision_score(y, score, pos_label=pos_label, sample_weight=w)
    return recall, precision, float(ap)


def _frame(kind: str, pos_label: Any) -> Any:
    from matplotlib import pyplot

    _, ax = pyplot.subplots()
    suffix = f" (Positive label: {pos_label})" if pos_label is not None else ""
    if kind == "roc":
        ax.set_xlabel(f"False Positive Rate{suffix}")
        ax.set_ylabel(f"True Positive Rate{suffix}")
        ax.set_title("ROC curve")
        ax.plot([0, 1], [0, 1], **_DASHED)
    else:
        ax.set_xlabel(f"Recall{suffix}")
        ax.set_ylabel(f"Precision{suffix}")
        ax.set_title("Precision recall curve")
        ax.plot([0, 1], [1, 0], **_DASHED)
    return ax


def binary_curve(kind: str, y: Any, score: Any, pos_label: Any, w: Any) -> None:
    """The ROC ("roc") or precision-recall ("pr") curve of the positive label."""
    x_data, y_data, area = _curve(kind, y, score, pos_label, w)
    ax = _frame(kind, pos_label)
    name = "AUC" if kind == "roc" else "AP"
    ax.plot(x_data, y_data, drawstyle="steps-post", linewidth=1, label=f"{name}={area:.3f}")
    ax.legend(loc="best")


def one_vs_rest_aucs(kind: str, y: Any, proba: Any, labels: Any, w: Any) -> list[float]:
    """Each class's area against the rest (the per_class_metrics columns)."""
    import numpy as np

    y = np.asarray(y)
    return [
        _curve(kind, (y == label).astype(int), proba[:, i], 1, w)[2]
        for i, label in enumerate(labels)
    ]


def one_vs_rest_curves(kind: str, y: Any, proba: Any, labels: Any, w: Any) -> None:
    """One curve per class against the rest, as MLflow draws for several classes."""
    import numpy as np
    from matplotlib import pyplot

    y = np.asarray(y)
    ax = _frame(kind, None)
    name = "AUC" if kind == "roc" else "AP"
    for i, label in enumerate(labels):
        x_data, y_data, area = _curve(kind, (y == label).astype(int), proba[:, i], 1, w)
        ax.plot(
            x_data,
            y_data,
            drawstyle="steps-post",
            linewidth=1,
            label=f"label={label},{name}={area:.3f}",
        )
    ax.legend(loc="center left", bbox_to_anchor=(1, 0.5))
    pyplot.subplots_adjust(right=0.6, bottom=0.25)


def lift_curve(y: Any, proba: Any, pos_label: Any) -> None:
    """The lift of each class over random, against the share of samples taken."""
    import numpy as np
    from matplotlib import pyplot

    y = np.asarray(y)
    classes = np.unique(y)
    _, ax = pyplot.subplots()
    for i, label in enumerate(classes):
        order = np.argsort(-proba[:, i])
        hits = np.cumsum(y[order] == label)
        share = np.arange(1, len(y) + 1) / len(y)
        lift = (hits / max(hits[-1], 1)) / share
        ax.plot(share, lift, lw=2, label=f"Class {label}")
    ax.plot([0, 1], [1, 1], "k--", lw=2, label="Baseline")
    ax.set_title("Lift Curve")
    ax.set_xlabel("Percentage of sample")
    ax.set_ylabel("Lift")
    ax.grid(True)
    ax.legend(loc="lower right")


def calibration_curve(y_binary: Any, score: Any) -> None:
    """Observed frequency of the positive label against the mean predicted probability."""
    from matplotlib import pyplot
    from sklearn.calibration import CalibrationDisplay

    _, ax = pyplot.subplots()
    CalibrationDisplay.from_predictions(y_binary, score, n_bins=10, ax=ax, name="Classifier")
    ax.set_title("Calibration Curve")


def multiclass_calibration(y: Any, proba: Any, labels: Any) -> None:
    """One calibration curve per class against the rest."""
    import numpy as np
    from matplotlib import pyplot
    from sklearn.calibration import CalibrationDisplay

    y = np.asarray(y)
    _, ax = pyplot.subplots()
    for i, label in enumerate(labels):
        CalibrationDisplay.from_predictions(
            (y == label).astype(int), proba[:, i], n_bins=10, ax=ax, name=f"Class {label}"
        )
    ax.set_title("Calibration Curve")


def confusion_matrix(matrix: Any, labels: Any, font_size: int) -> None:
    """The confusion matrix normalized over the true labels (as MLflow and autolog)."""
    import matplotlib
    from matplotlib import pyplot
    from sklearn.metrics import ConfusionMatrixDisplay

    with matplotlib.rc_context({"font.size": font_size, "axes.labelsize": 8}):
        _, ax = pyplot.subplots(1, 1, figsize=(6.0, 4.0), dpi=175)
        display = ConfusionMatrixDisplay(confusion_matrix=matrix, display_labels=labels)
        display.plot(cmap="Blues", ax=ax)
        display.ax_.set_title("Normalized confusion matrix")
