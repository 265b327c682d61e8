"""Entities read from and checked against ``mlruns`` folders: no store state here.

``kiln.store.file.layout`` knows the file formats; this module turns folders into
Experiments and Runs the way MLflow's FileStore does (skipping what it skips) and
holds the path checks the store runs before it writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlparse

from kiln.entities import (
    DEFAULT_WORKSPACE,
    RUN_NAME_TAG,
    Experiment,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunTag,
    latest_metric_key,
)
from kiln.errors import Conflict, InvalidInput, InvalidUri, NotFound
from kiln.store.file import inputs, layout

_DECIMAL = re.compile(r"[0-9]+")


# -- locks --------------------------------------------------------------------------------


class FolderLock:
    """An ``flock`` on one lock file, taken behind this process's own thread lock.

    The flock serialises processes (server workers, CLI commands) over one mlruns
    folder, and the kernel releases it if a process dies; the thread lock queues
    this process's own threads first. The registry and the logged-model store each
    hold one.
    """

    def __init__(self, lock_file: Path) -> None:
        self.lock_file = lock_file
        self._threads = threading.Lock()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive; makes the lock file's folder first."""
        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        with self._held(fcntl.LOCK_EX):
            yield

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Shared; none where Kiln never wrote (no lock file), so reading a folder
        MLflow wrote (an import's source) leaves it untouched."""
        if not self.lock_file.is_file():
            yield
            return
        with self._held(fcntl.LOCK_SH):
            yield

    @contextlib.contextmanager
    def _held(self, mode: int) -> Iterator[None]:
        with self._threads, open(self.lock_file, "a+b") as handle:
            fcntl.flock(handle, mode)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


# -- URIs ---------------------------------------------------------------------------------


def mlruns_root(uri: str, workspace: str, what: str = "store") -> Path:
    """The mlruns folder of a ``file:`` URI, for a store of the ``default`` workspace.

    Raises:
        InvalidInput: another workspace (the mlruns layout has none).
        InvalidUri: not a local file URI, or it names a file.
    """
    if workspace != DEFAULT_WORKSPACE:
        raise InvalidInput(
            f"workspace {workspace!r} is not available in a file: (mlruns) {what}: the mlruns "
            "layout has no workspaces; use a sqlite:// or postgresql:// store for workspaces"
        )
    root = root_from_uri(uri)
    if root.exists() and not root.is_dir():
        raise InvalidUri(f"{uri!r} names a file, not an mlruns folder")
    return root


def root_from_uri(uri: str) -> Path:
    """The local folder a ``file:`` URI names (``file:///abs``, ``file:rel``, a bare path).

    Raises:
        InvalidUri: another scheme, a remote host, or no path.
    """
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        raise InvalidUri(f"not a file URI: {uri!r}")
    if parsed.scheme == "":
        return Path(uri).expanduser().resolve()
    if parsed.netloc not in ("", "localhost"):
        raise InvalidUri(f"file URI {uri!r} names host {parsed.netloc!r}; only local paths work")
    path = unquote(parsed.path)
    if not path:
        raise InvalidUri(f"file URI {uri!r} names no folder")
    return Path(path).expanduser().resolve()


def artifact_root_uri(artifact_root: str | None, root: Path) -> str:
    """The artifact root as a URI; a bare local path becomes ``file://`` as in MLflow."""
    if not artifact_root:
        return root.as_uri()
    scheme = urlparse(artifact_root).scheme
    if len(scheme) <= 1:  # no scheme, or a Windows drive letter
        return Path(artifact_root).expanduser().resolve().as_uri()
    return artifact_root.rstrip("/")


# -- reading ------------------------------------------------------------------------------


def is_id(name: str) -> bool:
    """Whether a folder name is an experiment id (ASCII digits only)."""
    return _DECIMAL.fullmatch(name) is not None


def experiment_ids(parent: Path) -> list[str]:
    """Ids of the experiment folders (with a meta.yaml) directly under ``parent``."""
    if not parent.is_dir():
        return []
    return [
        child.name
        for child in parent.iterdir()
        if is_id(child.name) and (child / layout.META).is_file()
    ]


def read_experiment(folder: Path) -> Experiment | None:
    """The experiment in ``folder``; None for a missing, malformed or mislabelled meta.yaml."""
    meta = layout.load_yaml(folder / layout.META)
    if meta is None or "experiment_id" not in meta:
        return None
    tags = {
        key: layout.read_text(path) for key, path in layout.iter_key_files(folder / layout.TAGS)
    }
    try:
        experiment = layout.experiment_from_meta(meta, tags, DEFAULT_WORKSPACE)
    except (KeyError, ValueError, TypeError):
        return None
    if experiment.experiment_id != folder.name:
        return None  # MLflow ignores an experiment whose meta names another id
    return experiment


def run_infos(experiment_dir: Path) -> Iterator[tuple[Path, RunInfo]]:
    """Every well-formed run of one experiment folder, as MLflow lists them."""
    if not experiment_dir.is_dir():
        return
    for child in experiment_dir.iterdir():
        if child.name in layout.RESERVED_EXPERIMENT_FOLDERS or not child.is_dir():
            continue
        info = read_run_info(child, experiment_dir.name)
        if info is not None:
            yield child, info


def read_run_info(run_dir: Path, experiment_id: str) -> RunInfo | None:
    """The run in ``run_dir``; None unless its meta.yaml names this folder and experiment."""
    meta = layout.load_yaml(run_dir / layout.META)
    if meta is None:
        return None
    try:
        info = layout.run_info_from_meta(meta, DEFAULT_WORKSPACE)
    except (KeyError, ValueError, TypeError):
        return None
    if info.run_id != run_dir.name or info.experiment_id != experiment_id:
        return None  # MLflow refuses such runs (moved or forged folders)
    if not info.run_name:
        name_file = run_dir / layout.TAGS / RUN_NAME_TAG
        if name_file.is_file():
            info = replace(info, run_name=layout.read_text(name_file))
    return info


def read_run(run_dir: Path, info: RunInfo) -> Run:
    """A run's params, tags, latest metrics (MLflow's pick of "latest") and inputs."""
    metrics: dict[str, Metric] = {}
    for key, path in layout.iter_key_files(run_dir / layout.METRICS):
        points = read_metric_file(key, path)
        if points:
            metrics[key] = max(points, key=latest_metric_key)
    params = {
        key: layout.read_text(path) for key, path in layout.iter_key_files(run_dir / layout.PARAMS)
    }
    tags = {
        key: layout.read_text(path) for key, path in layout.iter_key_files(run_dir / layout.TAGS)
    }
    return Run(
        info=info,
        data=RunData(metrics=metrics, params=params, tags=tags),
        inputs=inputs.read_inputs(run_dir),
    )


def read_metric_file(key: str, path: Path) -> list[Metric]:
    """Every point of a metric file in file order, each once.

    Torn or blank lines are skipped, and so is a line repeating an earlier line: a
    retried write (MLflow's SQL store keeps such a point once). Kiln writes a point
    always as the same text, so comparing text is enough, and cheaper than parsing.
    """
    points: list[Metric] = []
    seen: set[str] = set()
    for line in layout.read_text(path).splitlines():
        if line in seen:
            continue
        seen.add(line)
        metric = layout.parse_metric_line(key, line)
        if metric is not None:
            points.append(metric)
    return points


# -- writing ------------------------------------------------------------------------------


# A metric line is under 64 bytes ("<timestamp> <repr(value)> <step>\n"): a retried
# call finds its lines among the last ones of each key's file.
_TAIL_BYTES_PER_POINT = 64
_TAIL_MIN_BYTES = 4096


def append_metrics(run_dir: Path, metrics: Sequence[Metric]) -> None:
    """One append per key, so the points of a key from one call land together.

    A point is written once: repeats within the call are dropped, and so are
    lines already among the last of the key's file (a client's retry after a lost
    response writes the very same text). Readers drop any other repeat
    (``read_metric_file``), so a write stays an append and never reads the history.
    """
    by_key: dict[str, dict[str, None]] = {}
    for metric in metrics:
        by_key.setdefault(metric.key, {})[layout.format_metric_line(metric)] = None
    for key, lines in by_key.items():
        path = run_dir / layout.METRICS / key
        written = _last_lines(path, len(lines))
        new = [line for line in lines if line not in written]
        if new:
            layout.append_text(path, "".join(new))


def _last_lines(path: Path, count: int) -> set[str]:
    """The complete lines (newline included) at the end of a file, about ``count`` or more."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            start = max(0, size - _TAIL_MIN_BYTES - _TAIL_BYTES_PER_POINT * count)
            file.seek(start)
            tail = file.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return set()
    # The piece after the last newline is "" or a line still being written; the
    # first line may be cut when the tail starts mid-file.
    lines = tail.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines.pop()
    if start > 0 and lines:
        lines.pop(0)
    return set(lines)


def check_keys_nest(keys: Sequence[str], kind: str) -> None:
    """Refuse ``a`` next to ``a/b`` in one write: ``a`` cannot be a file and a folder."""
    unique = set(keys)
    for key in unique:
        parts = key.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in unique:
                raise InvalidInput(
                    f"{kind}s {prefix!r} and {key!r} cannot both be stored: the mlruns "
                    "layout keeps keys as file paths"
                )


def check_batch(
    run_dir: Path,
    run_id: str,
    metrics: Sequence[Metric],
    params: Sequence[Param],
    tags: Sequence[RunTag],
) -> list[Param]:
    """Everything that could fail, before the first write; returns the params to write."""
    for folder, keys, kind in (
        (layout.METRICS, [m.key for m in metrics], "metric key"),
        (layout.PARAMS, [p.key for p in params], "param key"),
        (layout.TAGS, [t.key for t in tags], "tag key"),
    ):
        check_keys_nest(keys, kind)
        for key in set(keys):
            layout.check_key_path_free(run_dir / folder, key, kind)
    new_params: dict[str, Param] = {}
    for param in params:
        path = run_dir / layout.PARAMS / param.key
        if path.is_file():
            current = layout.read_text(path)
            if current != param.value:
                raise Conflict(
                    f"param {param.key!r} of run {run_id!r} was logged as {current!r}; "
                    f"params are write-once, cannot change it to {param.value!r}"
                )
        else:
            new_params[param.key] = param
    return list(new_params.values())


def delete_tag_file(folder: Path, key: str, owner: str) -> None:
    """Remove the tag file of ``key`` under ``folder/tags``; ``owner`` names the
    experiment or run in the error.

    Raises:
        NotFound: no such tag.
    """
    path = folder / layout.TAGS / key
    if not path.is_file():
        raise NotFound(f"{owner} has no tag {key!r}")
    path.unlink()


def make_room(target: Path, action: str) -> None:
    """Let a folder move to ``target``: an empty leftover goes, anything else is refused."""
    if not target.exists():
        return
    try:
        target.rmdir()
    except OSError:
        raise Conflict(
            f"{action}: {target} already exists and is not empty; move it away first"
        ) from None


__all__ = [
    "FolderLock",
    "append_metrics",
    "artifact_root_uri",
    "check_batch",
    "check_keys_nest",
    "delete_tag_file",
    "experiment_ids",
    "is_id",
    "make_room",
    "read_experiment",
    "read_metric_file",
    "read_run",
    "read_run_info",
    "root_from_uri",
    "run_infos",
]
