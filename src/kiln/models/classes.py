"""Framework model classes named in ``MLmodel`` (``model_class``), resolved safely.

MLflow records ``<module>.<Class>`` of the saved object and imports it when
loading. Kiln does the same but only inside the flavor's own package, so an
``MLmodel`` cannot make Kiln import arbitrary code.
"""

from __future__ import annotations

import importlib
from typing import Any

from kiln.errors import InvalidInput


def qualified_name(obj: Any) -> str:
    """``module.Class`` of ``obj``, as MLflow writes ``model_class``."""
    return f"{type(obj).__module__}.{type(obj).__name__}"


def class_from_name(name: str, package: str) -> type[Any]:
    """The class ``name`` names, which must live in ``package``.

    Raises:
        InvalidInput: outside ``package``, or no such class.
    """
    module_name, _, class_name = name.rpartition(".")
    if module_name != package and not module_name.startswith(f"{package}."):
        raise InvalidInput(f"model_class {name!r} is not a {package} class")
    try:
        value = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise InvalidInput(f"model_class {name!r} cannot be imported: {exc}") from exc
    if not isinstance(value, type):
        raise InvalidInput(f"model_class {name!r} is not a class")
    return value


__all__ = ["class_from_name", "qualified_name"]
