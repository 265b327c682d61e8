"""``kiln.data``, at MLflow's ``mlflow.data`` path: dataset objects for ``kiln.log_input``.

``from_pandas`` and ``from_numpy`` take MLflow's arguments and return objects that
keep the data (``df``, ``features``, ``targets``) and know what ``log_input``
records: a ``kiln.entities.Dataset`` with MLflow's schema and profile JSON
(colspecs for a frame, tensor specs for arrays) and, with no ``source``, MLflow's
``code`` source (the user and script that built it). Digests are MLflow's
(``kiln.tracking.digests``): the same data gets the same digest under both. numpy and
pandas load on the first call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.entities import Dataset
from kiln.errors import InvalidInput
from kiln.tracking import system_tags

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    Arrays = np.ndarray[Any, Any] | Mapping[str, np.ndarray[Any, Any]]

DEFAULT_NAME = "dataset"


def _source(source: str | Path | None) -> tuple[str, str]:
    """(source_type, source JSON): MLflow's ``code`` source when None, else the path/URI's."""
    if source is None:
        tags = {
            system_tags.USER: system_tags.current_user(),
            system_tags.SOURCE_NAME: system_tags.source_name(),
            system_tags.SOURCE_TYPE: system_tags.SOURCE_TYPE_LOCAL,
        }
        return "code", json.dumps({"tags": tags})
    from kiln.tracking.datasets import _source_of

    return _source_of(source)


class _Logged:
    """What both dataset classes read from the ``Dataset`` entity ``log_input`` records."""

    __slots__ = ()
    entity: Dataset

    @property
    def name(self) -> str:
        return self.entity.name

    @property
    def digest(self) -> str:
        return self.entity.digest

    @property
    def schema(self) -> str | None:
        return self.entity.schema

    @property
    def profile(self) -> str | None:
        return self.entity.profile

    def _to_mlflow_entity(self) -> Dataset:
        """What ``log_input`` logs (the method name MLflow's datasets share)."""
        return self.entity


@dataclass(frozen=True, slots=True, eq=False)
class PandasDataset(_Logged):
    """A DataFrame and what ``log_input`` records for it (``mlflow.data.pandas_dataset``)."""

    df: pd.DataFrame
    entity: Dataset
    targets: str | None = None
    predictions: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class NumpyDataset(_Logged):
    """Arrays (or dicts of named arrays) and their ``Dataset`` (``mlflow.data.numpy_dataset``)."""

    features: Arrays
    entity: Dataset
    targets: Arrays | None = None


def from_pandas(
    df: pd.DataFrame,
    source: str | Path | None = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> PandasDataset:
    """``mlflow.data.from_pandas``: a frame as a dataset for ``log_input``.

    Raises:
        InvalidInput: ``df`` is not a DataFrame, or ``targets``/``predictions`` is
            not one of its columns.
    """
    from kiln.tracking.datasets import frame_profile, frame_schema
    from kiln.tracking.digests import pandas_digest

    if type(df).__name__ != "DataFrame" or not type(df).__module__.startswith("pandas"):
        raise InvalidInput(f"from_pandas needs a pandas DataFrame, not a {type(df).__name__}")
    for role, column in (("targets", targets), ("predictions", predictions)):
        if column is not None and column not in df.columns:
            raise InvalidInput(f"the {role} column {column!r} is not a column of the DataFrame")
    source_type, source_json = _source(source)
    entity = Dataset(
        name or DEFAULT_NAME,
        digest or pandas_digest(df),
        source_type,
        source_json,
        frame_schema(df),
        frame_profile(df),
    )
    return PandasDataset(df, entity, targets, predictions)


def _tensor_specs(data: Arrays) -> str:
    """MLflow's tensor-spec list JSON (named specs for a dict of arrays)."""
    if isinstance(data, Mapping):
        specs = [
            {"name": str(k), "type": "tensor", "tensor-spec": _spec(v)} for k, v in data.items()
        ]
    else:
        specs = [{"type": "tensor", "tensor-spec": _spec(data)}]
    return json.dumps(specs)


def _spec(array: np.ndarray[Any, Any]) -> dict[str, Any]:
    return {"dtype": str(array.dtype), "shape": [-1, *array.shape[1:]]}


def _profile(prefix: str, data: Arrays) -> dict[str, Any]:
    def each(attr: str) -> Any:
        if isinstance(data, Mapping):
            return {str(k): _jsonable(getattr(v, attr)) for k, v in data.items()}
        return _jsonable(getattr(data, attr))

    return {f"{prefix}_{attr}": each(attr) for attr in ("shape", "size", "nbytes")}


def _jsonable(value: Any) -> Any:
    return [int(v) for v in value] if isinstance(value, tuple) else int(value)


def from_numpy(
    features: Arrays,
    source: str | Path | None = None,
    targets: Arrays | None = None,
    name: str | None = None,
    digest: str | None = None,
) -> NumpyDataset:
    """``mlflow.data.from_numpy``: arrays (or dicts of named arrays) as a dataset.

    Raises:
        InvalidInput: ``features`` or ``targets`` is neither an array nor a dict of arrays.
    """
    import numpy as np

    from kiln.tracking.digests import numpy_digest

    for role, part in (("features", features), ("targets", targets)):
        values = part.values() if isinstance(part, Mapping) else [part]
        if part is not None and not all(isinstance(v, np.ndarray) for v in values):
            raise InvalidInput(f"from_numpy needs {role} as a numpy array or a dict of arrays")
    schema = {
        "mlflow_tensorspec": {
            "features": _tensor_specs(features),
            "targets": _tensor_specs(targets) if targets is not None else None,
        }
    }
    profile = _profile("features", features)
    if targets is not None:
        profile.update(_profile("targets", targets))
    source_type, source_json = _source(source)
    entity = Dataset(
        name or DEFAULT_NAME,
        digest or numpy_digest(features, targets),
        source_type,
        source_json,
        json.dumps(schema),
        json.dumps(profile),
    )
    return NumpyDataset(features, entity, targets)


__all__ = ["NumpyDataset", "PandasDataset", "from_numpy", "from_pandas"]
