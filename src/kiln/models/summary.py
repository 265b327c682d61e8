"""What a model version page shows of a model's files, read without loading the model.

``summarize(read)`` parses the ``MLmodel`` (``ModelMetadata``: flavors, signature)
and the saved input example, through ``read(relative_path) -> bytes`` (the caller
reads from wherever the files are: an artifact store, a folder), and answers a
``ModelSummary``: the signature as table rows, the first rows of the example, and a
scoring request body in MLflow's format (``dataframe_split`` or ``inputs``) built
from the example, or from the signature (a placeholder row) when there is none.

A broken file never raises: the summary says what could not be read (``problem``),
so a page about a version always renders.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from kiln.errors import KilnError
from kiln.models.mlmodel import MLMODEL_FILE, ModelMetadata
from kiln.models.signature import ColSpec, ModelSignature, Schema, TensorSpec
from kiln.store.artifacts.paths import safe_relpath

Reader = Callable[[str], bytes]
MAX_ROWS = 5  # example rows shown, and sent in the ready-to-paste request
MAX_CELL = 80  # characters of one example cell shown
MAX_NODES = 100_000  # values an MLmodel may stand for, its aliases expanded
# what a broken file raises while it is read: a field of another shape
# ('signature: [1]': AttributeError), JSON or YAML nested past Python's limit
_UNREADABLE = (KilnError, OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError)
# what a placeholder row holds for each column type (MLflow's DataType names)
_PLACEHOLDER: dict[str, Any] = {
    "boolean": False,
    "integer": 0,
    "long": 0,
    "float": 0.0,
    "double": 0.0,
    "string": "",
    "binary": "",
    "datetime": "2024-01-01T00:00:00",
}


@dataclass(frozen=True, slots=True)
class SpecRow:
    """One line of a signature table: a column, a tensor or a param."""

    name: str
    type: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ModelSummary:
    """See the module docstring. ``example_total``: rows in the whole example."""

    flavors: tuple[str, ...] = ()
    inputs: tuple[SpecRow, ...] = ()
    outputs: tuple[SpecRow, ...] = ()
    params: tuple[SpecRow, ...] = ()
    example_columns: tuple[str, ...] = ()
    example_rows: tuple[tuple[str, ...], ...] = ()
    example_total: int = 0
    request: str = ""  # the JSON body for POST /invocations
    request_from_example: bool = False
    problem: str | None = None

    @property
    def has_signature(self) -> bool:
        return bool(self.inputs or self.outputs)


def summarize(read: Reader, *, max_rows: int = MAX_ROWS) -> ModelSummary:
    """The summary of the model whose files ``read`` returns (see the module docstring)."""
    try:
        metadata = _metadata(read)
    except (*_UNREADABLE, yaml.YAMLError) as exc:
        return ModelSummary(
            request=_placeholder(None), problem=f"cannot read {MLMODEL_FILE}: {exc}"
        )
    signature = metadata.signature
    base = ModelSummary(
        flavors=tuple(metadata.flavors),
        inputs=_rows(signature.inputs if signature else None),
        outputs=_rows(signature.outputs if signature else None),
        params=tuple(
            SpecRow(p.name, p.type, f"default {p.default!r}")
            for p in (signature.params or () if signature else ())
        ),
    )
    try:
        example = _example(read, metadata.saved_input_example_info, max_rows)
    except _UNREADABLE as exc:
        return _with(base, request=_placeholder(signature), problem=f"input example: {exc}")
    if example is None:
        return _with(base, request=_placeholder(signature))
    columns, rows, body, total = example
    return _with(
        base,
        example_columns=tuple(columns),
        example_rows=tuple(tuple(_cell(v) for v in row) for row in rows[:max_rows]),
        example_total=total,
        request=json.dumps(_request(columns, rows[:max_rows], body)),
        request_from_example=True,
    )


def _with(summary: ModelSummary, **changes: Any) -> ModelSummary:
    fields = {name: getattr(summary, name) for name in ModelSummary.__dataclass_fields__}
    return ModelSummary(**(fields | changes))


def _check_size(data: Any) -> None:
    """Refuse YAML whose aliases stand for more than ``MAX_NODES`` values: a few lines
    of ``&a [*b, *b, ...]`` are billions of items once anything walks them (``str()``
    of a field), so a 1 KB ``MLmodel`` could take minutes and gigabytes. The walk
    counts each alias again and stops at the cap; a real ``MLmodel`` is far below it."""
    stack, seen = [data], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise ValueError(f"it stands for more than {MAX_NODES:,} values (YAML aliases)")
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _metadata(read: Reader) -> ModelMetadata:
    data = yaml.safe_load(read(MLMODEL_FILE).decode("utf-8"))
    _check_size(data)
    if not isinstance(data, Mapping):
        raise ValueError("not a YAML mapping")
    return ModelMetadata.from_dict(data)


def _rows(schema: Schema | None) -> tuple[SpecRow, ...]:
    if schema is None:
        return ()
    rows: list[SpecRow] = []
    for spec in schema.inputs:
        name = spec.name if spec.name is not None else ""
        if isinstance(spec, TensorSpec):
            shape = "(" + ", ".join(str(n) for n in spec.shape) + ")"
            rows.append(SpecRow(name, f"tensor {spec.dtype}", f"shape {shape}"))
        else:
            rows.append(SpecRow(name, spec.type, "required" if spec.required else "optional"))
    return tuple(rows)


def _example(
    read: Reader, info: Mapping[str, Any] | None, limit: int
) -> tuple[list[str], list[list[Any]], str, int] | None:
    """-> (columns, the first ``limit`` rows, "dataframe" or "ndarray", how many rows),
    or None when no example was saved. Records are spread over the columns of those
    first rows only: N records of N different keys would be N x N cells."""
    if not info:
        return None
    path = safe_relpath(str(info.get("artifact_path") or "input_example.json"))
    data = json.loads(read(path).decode("utf-8"))
    kind = info.get("type")
    if kind == "ndarray" or (kind is None and isinstance(data, list)):
        rows = data if isinstance(data, list) else [data]
        return [], [r if isinstance(r, list) else [r] for r in rows[:limit]], "ndarray", len(rows)
    if isinstance(data, Mapping) and "data" in data:
        columns = [str(c) for c in data.get("columns") or []]
        rows = [r if isinstance(r, list) else [r] for r in data["data"]]
        return columns, rows[:limit], "dataframe", len(rows)
    if isinstance(data, list) and all(isinstance(r, Mapping) for r in data):  # records
        head = data[:limit]
        columns = list(dict.fromkeys(str(k) for r in head for k in r))
        return columns, [[r.get(c) for c in columns] for r in head], "dataframe", len(data)
    if isinstance(data, Mapping):  # one record
        columns = [str(k) for k in data]
        return columns, [list(data.values())], "dataframe", 1
    raise ValueError(f"an example of type {kind!r} is not tabular")


def _request(columns: Sequence[str], rows: list[list[Any]], kind: str) -> dict[str, Any]:
    if kind == "ndarray" or not columns:
        return {"inputs": rows}
    return {"dataframe_split": {"columns": list(columns), "data": rows}}


def _placeholder(signature: ModelSignature | None) -> str:
    """A one-row request shaped by the signature's inputs (a column ``x`` without one)."""
    schema = signature.inputs if signature else None
    if schema is None:
        return json.dumps({"dataframe_split": {"columns": ["x"], "data": [[0.0]]}})
    first = schema.inputs[0]
    if isinstance(first, TensorSpec):
        width = first.shape[-1] if len(first.shape) > 1 and first.shape[-1] > 0 else 1
        return json.dumps({"inputs": [[0.0] * width]})
    row = [_PLACEHOLDER.get(s.type, "") if isinstance(s, ColSpec) else 0.0 for s in schema.inputs]
    if not schema.has_input_names():
        return json.dumps({"inputs": [row]})
    return json.dumps({"dataframe_split": {"columns": schema.input_names(), "data": [row]}})


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


__all__ = ["MAX_ROWS", "ModelSummary", "Reader", "SpecRow", "summarize"]
