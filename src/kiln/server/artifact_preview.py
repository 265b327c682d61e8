"""A run's artifact files for the web UI: one folder's listing, the folders down to a
selected file, and a preview of that file that never reads more than a cap.

A preview reads at most ``PREVIEW_BYTES`` from the store (one ``open_read``, never
the whole file): text, logs and YAML as text; JSON pretty-printed when the whole
file fits and parses; CSV/TSV as a table of the first ``TABLE_ROWS`` rows; an
``MLmodel`` with its flavors and the ``kiln models serve`` command; images, HTML
and SVG only by URL (the page shows them with ``<img>`` or a sandboxed iframe); a
file of unknown type as text when its head is UTF-8 without NUL, else nothing.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import posixpath
import shlex
from dataclasses import dataclass, field
from itertools import islice
from typing import BinaryIO

import yaml

from kiln.entities import LoggedModel, Run
from kiln.errors import NotFound
from kiln.server.artifact_files import join, location_root
from kiln.server.artifact_headers import (
    IMAGE_TYPES,
    SANDBOXED_TYPES,
    TEXT_PLAIN,
    extension,
    inline_type,
)
from kiln.server.stores import Stores
from kiln.store.protocols.artifacts import ArtifactStore

PREVIEW_BYTES = 256 * 1024
TABLE_ROWS = 100
MAX_ENTRIES = 1000  # per folder in the tree; the rest are counted
MAX_INLINE_BYTES = 32 * 1024 * 1024  # larger images/pages: download only
SNIFF_BYTES = 8192


@dataclass(frozen=True, slots=True)
class Entry:
    """A file or folder, its path relative to the run's artifact root."""

    path: str
    is_dir: bool
    size: int | None = None

    @property
    def name(self) -> str:
        return posixpath.basename(self.path) or "artifacts"


@dataclass(frozen=True, slots=True)
class Folder:
    """A folder's first ``MAX_ENTRIES`` entries (folders first) and how many more."""

    entries: list[Entry]
    more: int = 0


@dataclass(slots=True)
class Preview:
    """What the preview pane shows of one file.

    ``kind``: text, json, table, mlmodel, image, sandboxed or none. ``shown``: the
    bytes read, ``truncated``: the file goes on past them.
    """

    kind: str
    size: int | None
    shown: int = 0
    truncated: bool = False
    text: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    more_rows: bool = False
    numeric: list[bool] = field(default_factory=list)  # per column: every cell a number
    flavors: list[str] = field(default_factory=list)
    serve: str = ""
    note: str = ""


