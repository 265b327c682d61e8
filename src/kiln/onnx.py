"""``kiln.onnx``, at MLflow's ``mlflow.onnx`` path; the code is ``kiln.models.onnx``.

Importing it loads nothing more than ``import kiln``: ``kiln.models.onnx`` (numpy,
pandas) loads on the first use of one of its names (see ``kiln._forward``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiln._forward import forwarders

if TYPE_CHECKING:
    from kiln.models.onnx import *  # noqa: F403
    from kiln.models.onnx import __all__ as __all__

__getattr__, __dir__ = forwarders(__name__, "kiln.models.onnx")
