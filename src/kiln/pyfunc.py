"""``kiln.pyfunc``, at MLflow's ``mlflow.pyfunc`` path; the code is ``kiln.models.pyfunc``.

Importing it loads nothing more than ``import kiln``: ``kiln.models.pyfunc`` (numpy,
pandas) loads on the first use of one of its names (see ``kiln._forward``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kiln._forward import forwarders

if TYPE_CHECKING:
    from kiln.models.pyfunc import *  # noqa: F403
    from kiln.models.pyfunc import __all__ as __all__

__getattr__, __dir__ = forwarders(__name__, "kiln.models.pyfunc")
