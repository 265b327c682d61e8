"""Turn a DataFrame or a file into a ``Dataset`` for ``kiln.log_input``.

``dataset_from(obj, name=None, source=None)`` accepts a kiln ``Dataset`` (returned
as is), a pandas ``DataFrame``, a local file path, or an MLflow dataset
(``mlflow.data.from_pandas(...)``; anything with ``_to_mlflow_entity()``), and
fills in what MLflow's ``PandasDataset`` would:

* ``digest``: the first 8 hex characters of a SHA-256 over canonical bytes (the
  length MLflow uses). For a frame: its column names and dtypes, then pandas'
  per-row value hashes (``hash_pandas_object``, index included), so equal frames
  get equal digests in every process. For a file: its bytes.
* ``schema``: MLflow's ``{"mlflow_colspec": [{"type", "name", "required"}]}`` JSON
  with MLflow's type names (``long``, ``double``, ``string``, ...); None when a
  column has no MLflow type (mixed objects), as MLflow leaves it out then.
* ``profile``: ``{"num_rows": N, "num_elements": M}``.
* ``source_type``/``source``: ``local`` and ``{"uri": "<absolute path>"}`` for a
  path; for a URI with a scheme its scheme (``s3``, ``http`` for http/https)
  and ``{"uri": ...}``; ``code`` and ``{}`` for a frame with no source.

CSV and Parquet files are read with pandas for schema and profile; other files
get neither. pandas is imported only when a frame or a table file is given.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from kiln.entities import Dataset
from kiln.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

DIGEST_LENGTH = 8
DEFAULT_NAME = "dataset"
_TABLE_READERS = {".csv": "read_csv", ".parquet": "read_parquet"}
# numpy dtype kind/size -> MLflow DataType name (mlflow.types.utils._infer_pandas_column).
_NUMERIC_TYPES = {
    ("b", 1): "boolean",
    ("i", 1): "integer",
    ("i", 2): "integer",
    ("i", 4): "integer",
    ("i", 8): "long",
    ("u", 1): "integer",
    ("u", 2): "integer",
    ("u", 4): "long",
    ("f", 2): "float",
    ("f", 4): "float",
    ("f", 8): "double",
}


def _digest(chunks: list[bytes]) -> str:
    sha = hashlib.sha256()
    for chunk in chunks:
        sha.update(chunk)
    return sha.hexdigest()[:DIGEST_LENGTH]


def frame_digest(frame: pd.DataFrame) -> str:
    """Digest of a frame's column names, dtypes and values."""
    import pandas as pd

    header = json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode("utf-8")
    rows = pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes()
    return _digest([header, rows])


def _column_type(values: pd.Series[Any]) -> str | None:
    dtype = values.dtype
    kind = getattr(dtype, "kind", None)
    if kind == "M":
        return "datetime"
    if kind in ("b", "i", "u", "f"):
        return _NUMERIC_TYPES.get((kind, int(getattr(dtype, "itemsize", 0))))
    if str(dtype) in ("string", "str"):
        return "string"
    if kind == "O":
        present = values.dropna()
        if len(present) and all(isinstance(v, str) for v in present):
            return "string"
        if len(present) and all(isinstance(v, bytes) for v in present):
            return "binary"
    return None


def frame_schema(frame: pd.DataFrame) -> str | None:
    """MLflow's colspec JSON of a frame; None when some column has no MLflow type."""
    specs = []
    for name, values in frame.items():
        kind = _column_type(values)
        if kind is None:
            return None
        required = not bool(values.isna().any())
        specs.append({"type": kind, "name": str(name), "required": required})
    return json.dumps({"mlflow_colspec": specs})


def frame_profile(frame: pd.DataFrame) -> str:
    return json.dumps({"num_rows": len(frame), "num_elements": int(frame.size)})


def _source_of(source: str | Path) -> tuple[str, str]:
    """(source_type, source JSON) of a path or URI."""
    text = str(source)
    scheme = urlparse(text).scheme
    if len(scheme) > 1 and scheme != "file":
        kind = "http" if scheme in ("http", "https") else scheme
        return kind, json.dumps({"uri": text})
    path = Path(urlparse(text).path if scheme == "file" else text).expanduser().resolve()
    return "local", json.dumps({"uri": str(path)})


def _from_file(path: Path, name: str | None, source: str | Path | None) -> Dataset:
    if not path.is_file():
        raise InvalidInput(f"cannot log {str(path)!r} as a dataset: it is not a file")
    schema = profile = None
    reader = _TABLE_READERS.get(path.suffix.lower())
    if reader is not None:
        import pandas as pd

        frame = getattr(pd, reader)(path)
        schema, profile = frame_schema(frame), frame_profile(frame)
    source_type, source_json = _source_of(source if source is not None else path)
    digest = _digest([path.read_bytes()])
    return Dataset(name or path.stem, digest, source_type, source_json, schema, profile)


def _from_mlflow(obj: Any) -> Dataset:
    entity = obj._to_mlflow_entity()
    return Dataset(
        name=entity.name,
        digest=entity.digest,
        source_type=entity.source_type,
        source=entity.source,
        schema=entity.schema,
        profile=entity.profile,
    )


def dataset_from(obj: Any, name: str | None = None, source: str | Path | None = None) -> Dataset:
    """A ``Dataset`` for ``obj`` (see the module docstring for what is computed).

    Args:
        obj: a kiln ``Dataset``, a pandas ``DataFrame``, a file path (``str`` or
            ``Path``), or an MLflow dataset.
        name: the dataset's name; default ``"dataset"`` for a frame, the file's
            stem for a path.
        source: where the data came from (path or URI); default: the file itself,
            or ``code`` for a frame.

    Raises:
        InvalidInput: a path that is not a file, or an object of another type.
    """
    if isinstance(obj, Dataset):
        return obj
    if isinstance(obj, (str, Path)):
        return _from_file(Path(obj).expanduser(), name, source)
    if hasattr(obj, "_to_mlflow_entity"):
        return _from_mlflow(obj)
    module = type(obj).__module__
    if module.startswith("pandas") and type(obj).__name__ == "DataFrame":
        if source is None:
            source_type, source_json = "code", "{}"
        else:
            source_type, source_json = _source_of(source)
        return Dataset(
            name or DEFAULT_NAME,
            frame_digest(obj),
            source_type,
            source_json,
            frame_schema(obj),
            frame_profile(obj),
        )
    raise InvalidInput(
        f"cannot log a {type(obj).__name__} as a dataset: pass a kiln Dataset, a pandas "
        "DataFrame, a file path or an MLflow dataset"
    )


__all__ = ["dataset_from", "frame_digest", "frame_profile", "frame_schema"]
