"""Tiny in-test models for the scoring server (predict + metadata, nothing else)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from kiln.serving import create_scoring_app
from kiln.testing.server import asgi_client

WINE_COLUMNS = [
    "alcohol",
    "chlorides",
    "citric acid",
    "density",
    "fixed acidity",
    "free sulfur dioxide",
    "pH",
    "residual sugar",
    "sulphates",
    "total sulfur dioxide",
    "volatile acidity",
]


class RecordingModel:
    """Answers one prediction per row (the row count so far) and keeps what it was given."""

    def __init__(self, signature: dict[str, Any] | None = None) -> None:
        self.metadata = {"signature": signature} if signature else {}
        self.calls: list[tuple[Any, dict[str, Any] | None]] = []

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        self.calls.append((data, params))
        rows = len(data) if hasattr(data, "__len__") else 1
        if isinstance(data, dict):
            rows = len(next(iter(data.values())))
        return np.arange(rows, dtype="float64")

    @property
    def last(self) -> Any:
        return self.calls[-1][0]


class SumModel:
    """Sums each row; its signature names two double columns a, b."""

    metadata: ClassVar[dict[str, Any]] = {
        "signature": {
            "inputs": [{"name": "a", "type": "double"}, {"name": "b", "type": "double"}],
            "outputs": [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}],
            "params": [{"name": "scale", "type": "double", "default": 1.0}],
        }
    }

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        self.seen.append(data)
        scale = float((params or {}).get("scale", 1.0))
        frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        return frame.sum(axis=1).to_numpy() * scale


class RaisingModel:
    """Raises the error it was built with."""

    metadata: ClassVar[dict[str, Any]] = {}

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.fail = True

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        if self.fail:
            raise self.error
        return [1.0] * len(data)


def client_for(model: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("name", "wine")
    return asgi_client(create_scoring_app(model, **kwargs))
