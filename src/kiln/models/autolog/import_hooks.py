"""Run a callback when a module is first imported (a post-import hook).

``kiln.autolog()`` turns a flavor on at once only when its library is already
imported; otherwise it waits here until the script imports it, as
``mlflow.autolog()`` does. Importing every installed framework up front would cost
seconds (TensorFlow alone takes ~5 s) for libraries a script never uses.

``ImportHooks`` is a ``sys.meta_path`` finder that answers for nothing itself: for a
watched name it asks the other finders for the real spec and wraps its loader, so
the callbacks run right after the module's own code finishes.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType

_log = logging.getLogger("kiln.autolog")


class _Loader(importlib.abc.Loader):
    """The real loader, then the hooks for the module it loaded."""

    def __init__(self, real: importlib.abc.Loader, hooks: ImportHooks, name: str) -> None:
        self._real = real
        self._hooks = hooks
        self._name = name

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._real.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._real  # what the module's own code may look at later
        if module.__spec__ is not None:
            module.__spec__.loader = self._real
        self._real.exec_module(module)
        self._hooks.fire(self._name)


class ImportHooks(importlib.abc.MetaPathFinder):
    """Callbacks by module name, each run once, when that module is imported."""

    def __init__(self) -> None:
        self._pending: dict[str, list[Callable[[], None]]] = {}
        self._lock = threading.RLock()
        self._finding: set[str] = set()

    def when_imported(self, names: Sequence[str], callback: Callable[[], None]) -> bool:
        """Run ``callback`` when the first of ``names`` is imported (now, if one is).

        Returns whether it ran now.
        """
        if any(name in sys.modules for name in names):
            callback()
            return True
        fired = threading.Event()

        def once() -> None:
            if not fired.is_set():
                fired.set()
                callback()

        with self._lock:
            for name in names:
                self._pending.setdefault(name, []).append(once)
            if self not in sys.meta_path:
                sys.meta_path.insert(0, self)
        return False

    def cancel(self, names: Sequence[str]) -> None:
        """Forget every callback waiting for ``names``."""
        with self._lock:
            for name in names:
                self._pending.pop(name, None)

    def fire(self, name: str) -> None:
        with self._lock:
            callbacks = self._pending.pop(name, [])
        for callback in callbacks:
            try:
                callback()
            except Exception as exc:  # a hook must never break the user's import
                _log.warning("autolog could not start after importing %s: %s", name, exc)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        with self._lock:
            if fullname not in self._pending or fullname in self._finding:
                return None
            self._finding.add(fullname)
        try:
            spec = None
            for finder in list(sys.meta_path):
                if finder is not self and hasattr(finder, "find_spec"):
                    spec = finder.find_spec(fullname, path, target)
                    if spec is not None:
                        break
        finally:
            with self._lock:
                self._finding.discard(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _Loader(spec.loader, self, fullname)
        return spec


HOOKS = ImportHooks()

__all__ = ["HOOKS", "ImportHooks"]
