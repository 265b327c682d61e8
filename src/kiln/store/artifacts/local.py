"""Artifacts in a local folder: the default artifact store.

The root is a local path or a ``file:`` URI (``file:///abs/dir``,
``file://localhost/abs/dir``, ``file:rel/dir``, relative to the working
directory at construction). The folder is created on the first write, so
opening a store never touches the disk.

Writes are atomic per file: bytes go to a hidden temporary file in the target's
folder, which ``os.replace`` then moves into place, so a crash never leaves a
half-written artifact under its real name. Leftover temporaries (names starting
with ``.kiln-partial-``) are never listed or downloaded.

Every path goes through :mod:`kiln.store.artifacts.paths`; symlinks inside the
root that point outside it are refused rather than followed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from kiln.entities import FileInfo
from kiln.errors import Conflict, InvalidInput, InvalidUri, NotFound
from kiln.store.artifacts.paths import deletable_relpath, join_under, safe_relpath

CHUNK_SIZE = 1024 * 1024
_PARTIAL_PREFIX = ".kiln-partial-"
# mkstemp creates 0600 files; artifacts get the usual world-readable mode.
_FILE_MODE = 0o644


def local_path_from_uri(root_uri: str) -> Path:
    """Turn a local path or ``file:`` URI into an absolute, resolved folder path.

    Raises:
        InvalidUri: empty, a ``file:`` URI naming a remote host, or one with a
            query or fragment.
    """
    if not isinstance(root_uri, str) or not root_uri.strip():
        raise InvalidUri("the artifact root URI is empty; pass a folder or file:///abs/dir")
    if root_uri[:5].lower() == "file:":
        parsed = urlparse(root_uri)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidUri(
                f"unsupported artifact URI {root_uri!r}: file URIs must name a local path "
                f"(file:///abs/dir), not the host {parsed.netloc!r}"
            )
        if parsed.query or parsed.fragment:
            raise InvalidUri(f"unsupported artifact URI {root_uri!r}: no query or fragment")
        raw = unquote(parsed.path)
        if not raw:
            raise InvalidUri(f"unsupported artifact URI {root_uri!r}: it names no path")
        return Path(raw).resolve()
    return Path(root_uri).expanduser().resolve()


def _child(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


class LocalArtifactStore:
    """``ArtifactStore`` over a local folder (see the module docstring)."""

    def __init__(self, root_uri: str) -> None:
        """Bind the store to ``root_uri``; nothing is created until the first write.

        Raises:
            InvalidUri: ``root_uri`` is not a local path or ``file:`` URI.
        """
        self._root_uri = root_uri
        self._root = local_path_from_uri(root_uri)

    @property
    def root_uri(self) -> str:
        """The URI this store was opened with."""
        return self._root_uri

    @property
    def root(self) -> Path:
        """The resolved local folder holding the artifacts (may not exist yet)."""
        return self._root

    # writing -------------------------------------------------------------------
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Copy one local file into the directory ``artifact_path`` (root if None).

        Raises:
            NotFound: ``local_file`` is not an existing file.
            InvalidInput: an unsafe ``artifact_path`` or file name.
            Conflict: a file stands where a directory is needed, or vice versa.
        """
        src = Path(local_file)
        if not src.is_file():
            raise NotFound(f"local file {local_file!r} does not exist or is not a file")
        rel = safe_relpath(_child(safe_relpath(artifact_path), src.name))
        with src.open("rb") as stream:
            self._write(rel, stream)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Copy every file under ``local_dir`` into ``artifact_path``, keeping the tree.

        All names are checked before the first file is written, so an unsafe
        name aborts the whole upload. Empty folders are not copied (object
        stores cannot hold them).

        Raises:
            NotFound: ``local_dir`` is not an existing directory.
            InvalidInput: an unsafe ``artifact_path`` or name inside ``local_dir``.
        """
        for src, rel in plan_upload(local_dir, artifact_path):
            with src.open("rb") as stream:
                self._write(rel, stream)

    def write_stream(self, artifact_path: str, stream: BinaryIO) -> int:
        """Write the file ``artifact_path`` from ``stream`` in 1 MiB chunks, atomically.

        Returns:
            The number of bytes written.

        Raises:
            InvalidInput: an unsafe path, or the root itself.
            Conflict: a file stands where a directory is needed, or vice versa.
        """
        return self._write(safe_relpath(artifact_path), stream)

    def _write(self, rel: str, stream: BinaryIO) -> int:
        target = self._file_target(rel)
        if target.is_dir():
            raise Conflict(f"cannot write artifact {rel!r}: it is a directory")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise Conflict(
                f"cannot write artifact {rel!r}: a file stands where a directory is needed"
            ) from exc
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=_PARTIAL_PREFIX)
        total = 0
        try:
            with os.fdopen(fd, "wb") as out:
                os.fchmod(out.fileno(), _FILE_MODE)
                while chunk := stream.read(CHUNK_SIZE):
                    out.write(chunk)
                    total += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return total

    # reading -------------------------------------------------------------------
    def open_read(self, artifact_path: str) -> BinaryIO:
        """Open one file for streaming reads; the caller closes it.

        Raises:
            InvalidInput: an unsafe path, or the root itself.
            NotFound: no file at ``artifact_path`` (a directory is not a file).
        """
        rel = safe_relpath(artifact_path)
        target = self._file_target(rel)
        try:
            return target.open("rb")
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise NotFound(f"no artifact file {rel!r} under {self._root_uri!r}") from exc
        except IsADirectoryError as exc:
            raise NotFound(f"artifact {rel!r} is a directory, not a file") from exc

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path`` (root if None), sorted by path.

        A missing path or a file lists as ``[]`` (as in MLflow). Entries the
        store could not address (unsafe names, symlinks leaving the root) and
        leftover temporaries are left out.

        Raises:
            InvalidInput: an unsafe ``path``.
        """
        rel = safe_relpath(path)
        folder = join_under(self._root, rel)
        if not folder.is_dir():
            return []
        infos: list[FileInfo] = []
        for entry in os.scandir(folder):
            if entry.name.startswith(_PARTIAL_PREFIX):
                continue
            child = _child(rel, entry.name)
            try:
                resolved = join_under(self._root, child)
            except InvalidInput:
                continue
            if resolved.is_dir():
                infos.append(FileInfo(path=child, is_dir=True))
            elif resolved.is_file():
                infos.append(FileInfo(path=child, is_dir=False, file_size=resolved.stat().st_size))
        return sorted(infos, key=lambda info: info.path)

    def download_artifacts(self, artifact_path: str, dst_path: str) -> str:
        """Copy a file or a whole directory to ``dst_path/<artifact_path>``.

        ``""`` downloads the whole root into ``dst_path``. Folders are created
        as needed.

        Returns:
            The absolute local path of the copied file or directory.

        Raises:
            InvalidInput: an unsafe path, or a symlink leaving the root.
            NotFound: nothing exists at ``artifact_path``.
        """
        rel = safe_relpath(artifact_path)
        src = join_under(self._root, rel)
        dst = join_under(Path(dst_path), rel)
        if src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            return str(dst)
        if not src.is_dir():
            if rel:
                raise NotFound(f"no artifact {rel!r} under {self._root_uri!r}")
            dst.mkdir(parents=True, exist_ok=True)
            return str(dst)
        dst.mkdir(parents=True, exist_ok=True)
        for dirpath, _dirnames, filenames in os.walk(src):
            for name in sorted(filenames):
                if name.startswith(_PARTIAL_PREFIX):
                    continue
                inner = Path(dirpath, name).relative_to(src).as_posix()
                source = join_under(self._root, _child(rel, inner))
                out = join_under(dst, inner)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, out)
        return str(dst)

    def delete_artifacts(self, artifact_path: str) -> None:
        """Delete a file or a directory tree under the root (never the root itself).

        A symlink is removed, never what it points to.

        Raises:
            InvalidInput: an unsafe path, or the root.
            NotFound: ``artifact_path`` names nothing.
        """
        rel = deletable_relpath(artifact_path)
        parent_rel, _, name = rel.rpartition("/")
        target = join_under(self._root, parent_rel) / name
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
        else:
            raise NotFound(f"no artifact {rel!r} under {self._root_uri!r}")

    def _file_target(self, rel: str) -> Path:
        if not rel:
            raise InvalidInput("an artifact file path is required, not the root ('')")
        return join_under(self._root, rel)


def plan_upload(local_dir: str, artifact_path: str | None) -> list[tuple[Path, str]]:
    """List ``(local file, safe artifact path)`` pairs for uploading a directory.

    Shared by every backend's ``log_artifacts``: the whole list is validated
    before anything is written.

    Raises:
        NotFound: ``local_dir`` is not an existing directory.
        InvalidInput: ``artifact_path`` or a name inside ``local_dir`` is unsafe.
    """
    src = Path(local_dir)
    if not src.is_dir():
        raise NotFound(f"local directory {local_dir!r} does not exist or is not a directory")
    base = safe_relpath(artifact_path)
    plan: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(filenames):
            file = Path(dirpath, name)
            plan.append((file, safe_relpath(_child(base, file.relative_to(src).as_posix()))))
    return plan


__all__ = ["CHUNK_SIZE", "LocalArtifactStore", "local_path_from_uri", "plan_upload"]
