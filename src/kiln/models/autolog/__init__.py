"""Autolog: ``kiln.autolog()`` and each flavor's ``kiln.<flavor>.autolog()``.

``FLAVORS`` maps a flavor to the library it patches and the module whose
``autolog`` function does it. ``kiln.autolog(...)`` turns on every flavor whose
library is installed, passing each the arguments its ``autolog`` accepts, as
``mlflow.autolog()`` does. A new flavor (xgboost, lightgbm, pytorch, keras)
registers with one ``FLAVORS`` entry. Nothing here imports a library until
autolog is called.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_log = logging.getLogger("kiln.autolog")


@dataclass(frozen=True)
class Integration:
    """A flavor's autolog: the library it needs and where its ``autolog`` lives."""

    library: str
    module: str

    def available(self) -> bool:
        return importlib.util.find_spec(self.library) is not None

    def function(self) -> Callable[..., None]:
        function: Callable[..., None] = importlib.import_module(self.module).autolog
        return function


FLAVORS: dict[str, Integration] = {
    "sklearn": Integration("sklearn", "kiln.models.autolog.sklearn"),
    "xgboost": Integration("xgboost", "kiln.models.autolog.xgboost"),
    "lightgbm": Integration("lightgbm", "kiln.models.autolog.lightgbm"),
    "pytorch": Integration("lightning", "kiln.models.autolog.pytorch"),
    "keras": Integration("keras", "kiln.models.autolog.keras"),
}


def register(flavor: str, library: str, module: str) -> None:
    """Add (or replace) a flavor's autolog for ``kiln.autolog()``."""
    FLAVORS[flavor] = Integration(library, module)


def _accepted(function: Callable[..., None], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    names = inspect.signature(function).parameters
    return {k: v for k, v in kwargs.items() if k in names}


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    extra_tags: Mapping[str, Any] | None = None,
) -> list[str]:
    """Turn on (or off, with ``disable``) autolog for every installed flavor.

    Returns the flavors configured. A flavor whose autolog fails to start is
    reported as a warning (unless ``silent``) and the others still start.
    """
    kwargs = {
        "log_input_examples": log_input_examples,
        "log_model_signatures": log_model_signatures,
        "log_models": log_models,
        "log_datasets": log_datasets,
        "disable": disable,
        "exclusive": exclusive,
        "disable_for_unsupported_versions": disable_for_unsupported_versions,
        "silent": silent,
        "extra_tags": extra_tags,
    }
    done = []
    for flavor, integration in FLAVORS.items():
        if not integration.available():
            continue
        try:
            function = integration.function()
            function(**_accepted(function, kwargs))
        except Exception as exc:
            if not silent:
                _log.warning("autolog for %s could not be configured: %s", flavor, exc)
            continue
        done.append(flavor)
    return done


__all__ = ["FLAVORS", "Integration", "autolog", "register"]
