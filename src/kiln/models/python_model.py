"""``PythonModel``: the base class for custom pyfunc models.

This module imports nothing from Kiln on purpose: ``kiln.models.pyfunc`` pickles
it by value into ``python_model.pkl`` so that MLflow (``loader_module:
mlflow.pyfunc.model``) can unpickle a Kiln-written model without Kiln
installed. The attribute names (``artifacts``, ``model_config``,
``predict_type_hints``) are the ones MLflow's loader reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PythonModelContext:
    """What ``PythonModel.load_context`` receives.

    Attributes:
        artifacts: artifact name -> absolute local path inside the model folder.
        model_config: the configuration given at load time (empty when none).
    """

    artifacts: dict[str, str] = field(default_factory=dict)
    model_config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _NoTypeHints:
    """MLflow's loader reads ``predict_type_hints.input``; Kiln uses no hints."""

    input: Any = None
    output: Any = None


class PythonModel:
    """Subclass and implement ``predict(context, model_input, params=None)``.

    ``load_context(context)`` runs once after loading, before any prediction;
    open files from ``context.artifacts`` there.
    """

    def load_context(self, context: PythonModelContext) -> None:
        """Prepare the model from its artifacts (no-op by default)."""

    def predict(self, context: PythonModelContext, model_input: Any, params: Any = None) -> Any:
        """Return predictions for ``model_input`` (a DataFrame after schema checks)."""
        raise NotImplementedError(f"{type(self).__name__} must implement predict()")

    @property
    def predict_type_hints(self) -> _NoTypeHints:
        return _NoTypeHints()


__all__ = ["PythonModel", "PythonModelContext"]
