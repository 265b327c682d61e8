"""Large ``split`` bodies parsed a piece at a time, into numeric blocks when the signature allows.

``orjson.loads`` of a 95 MB ``dataframe_split`` body is one call that holds the
GIL for seconds (every small request on the event loop waits that long) and
builds a Python float and list for every value: ~1 GB of objects, which the
float array built from them then joins. Here the rows of ``data`` (found by
``"data": [``, running to the first ``]]``, with no string inside) are cut at row
boundaries into ~1 MiB pieces, each parsed on its own, so the GIL is let go
between pieces (and the scan that finds them goes a window at a time). When
every column of the request is a float column of the signature (``numeric_dtype``
names the dtype), each piece becomes a small numpy block at once and its objects
are freed: the body costs about its own size again, not ten times. Otherwise
(no signature, say) a body with ``columns`` and no ``index`` becomes one array per
column (``ParsedColumns``), typed as ``pandas.DataFrame`` of the rows would type
it, as long as every column of every piece is ``int64`` or ``float64``.

The result is always what ``orjson.loads`` of the whole body gives, or None
(the caller then parses the whole body): each piece is parsed by orjson, and a
comma-separated run of complete JSON values split at value boundaries parses to
the same values as the whole; the rest of the document is parsed with a random
sentinel string in the rows' place, which must come back exactly where a split
payload's ``data`` belongs. A numeric block is kept only as ``int64`` or
``float64`` of the request's width, and the blocks are joined in the dtype that
``numpy.array`` of all the rows would have had (``float64`` if any block is), then
cast as ``frames._numeric_array`` casts: the same array, value for value. Columns
are joined the same way, column by column: pandas makes a column of ints
``int64``, and of ints, floats and nulls ``float64`` (nulls as NaN), converting
each int as numpy does; anything else in a piece (booleans, strings, nulls
alone, ragged rows) leaves the body to the whole parse.

The cyclic garbage collector is paused while pieces are parsed: the row lists
of a piece outlive a few young collections, get promoted, and each promotion
batch set off a full collection of the process's heap (0.3-0.5 s with the GIL
held, several times per 95 MB body). Rows hold no cycles; refcounting frees them.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from kiln.serving import encoding

MIN_BODY_BYTES = 4 * 1024 * 1024
PIECE_BYTES = 1024 * 1024
_DATA_KEY = re.compile(rb'"data"\s*:\s*\[')
_BLOCK_DTYPES = (np.dtype("int64"), np.dtype("float64"))

NumericDtype = Callable[[list[str]], str | None]
_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic collection while any thread is inside (restored as it was)."""
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


def _split_home(decoded: Any, sentinel: str) -> dict[str, Any] | None:
    """The split payload whose ``data`` is the sentinel (2.x ``dataframe_split`` or 1.x)."""
    if not isinstance(decoded, dict):
        return None
    homes = [decoded, decoded.get("dataframe_split")]
    found = [h for h in homes if isinstance(h, dict) and h.get("data") == sentinel]
    return found[0] if len(found) == 1 else None


def _pieces(body: bytes, start: int) -> list[tuple[int, int]] | None:
    """(begin, end) of ~``PIECE_BYTES`` runs of rows, from the rows' ``[`` at ``start``.

    The rows end at the first ``]]``; a cut is made after a ``]`` followed by
    whitespace and one comma. None when a separator is anything else, a piece
    holds a string, or there is no end (the whole-body parse then decides). The
    body is scanned a window at a time, so no one search holds the GIL for long.
    """
    pieces: list[tuple[int, int]] = []
    pos = start + 1
    while True:
        window = pos + PIECE_BYTES
        end = body.find(b"]]", pos, window + 1)
        cut = end if end != -1 else body.find(b"]", window)
        if end == -1 and body[cut + 1 : cut + 2] == b"]":
            end = cut  # the last row ends right past the window
        stop = cut + 1  # just past a row's closing bracket
        if cut == -1 or body.find(b'"', pos, stop) != -1:
            return None
        pieces.append((pos, stop))
        if end != -1:
            return pieces
        comma = body.find(b",", stop)
        if comma == -1 or body[stop:comma].strip():
            return None
        pos = comma + 1


