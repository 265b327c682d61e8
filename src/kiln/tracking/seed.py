"""``kiln.seed_everything(seed)``: one call that makes a training script repeatable.

It seeds every random number generator a Python training script usually draws
from, and records the seed on the run, so ``kiln reproduce`` re-runs the same
draws and a reader of the run sees which seed produced it:

* ``random`` (the global generator);
* numpy's global generator (``np.random.seed``), when numpy is installed;
* torch, when it is installed: ``torch.manual_seed`` (every device),
  ``torch.cuda.manual_seed_all`` when CUDA is available, cuDNN in deterministic
  mode without autotuning, and ``torch.use_deterministic_algorithms(True,
  warn_only=True)`` (an operation without a deterministic kernel warns instead of
  failing). ``CUBLAS_WORKSPACE_CONFIG`` is set (unless already set) because
  cuBLAS needs it to be deterministic;
* ``PYTHONHASHSEED`` in ``os.environ``: it cannot change this interpreter's
  string hashing (fixed at start-up), but every child process (data-loader
  workers, subprocesses) inherits it.

Torch is seeded when it is importable, not only when already imported: a script
that seeds first and imports torch afterwards would otherwise train unseeded,
silently. The price is torch's import time (about 2 s) paid here rather than
later, and only where torch is installed; numpy likewise. Neither is imported
when it is not installed (``importlib.util.find_spec`` looks without importing).

The seed becomes the ``kiln.seed`` tag of the active run, if one is active, and
of every run this process starts (or joins, under ``kiln run``) afterwards, so
``seed_everything`` may be called before ``kiln.start_run``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import random
import sys
from typing import Any

from kiln.errors import InvalidInput
from kiln.tracking import fluent

SEED_TAG = "kiln.seed"
MAX_SEED = 2**32 - 1  # numpy's legacy seeding takes 32-bit seeds
_CUBLAS_DETERMINISTIC = ":4096:8"


def _module(name: str) -> Any | None:
    """The module if it is imported or importable; None when it is not installed."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def _seed_torch(torch: Any, seed: int) -> None:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", _CUBLAS_DETERMINISTIC)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)


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
    numpy = _module("numpy")
    if numpy is not None:
        numpy.random.seed(seed)
    torch = _module("torch")
    if torch is not None:
        _seed_torch(torch, seed)
    fluent.remember_tag(SEED_TAG, str(seed))
    return seed


__all__ = ["MAX_SEED", "SEED_TAG", "seed_everything"]
