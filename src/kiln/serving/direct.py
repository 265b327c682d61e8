"""The direct path: a request that is one float block in the signature's columns skips pandas.

For most tabular models (an sklearn estimator with an all-``double`` signature, like
the wine ElasticNet) a one-row request spends far more time building a DataFrame,
enforcing the signature on it and taking its array back out than the estimator
spends predicting. ``PyFuncModel.array_predictor`` says when none of that changes
the values: then ``predict(frame)`` equals ``predict_array(array)`` for a frame of
the signature's columns over one array of the signature's float dtype.

The request parsers (``kiln.serving.frames``, ``kiln.serving.invocations``) build
exactly the array they would have wrapped in a frame, and ask ``DirectPath.take``
for it in the signature's column order. Whatever is not a plain permutation of the
signature's columns (missing, extra or duplicate names, another dtype) goes the
general way, so every error and every conversion stays the general path's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_MAX_PLANS = 256  # column orders remembered; clients may send arbitrary names


@dataclass(frozen=True, slots=True)
class DirectRows:
    """Request rows ready for ``DirectPath.predict``: the array, columns in signature order."""

    array: np.ndarray[Any, Any]


class DirectPath:
    """The model's array predictor and the column orders it accepts.

    Attributes:
        names: the signature's input names, in order.
        dtype: the signature's float dtype.
        predict: predicts from a 2-D ``dtype`` array with ``names`` as its columns.
    """

    __slots__ = ("_plans", "dtype", "names", "predict")

    def __init__(
        self, names: Sequence[str], dtype: Any, predict: Callable[[np.ndarray[Any, Any]], Any]
    ) -> None:
        self.names = tuple(names)
        self.dtype = np.dtype(dtype)
        self.predict = predict
        self._plans: dict[tuple[Any, ...], list[int] | None] = {}

    def order(self, columns: Sequence[Any]) -> list[int] | None:
        """Positions of ``names`` in ``columns``; None unless ``columns`` is a permutation.

        The identity comes back as ``[]`` (nothing to reorder). Cached per column list.
        """
        key = tuple(columns)
        try:
            return self._plans[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable column label: not a permutation of names
            return None
        plan: list[int] | None = None
        if len(key) == len(self.names) and set(key) == set(self.names):
            positions = [key.index(name) for name in self.names]
            plan = [] if positions == list(range(len(positions))) else positions
        if len(self._plans) < _MAX_PLANS:
            self._plans[key] = plan
        return plan

    def take(self, array: np.ndarray[Any, Any], columns: Sequence[Any]) -> DirectRows | None:
        """``array`` (columns ``columns``) in signature order, or None when it does not fit.

        It fits when it is 2-D, of the signature's dtype, has at least one row, and
        ``columns`` is a permutation of the signature's names.
        """
        if array.ndim != 2 or array.dtype != self.dtype or not array.shape[0]:
            return None
        if array.shape[1] != len(self.names):
            return None
        plan = self.order(columns)
        if plan is None:
            return None
        return DirectRows(array[:, plan] if plan else array)


def direct_path(model: Any) -> DirectPath | None:
    """The model's direct path, when it has one (``PyFuncModel.array_predictor``)."""
    offer = getattr(model, "array_predictor", None)
    if not callable(offer):
        return None
    found = offer()
    if found is None:
        return None
    names, dtype, predict = found
    return DirectPath(names, dtype, predict)


__all__ = ["DirectPath", "DirectRows", "direct_path"]