class ParsedColumns:
    """The rows of a large split body as one ``int64``/``float64`` array per column."""

    __slots__ = ("arrays",)

    def __init__(self, arrays: list[np.ndarray]) -> None:
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def frame(self, labels: list[Any]) -> pd.DataFrame:
        """``pandas.DataFrame(rows, columns=labels)`` of the rows these columns hold."""
        frame = pd.DataFrame(dict(enumerate(self.arrays)))
        frame.columns = pd.Index(labels)
        return frame


def _columns(rows: list[Any], width: int) -> list[np.ndarray] | None:
    """A piece's columns as pandas types them, if each is ``int64`` or ``float64``."""
    if not all(type(row) is list and len(row) == width for row in rows):
        return None
    frame = pd.DataFrame(rows)
    if frame.shape[1] != width or any(t not in _BLOCK_DTYPES for t in frame.dtypes):
        return None
    return [frame.iloc[:, i].to_numpy() for i in range(width)]


def _blocks(rows: list[Any], width: int) -> np.ndarray | None:
    try:
        block = np.array(rows)
    except (ValueError, TypeError, OverflowError):
        return None
    if block.ndim != 2 or block.shape[1] != width or block.dtype not in _BLOCK_DTYPES:
        return None
    return block


def _parse_pieces(
    view: memoryview, pieces: list[tuple[int, int]], width: int, by_column: bool
) -> list[Any] | None:
    """Every piece's rows in one list, or (``width`` > 0) its blocks or its columns.

    None when a piece is not valid JSON, or its rows do not make ``width`` numeric
    values (``_blocks``) or columns (``_columns``).
    """
    convert = _columns if by_column else _blocks
    out: list[Any] = []
    for begin, stop in pieces:
        time.sleep(0)  # let the event loop's thread take the GIL between pieces
        try:
            rows = encoding.loads(b"".join((b"[", view[begin:stop], b"]")))
        except ValueError:
            return None
        if not width:
            out += rows
            continue
        converted = convert(rows, width)
        if converted is None:
            return None
        out.append(converted)
    return out


def loads(body: bytes, numeric_dtype: NumericDtype) -> Any:
    """``orjson.loads(body)`` for a large split body, or None when it is not one.

    When the split payload names ``columns`` that ``numeric_dtype`` gives a dtype
    for, its ``data`` comes back as a 2-D array of that dtype (the rows as
    ``frames._numeric_array`` would make them); for other named columns and no
    ``index`` as ``ParsedColumns``; otherwise as the list of rows.
    """
    if len(body) < MIN_BODY_BYTES:
        return None
    found = _DATA_KEY.search(body)
    if found is None:
        return None
    start = found.end() - 1  # the rows' opening bracket
    pieces = _pieces(body, start)
    if pieces is None:
        return None
    end = pieces[-1][1] - 1  # the last row's closing bracket, then the rows' own
    sentinel = f"kiln-rows-{os.urandom(12).hex()}"
    view = memoryview(body)
    try:
        rest = b"".join((view[:start], b'"', sentinel.encode(), b'"', view[end + 2 :]))
        decoded = encoding.loads(rest)
    except ValueError:
        return None
    home = _split_home(decoded, sentinel)
    if home is None:
        return None
    columns = home.get("columns")
    names: list[Any] = columns if isinstance(columns, list) else []
    width = len(names)
    dtype = numeric_dtype(names) if width and all(isinstance(c, str) for c in names) else None
    by_column = dtype is None and "index" not in home
    try:
        with _gc_paused():
            parsed = _parse_pieces(view, pieces, width if dtype or by_column else 0, by_column)
            if parsed is None and by_column:  # not all numbers: the rows as lists, then
                by_column = False
                parsed = _parse_pieces(view, pieces, 0, by_column)
    finally:
        view.release()
    if parsed is None:
        return None
    if dtype is not None:
        common = np.result_type(*parsed)  # what numpy.array of all the rows would be
        home["data"] = np.concatenate(parsed, dtype=common).astype(dtype, copy=False)
    elif by_column and width:
        joined = zip(*parsed, strict=True)
        home["data"] = ParsedColumns([np.concatenate(a, dtype=np.result_type(*a)) for a in joined])
    else:
        home["data"] = parsed
    return decoded


__all__ = ["MIN_BODY_BYTES", "PIECE_BYTES", "ParsedColumns", "loads"]
