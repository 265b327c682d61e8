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
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kiln.models.autolog.import_hooks import HOOKS

_log = logging.getLogger("kiln.autolog")


@dataclass(frozen=True)
class Integration:
    """A flavor's autolog: the library it needs and where its ``autolog`` lives."""

    library: str
    module: str
    # other import names of the same library (Lightning's older ``pytorch_lightning``)
    also: tuple[str, ...] = ()

    def available(self) -> bool:
        return any(importlib.util.find_spec(name) is not None for name in self.libraries)

    @property
    def libraries(self) -> tuple[str, ...]:
        return (self.library, *self.also)

    def function(self) -> Callable[..., None]:
        function: Callable[..., None] = importlib.import_module(self.module).autolog
        return function


FLAVORS: dict[str, Integration] = {
    "sklearn": Integration("sklearn", "kiln.models.autolog.sklearn"),
    "xgboost": Integration("xgboost", "kiln.models.autolog.xgboost"),
    "lightgbm": Integration("lightgbm", "kiln.models.autolog.lightgbm"),
    "pytorch": Integration("lightning", "kiln.models.autolog.pytorch", ("pytorch_lightning",)),
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

    A flavor whose library is already imported is configured now; the others when
    the script imports their library (as ``mlflow.autolog()`` does), so turning
    autolog on never imports a framework the script does not use. Returns the
    flavors configured or waiting for their import. A flavor whose autolog fails
    to start is reported as a warning (unless ``silent``) and the others still start.
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
        if disable:
            HOOKS.cancel(integration.libraries)
            if not any(name in sys.modules for name in integration.libraries):
                continue  # never imported, so never patched
        function_kwargs = dict(kwargs)
        if disable or any(name in sys.modules for name in integration.libraries):
            try:
                _configure(integration, function_kwargs)
            except Exception as exc:
                if not silent:
                    _log.warning("autolog for %s could not be configured: %s", flavor, exc)
                continue
        else:
            HOOKS.cancel(integration.libraries)  # the last call's settings win, as in MLflow
            HOOKS.when_imported(
                integration.libraries, _later(flavor, integration, function_kwargs, silent)
            )
        done.append(flavor)
    return done


def _configure(integration: Integration, kwargs: Mapping[str, Any]) -> None:
    function = integration.function()
    function(**_accepted(function, kwargs))


def _later(
    flavor: str, integration: Integration, kwargs: Mapping[str, Any], silent: bool
) -> Callable[[], None]:
    """The hook that configures ``flavor`` once the script imports its library."""

    def configure() -> None:
        try:
            _configure(integration, kwargs)
        except Exception as exc:
            if not silent:
                _log.warning("autolog for %s could not be configured: %s", flavor, exc)

    return configure


__all__ = ["FLAVORS", "Integration", "autolog", "register"]
