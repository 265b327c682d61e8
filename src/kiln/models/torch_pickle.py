"""The pickle module ``torch.save``/``torch.load`` use for PyTorch models: cloudpickle.

Kiln's copy of ``mlflow.pytorch.pickle_module``: ``torch.save`` takes the module's
``Pickler`` (cloudpickle's, so classes defined in ``__main__`` are saved by value)
and ``torch.load`` its ``Unpickler`` (the standard one: cloudpickle writes plain
pickles). Model folders record the MLflow name, which Kiln maps to this module,
so each package loads the other's files without importing the other.
"""

from __future__ import annotations

from pickle import Unpickler

from cloudpickle import CloudPickler as Pickler
from cloudpickle import dump, dumps, load, loads

__all__ = ["Pickler", "Unpickler", "dump", "dumps", "load", "loads"]