def run_models(stores: Stores, run: Run, limit: int = MAX_ENTRIES) -> list[LoggedModel]:
    """The logged models whose source is ``run`` (MLflow 3 keeps their files apart from
    the run's, under the model's own ``artifact_location``)."""
    found = stores.logged_models.search_logged_models(
        [run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        max_results=limit,
    )
    return list(found.items)


class RunFiles:
    """The files under a run's ``artifact_uri``, wherever they live."""

    def __init__(self, store: ArtifactStore, base: str) -> None:
        self.store = store
        self.base = base

    @classmethod
    def of(cls, stores: Stores, artifact_uri: str) -> RunFiles:
        store, base = location_root(artifact_uri, stores.destination, stores.artifact_options)
        return cls(store, base)

    def folder(self, rel: str) -> Folder:
        """The folder ``rel`` ('' the root); a missing root is empty, a missing folder NotFound."""
        try:
            infos = self.store.list_artifacts(join(self.base, rel) or None)
        except NotFound:
            if rel:  # the store's message names the server's artifact root
                raise NotFound(f"no artifact folder {rel!r} in this run") from None
            infos = []
        cut = len(self.base) + 1 if self.base else 0
        entries = sorted(
            (Entry(i.path[cut:], i.is_dir, i.file_size) for i in infos),
            key=lambda e: (not e.is_dir, e.path.casefold()),
        )
        return Folder(entries[:MAX_ENTRIES], max(0, len(entries) - MAX_ENTRIES))

    def find(self, rel: str) -> Entry:
        """The file or folder at ``rel`` (found in its parent's listing), else NotFound."""
        if not rel:
            return Entry("", True)
        parent = posixpath.dirname(rel)
        try:
            infos = self.store.list_artifacts(join(self.base, parent) or None)
        except NotFound:
            infos = []
        full = join(self.base, rel)
        for info in infos:
            if info.path == full:
                return Entry(rel, info.is_dir, info.file_size)
        raise NotFound(f"no artifact {rel!r} in this run")

    def open(self, rel: str) -> BinaryIO:
        try:
            return self.store.open_read(join(self.base, rel))
        except NotFound:  # the store's message names the server's artifact root
            raise NotFound(f"no artifact file {rel!r} in this run") from None


def ancestors(rel: str) -> list[str]:
    """The folders from the root down to ``rel``'s parent: 'a/b/c' -> ['', 'a', 'a/b']."""
    parts = rel.split("/")[:-1] if rel else []
    return [""] + ["/".join(parts[: i + 1]) for i in range(len(parts))]


def crumbs(rel: str) -> list[tuple[str, str]]:
    """(name, path) from the root to ``rel``, for the breadcrumbs."""
    parts = rel.split("/") if rel else []
    return [("artifacts", "")] + [(p, "/".join(parts[: i + 1])) for i, p in enumerate(parts)]


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


def kind_of(path: str) -> str:
    """How ``path`` is previewed, by its name alone (``sniff`` decides 'unknown')."""
    ext = extension(path)
    if posixpath.basename(path) == "MLmodel":
        return "mlmodel"
    if ext in IMAGE_TYPES:
        return "image"
    if ext in SANDBOXED_TYPES:
        return "sandboxed"
    if ext in ("csv", "tsv"):
        return "table"
    if ext == "json":
        return "json"
    if inline_type(path) == TEXT_PLAIN:
        return "text"
    return "unknown"


def preview(files: RunFiles, entry: Entry, root_uri: str, cap: int = PREVIEW_BYTES) -> Preview:
    """The preview of the file ``entry`` (see the module docstring); ``root_uri`` names
    the files' root to MLflow (``runs:/<run id>``, ``models:/<model id>``)."""
    kind = kind_of(entry.path)
    if kind in ("image", "sandboxed"):
        if entry.size is not None and entry.size > MAX_INLINE_BYTES:
            return Preview("none", entry.size, note="too large to show here: download it")
        return Preview(kind, entry.size)
    head, truncated = _read_head(files, entry, cap)
    if kind == "unknown":
        sample = head[:SNIFF_BYTES]
        if b"\x00" in sample or not _is_utf8(sample, partial=len(head) > SNIFF_BYTES):
            return Preview("none", entry.size)
        kind = "text"
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(head, final=not truncated)
    shown = Preview("text", entry.size, len(head), truncated, text)
    if kind == "json" and not truncated:
        _pretty_json(shown)
    elif kind == "table":
        _table(shown, "\t" if extension(entry.path) == "tsv" else ",")
    elif kind == "mlmodel":
        _mlmodel(shown, entry.path, root_uri)
    return shown


def _read_head(files: RunFiles, entry: Entry, cap: int) -> tuple[bytes, bool]:
    """At most ``cap`` bytes from the start, and whether the file goes on."""
    with files.open(entry.path) as stream:
        chunks: list[bytes] = []
        left = cap + 1
        while left > 0 and (chunk := stream.read(min(left, 1024 * 1024))):
            chunks.append(chunk)
            left -= len(chunk)
    head = b"".join(chunks)
    return head[:cap], len(head) > cap


def _is_utf8(data: bytes, *, partial: bool) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(data, final=not partial)
    except UnicodeDecodeError:
        return False
    return True


def _pretty_json(shown: Preview) -> None:
    try:
        shown.text = json.dumps(json.loads(shown.text), indent=2, ensure_ascii=False)
        shown.kind = "json"
    except (ValueError, RecursionError):
        shown.note = "not valid JSON: shown as text"


def _table(shown: Preview, delimiter: str) -> None:
    text = shown.text
    if shown.truncated:  # the last line is cut: drop it
        text = text[: text.rfind("\n") + 1]
    try:
        rows = list(islice(csv.reader(io.StringIO(text), delimiter=delimiter), TABLE_ROWS + 2))
    except csv.Error as exc:
        shown.note = f"not read as a table ({exc}): shown as text"
        return
    if not rows:
        return
    shown.kind = "table"
    shown.header, body = rows[0], rows[1:]
    shown.rows = body[:TABLE_ROWS]
    shown.more_rows = len(body) > TABLE_ROWS or shown.truncated
    shown.numeric = [_numeric(shown.rows, i) for i in range(len(shown.header))]


def _numeric(rows: list[list[str]], column: int) -> bool:
    """Whether column ``column`` holds numbers only (right-aligned); blanks don't count."""
    cells = [row[column].strip() for row in rows if column < len(row) and row[column].strip()]
    try:
        for cell in cells:
            float(cell)
    except ValueError:
        return False
    return bool(cells)


def _mlmodel(shown: Preview, path: str, root_uri: str) -> None:
    folder = posixpath.dirname(path)
    uri = f"{root_uri}/{folder}" if folder else root_uri
    shown.kind = "mlmodel"
    shown.serve = f"kiln models serve -m {shlex.quote(uri)}"
    if shown.truncated:
        return
    try:
        data = yaml.safe_load(shown.text)
    except (yaml.YAMLError, RecursionError):  # nested past the limit: '[[[[...'
        shown.note = "not valid YAML"
        return
    flavors = data.get("flavors") if isinstance(data, dict) else None
    if isinstance(flavors, dict):
        shown.flavors = [str(name) for name in flavors]


__all__ = [
    "MAX_ENTRIES",
    "PREVIEW_BYTES",
    "TABLE_ROWS",
    "Entry",
    "Folder",
    "Preview",
    "RunFiles",
    "ancestors",
    "crumbs",
    "human_size",
    "kind_of",
    "preview",
    "run_models",
]
