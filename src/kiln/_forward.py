"""Modules at MLflow's import paths that forward to where Kiln keeps the code.

``kiln.sklearn`` stands where ``mlflow.sklearn`` does, but the flavor lives in
``kiln.models.sklearn`` and imports numpy and pandas. The forwarding module loads
its target on the first use of a public name, so ``import kiln.sklearn`` stays as
cheap as ``import kiln``. Every read goes to the target (nothing is copied), so
both paths see the same functions and the same module state.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def forwarders(path: str, target: str) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A PEP 562 ``__getattr__`` and ``__dir__`` for the module ``path`` that read ``target``.

    Dunder names other than ``__all__`` are not forwarded: tools probe them
    (``__path__``, ``__wrapped__``, ...) and must not load the target.
    """

    def __getattr__(name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name != "__all__":
            raise AttributeError(f"module {path!r} has no attribute {name!r}")
        module = importlib.import_module(target)
        try:
            return getattr(module, name)
        except AttributeError:
            raise AttributeError(f"module {path!r} has no attribute {name!r}") from None

    def __dir__() -> list[str]:
        public: list[str] = getattr(importlib.import_module(target), "__all__", [])
        return sorted({*public, "__all__", "__doc__", "__name__"})

    return __getattr__, __dir__


__all__ = ["forwarders"]
