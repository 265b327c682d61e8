"""``kiln.seed_everything(seed)``: one call that makes a training script repeatable.

It seeds every random number generator a Python training script usually draws
from, and records the seed on the run, so ``kiln reproduce`` re-runs the same
draws and a reader of the run sees which seed produced it:

* ``random`` (the global generator);
* numpy's global generator (``np.random.seed``);
* torch: ``torch.manual_seed`` (every device), ``torch.cuda.manual_seed_all``
  when CUDA is available, cuDNN in deterministic mode without autotuning, and
  ``torch.use_deterministic_algorithms(True, warn_only=True)`` (an operation
  without a deterministic kernel warns instead of failing).
  ``CUBLAS_WORKSPACE_CONFIG`` is set (unless already set) because cuBLAS needs
  it to be deterministic;
* ``PYTHONHASHSEED`` in ``os.environ``: it cannot change this interpreter's
  string hashing (fixed at start-up), but every child process (data-loader
  workers, subprocesses) inherits it.

numpy and torch are never imported here (importing torch takes seconds, a
waste for a script that does not use it). One that is already imported is
seeded at once; one that is installed but not imported yet is seeded right after
its first import, by a one-shot import hook (``sys.meta_path``). Either way the
script sees a seeded generator, whichever order it seeds and imports in. A
library that is not installed is skipped.

The seed becomes the ``kiln.seed`` tag of the active run, if one is active, and
of every run this process starts (or joins, under ``kiln run``) afterwards, so
``seed_everything`` may be called before ``kiln.start_run``.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import random
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from kiln.entities import SEED_TAG
from kiln.errors import InvalidInput
from kiln.tracking import fluent

MAX_SEED = 2**32 - 1  # numpy's legacy seeding takes 32-bit seeds
_CUBLAS_DETERMINISTIC = ":4096:8"


def _seed_numpy(numpy: Any, seed: int) -> None:
    numpy.random.seed(seed)


def _seed_torch(torch: Any, seed: int) -> None:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", _CUBLAS_DETERMINISTIC)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


_SEEDERS: dict[str, Callable[[Any, int], None]] = {"numpy": _seed_numpy, "torch": _seed_torch}


class _SeedOnImport(importlib.abc.MetaPathFinder):
    """Seeds a library right after its first import (one shot per name).

    It finds nothing itself: while a name is pending it asks the finders after it
    for the spec and wraps that spec's loader's ``exec_module``, so the library is
    seeded once its ``__init__`` has run. The seed is taken when the module
    executes, not when it is found: libraries probe with
    ``importlib.util.find_spec("torch")`` long before importing it. The hook
    leaves ``sys.meta_path`` when nothing is pending.
    """

    def __init__(self) -> None:
        self.pending: dict[str, int] = {}
        self.lock = threading.Lock()

    def take(self, name: str) -> int | None:
        with self.lock:
            seed = self.pending.pop(name, None)
            if not self.pending and self in sys.meta_path:
                sys.meta_path.remove(self)
        return seed

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.pending:
            return None
        spec = _find_with_others(self, fullname, path, target)
        loader = None if spec is None else spec.loader
        execute = getattr(loader, "exec_module", None)
        if loader is None or execute is None:
            return spec
        seeder = _SEEDERS[fullname]

        def exec_module(module: ModuleType) -> None:
            execute(module)
            seed = self.take(fullname)
            if seed is not None:
                seeder(module, seed)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _find_with_others(
    hook: _SeedOnImport,
    fullname: str,
    path: Sequence[str] | None,
    target: ModuleType | None,
) -> importlib.machinery.ModuleSpec | None:
    for finder in list(sys.meta_path):
        find = getattr(finder, "find_spec", None)
        if finder is hook or find is None:
            continue
        spec = find(fullname, path, target)
        if spec is not None:
            return spec  # type: ignore[no-any-return]
    return None


_hook = _SeedOnImport()


def _seed_later(name: str, seed: int) -> None:
    with _hook.lock:
        _hook.pending[name] = seed
        if _hook not in sys.meta_path:
            sys.meta_path.insert(0, _hook)


def seed_everything(seed: int) -> int:
    """Seed ``random``, numpy and torch (when installed) and record ``kiln.seed``.

    Args:
        seed: an integer in ``[0, 2**32 - 1]`` (the range every library accepts).

    Returns:
        ``seed``, so ``seed = kiln.seed_everything(42)`` reads naturally.

    Raises:
        InvalidInput: ``seed`` is not an integer (``bool`` included) or is out of range.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidInput(
            f"the seed must be an integer, got {type(seed).__name__} {seed!r}; "
            "pass e.g. kiln.seed_everything(42)"
        )
    if not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"the seed {seed} is out of range: pass an integer from 0 to {MAX_SEED}")
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    for name, seeder in _SEEDERS.items():
        loaded = sys.modules.get(name)
        if loaded is not None:
            _hook.take(name)
            seeder(loaded, seed)
        elif _find_with_others(_hook, name, None, None) is not None:  # installed
            _seed_later(name, seed)
    fluent.remember_tag(SEED_TAG, str(seed))
    return seed


__all__ = ["MAX_SEED", "SEED_TAG", "seed_everything"]
