"""Scoring a file in chunks: ``kiln models predict -i in.csv -o out.json``.

CSV and Parquet inputs are streamed (``pandas.read_csv(chunksize=...)``,
``pyarrow`` record batches), so a file larger than memory is scored chunk by
chunk; a JSON input (any body ``/invocations`` accepts) is read whole and
predicted in row chunks. The output format follows the output file's suffix:
``.csv``, ``.parquet``, else JSON ``{"predictions": [...]}`` written as it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from kiln.errors import BadInput
from kiln.serving import encoding
from kiln.serving.frames import PARQUET_INSTALL
from kiln.serving.invocations import parse_invocation
from kiln.serving.model import ModelInterface, ScoringModel, describe_model

Progress = Callable[[int, int | None], None]
"""Called after each chunk with (units done, units in all or None); units are bytes
for CSV input and rows otherwise."""


def _csv_chunks(
    path: Path, interface: ModelInterface, chunk_rows: int, progress: Progress
) -> Iterator[pd.DataFrame]:
    total = path.stat().st_size
    dtypes = {c.name: c.dtype for c in interface.inputs if c.name and c.dtype and not c.tensor}
    with path.open("rb") as handle:
        try:
            reader = pd.read_csv(handle, chunksize=chunk_rows, dtype=dtypes or None)
            for chunk in reader:
                yield chunk
                progress(min(handle.tell(), total), total)
        except (ValueError, pd.errors.ParserError) as error:
            raise BadInput(f"{path}: not a CSV file pandas can read: {error}") from None


def _require_pyarrow(path: Path) -> None:
    """Refuse a Parquet file before anything is read or written, naming the extra to install."""
    try:
        import pyarrow  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        raise BadInput(
            f"{path}: Parquet files need pyarrow, which is not installed ({PARQUET_INSTALL})"
        ) from None


def _parquet_chunks(path: Path, chunk_rows: int, progress: Progress) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    parquet = pq.ParquetFile(path)
    total = parquet.metadata.num_rows
    done = 0
    for batch in parquet.iter_batches(batch_size=chunk_rows):
        frame = batch.to_pandas()
        done += len(frame)
        yield frame
        progress(done, total)


def _json_chunks(
    path: Path, interface: ModelInterface, chunk_rows: int, progress: Progress
) -> Iterator[Any]:
    parsed = parse_invocation(path.read_bytes(), "application/json", interface)
    data = parsed.data
    if isinstance(data, (pd.DataFrame, np.ndarray)):
        total = len(data)
        for start in range(0, total, chunk_rows):
            yield (
                data.iloc[start : start + chunk_rows]
                if isinstance(data, pd.DataFrame)
                else data[start : start + chunk_rows]
            )
            progress(min(start + chunk_rows, total), total)
        return
    yield data
    progress(parsed.rows, parsed.rows)


def _as_frame(predictions: Any) -> pd.DataFrame:
    if isinstance(predictions, pd.DataFrame):
        return predictions
    if isinstance(predictions, pd.Series):
        return predictions.to_frame(name=predictions.name or "prediction")
    array = np.asarray(predictions)
    if array.ndim <= 1:
        return pd.DataFrame({"prediction": array.reshape(-1)})
    flat = array.reshape(array.shape[0], -1)
    return pd.DataFrame(flat, columns=[f"prediction_{i}" for i in range(flat.shape[1])])


class _Writer:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.kind = path.suffix.lower().lstrip(".")
        self.handle: IO[bytes] = path.open("wb")
        self.first = True
        self.parquet: Any = None

    def write(self, predictions: Any) -> None:
        if self.kind == "csv":
            text = _as_frame(predictions).to_csv(index=False, header=self.first)
            self.handle.write(text.encode())
        elif self.kind == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(_as_frame(predictions), preserve_index=False)
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.handle, table.schema)
            self.parquet.write_table(table)
        else:
            body = encoding.dumps(encoding.jsonable(predictions))
            if isinstance(encoding.jsonable(predictions), list):
                body = body[1:-1]  # splice the chunk's items into one list
            if body:
                self.handle.write((b'{"predictions": [' if self.first else b",") + body)
                self.first = False
                return
        self.first = False

    def close(self) -> None:
        if self.kind == "parquet" and self.parquet is not None:
            self.parquet.close()
        elif self.kind not in ("csv", "parquet"):
            self.handle.write(b'{"predictions": []}' if self.first else b"]}")
        self.handle.close()


def predict_file(
    model: ScoringModel,
    input_path: Path,
    output_path: Path,
    *,
    chunk_rows: int = 10_000,
    progress: Progress | None = None,
) -> int:
    """Score ``input_path`` (.csv, .json or .parquet) into ``output_path``, chunk by chunk.

    Returns:
        The number of rows predicted.

    Raises:
        BadInput: the input cannot be read, or its suffix is not .csv/.json/.parquet.
        PredictionFailed: propagated from the model as raised (the caller reports it).
    """
    interface = describe_model(model)
    report: Progress = progress or (lambda done, total: None)
    suffix = input_path.suffix.lower()
    for path in (input_path, output_path):
        if path.suffix.lower() == ".parquet":
            _require_pyarrow(path)
    chunks: Iterator[Any]
    if suffix == ".csv":
        chunks = _csv_chunks(input_path, interface, chunk_rows, report)
    elif suffix == ".parquet":
        chunks = _parquet_chunks(input_path, chunk_rows, report)
    elif suffix == ".json":
        chunks = _json_chunks(input_path, interface, chunk_rows, report)
    else:
        raise BadInput(f"{input_path}: use a .csv, .json or .parquet input file")
    writer = _Writer(output_path)
    rows = 0
    try:
        for chunk in chunks:
            writer.write(model.predict(chunk))
            rows += len(chunk) if hasattr(chunk, "__len__") else 1
    finally:
        writer.close()
    return rows


__all__ = ["Progress", "predict_file"]
