"""Patching a framework's methods for autolog, and undoing it.

A patch replaces a class attribute with a wrapper that calls Kiln's logging
around the original method; ``Patches.restore`` puts back exactly what was
there (an inherited method is removed again, an own one re-set). Methods that
scikit-learn exposes through ``available_if`` descriptors (``fit_transform`` on
a ``Pipeline``) are patched inside the descriptor, so ``hasattr`` keeps
answering as before. The training-session stack lets only the outermost fit
log: a ``Pipeline`` fitting its steps, or a search fitting candidates, logs one
run, as MLflow's autolog does.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kiln.store.rules.tracking import (
    MAX_ENTITY_KEY_LENGTH,
    MAX_PARAM_VAL_LENGTH,
    MAX_TAG_VAL_LENGTH,
)

AUTOLOGGING_TAG = "mlflow.autologging"
_ORIGINAL = "__kiln_autolog_original__"

Wrapper = Callable[..., Any]


def truncate(value: Any, limit: int) -> str:
    """``str(value)``, cut to ``limit`` characters with a ``...`` end, as MLflow does."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def truncate_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Param keys and values cut to the store's limits (MLflow's autolog does the same)."""
    return {
        truncate(k, MAX_ENTITY_KEY_LENGTH): truncate(v, MAX_PARAM_VAL_LENGTH)
        for k, v in params.items()
    }


def truncate_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    return {
        truncate(k, MAX_ENTITY_KEY_LENGTH): truncate(v, MAX_TAG_VAL_LENGTH) for k, v in tags.items()
    }


def original_of(function: Any) -> Any:
    """The unpatched function behind ``function`` (itself when not a Kiln wrapper)."""
    while hasattr(function, _ORIGINAL):
        function = getattr(function, _ORIGINAL)
    return function


def _wrap(original: Any, make: Callable[[Any], Wrapper]) -> Wrapper:
    wrapper = make(original)
    functools.update_wrapper(wrapper, original)
    setattr(wrapper, _ORIGINAL, original)
    return wrapper


@dataclass
class Patches:
    """The patches one flavor applied, so that they can be undone."""

    _undo: list[Callable[[], None]] = field(default_factory=list)
    _descriptors: set[int] = field(default_factory=set)

    def patch_method(self, cls: type, name: str, make: Callable[[Any], Wrapper]) -> None:
        """Wrap ``cls.<name>`` (own or inherited) with ``make(original)``.

        ``make`` gets the plain function and returns ``wrapper(self, *args, **kwargs)``.
        Properties and other descriptors that are not ``available_if`` are left alone.
        """
        if not hasattr(cls, name):
            return
        raw = inspect.getattr_static(cls, name)
        if hasattr(raw, "fn") and hasattr(raw, "check"):  # sklearn's available_if
            self._patch_descriptor(raw, make)
            return
        if not inspect.isfunction(raw) and not hasattr(raw, _ORIGINAL):
            return
        own = cls.__dict__.get(name)
        setattr(cls, name, _wrap(original_of(raw), make))
        if own is None:
            self._undo.append(lambda: delattr(cls, name) if name in cls.__dict__ else None)
        else:
            self._undo.append(lambda: setattr(cls, name, own))

    def patch_function(self, module: Any, name: str, make: Callable[[Any], Wrapper]) -> None:
        """Wrap the module-level function ``module.<name>`` (when it exists)."""
        before = getattr(module, name, None)
        if before is None or not callable(before):
            return
        setattr(module, name, _wrap(original_of(before), make))
        self._undo.append(lambda: setattr(module, name, before))

    def _patch_descriptor(self, descriptor: Any, make: Callable[[Any], Wrapper]) -> None:
        if id(descriptor) in self._descriptors:
            return
        self._descriptors.add(id(descriptor))
        before = descriptor.fn
        descriptor.fn = _wrap(original_of(before), make)
        self._undo.append(lambda: setattr(descriptor, "fn", before))

    def restore(self) -> None:
        """Undo every patch, newest first."""
        while self._undo:
            self._undo.pop()()
        self._descriptors.clear()


@contextmanager
def rerouted_warnings(log: logging.Logger) -> Iterator[None]:
    """Warnings raised by autolog's own work become log records, as in MLflow.

    They are not the user's to act on, and a test suite that turns warnings into
    errors must not see its fit fail because a metric warned.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for item in caught:
        log.warning("%s: %s", item.category.__name__, item.message)


@contextmanager
def quiet(log: logging.Logger, silent: bool) -> Iterator[None]:
    """With ``silent`` (autolog's argument), ``log`` shows nothing."""
    if not silent:
        yield
        return
    before = log.disabled
    log.disabled = True
    try:
        yield
    finally:
        log.disabled = before


class TrainingSessions:
    """Process-wide stack of fits in progress; only the outermost one logs.

    Process-wide rather than per thread: a search that fits its candidates in
    worker threads must not log a run per candidate.
    """

    def __init__(self) -> None:
        self._stack: list[object] = []
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self._stack)

    @contextmanager
    def session(self, estimator: object) -> Iterator[bool]:
        """Yields True when this fit is the outermost one (the one that logs)."""
        with self._lock:
            outermost = not self._stack
            self._stack.append(estimator)
        try:
            yield outermost
        finally:
            with self._lock:
                self._stack.remove(estimator)


__all__ = [
    "AUTOLOGGING_TAG",
    "Patches",
    "TrainingSessions",
    "original_of",
    "quiet",
    "rerouted_warnings",
    "truncate",
    "truncate_params",
    "truncate_tags",
]
