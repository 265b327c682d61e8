"""``kiln.keras``, at MLflow's ``mlflow.keras`` path; the code is ``kiln.models.keras``.

Importing it loads nothing more than ``import kiln``: ``kiln.models.keras`` (numpy,
pandas) loads on the first use of one of its names (see ``kiln._forward``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiln._forward import forwarders

if TYPE_CHECKING:
    from kiln.models.keras import *  # noqa: F403
    from kiln.models.keras import __all__ as __all__

__getattr__, __dir__ = forwarders(__name__, "kiln.models.keras")
