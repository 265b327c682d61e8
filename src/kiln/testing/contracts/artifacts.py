"""The one contract suite every ``ArtifactStore`` backend must pass.

Subclass :class:`ArtifactStoreContract` in a test module and override the
``artifact_store`` fixture to return a fresh, empty store::

    class TestLocalArtifacts(ArtifactStoreContract):
        @pytest.fixture
        def artifact_store(self, tmp_path: Path) -> ArtifactStore:
            return LocalArtifactStore(str(tmp_path / "artifacts"))

The suite covers the whole Protocol: nested folders, binary and empty files, a
5 MiB stream, overwrites, listings, downloads, deletes, ``NotFound`` for
missing paths, and hostile paths refused by every method before anything is
touched.
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import BinaryIO

import pytest

from kiln.entities import FileInfo
from kiln.errors import InvalidInput, NotFound
from kiln.store.protocols.artifacts import ArtifactStore

# A cross-section of the attacks paths.py refuses (its own tests hold the long list).
HOSTILE_PATHS: tuple[str, ...] = (
    "..",
    "../escape.txt",
    "a/../../escape.txt",
    "a/b/..",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "C:/Windows/win.ini",
    "\\\\server\\share\\x",
    "a\\..\\b",
    "a\x00b",
    "line\nbreak",
    "%2e%2e/escape.txt",
    "a%2f..%2fb",
    "%252e%252e/escape.txt",
    "file:///etc/passwd",
    "s3://other-bucket/key",
    "~/secret",
    "\uff0e\uff0e/escape.txt",
)

# Every Protocol method that takes an artifact path.
METHODS = (
    "write_stream",
    "open_read",
    "list_artifacts",
    "download_artifacts",
    "delete_artifacts",
    "log_artifact",
    "log_artifacts",
)


BINARY = bytes(range(256)) * 17
FIVE_MIB = 5 * 1024 * 1024


def read_all(store: ArtifactStore, path: str) -> bytes:
    """Read a whole artifact through ``open_read``, closing the stream."""
    with store.open_read(path) as stream:
        return stream.read()


def write_bytes(store: ArtifactStore, path: str, data: bytes) -> int:
    """Write ``data`` at ``path`` through ``write_stream``."""
    return store.write_stream(path, io.BytesIO(data))


def make_tree(root: Path) -> Path:
    """A small local folder: ``a.txt``, ``sub/b.bin``, ``sub/deeper/c.txt``, ``empty.txt``."""
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha")
    (root / "sub" / "b.bin").write_bytes(BINARY)
    (root / "sub" / "deeper" / "c.txt").write_bytes(b"gamma")
    (root / "empty.txt").write_bytes(b"")
    return root


class _ChunkedReader:
    """A non-seekable stream that hands out at most ``chunk`` bytes per read."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._chunk = chunk

    def read(self, size: int = -1) -> bytes:
        limit = self._chunk if size < 0 else min(size, self._chunk)
        out = bytes(self._data[self._pos : self._pos + limit])
        self._pos += len(out)
        return out


class ArtifactStoreContract:
    """Tests every artifact backend passes; subclass and override ``artifact_store``."""

    @pytest.fixture
    def artifact_store(self) -> ArtifactStore:
        raise NotImplementedError("override the artifact_store fixture with a fresh, empty store")

    # shape ---------------------------------------------------------------------
    def test_implements_the_protocol(self, artifact_store: ArtifactStore) -> None:
        assert isinstance(artifact_store, ArtifactStore)
        assert artifact_store.root_uri

    def test_empty_store_lists_nothing(self, artifact_store: ArtifactStore) -> None:
        assert artifact_store.list_artifacts() == []
        assert artifact_store.list_artifacts("missing/dir") == []

    # write_stream / open_read --------------------------------------------------
    def test_binary_round_trip(self, artifact_store: ArtifactStore) -> None:
        assert write_bytes(artifact_store, "bin/data.bin", BINARY) == len(BINARY)
        assert read_all(artifact_store, "bin/data.bin") == BINARY

    def test_empty_file(self, artifact_store: ArtifactStore) -> None:
        assert write_bytes(artifact_store, "empty.txt", b"") == 0
        assert read_all(artifact_store, "empty.txt") == b""
        assert artifact_store.list_artifacts() == [
            FileInfo(path="empty.txt", is_dir=False, file_size=0)
        ]

    def test_five_mib_stream_from_a_non_seekable_reader(
        self, artifact_store: ArtifactStore
    ) -> None:
        data = random.Random(5).randbytes(FIVE_MIB)
        stream: BinaryIO = _ChunkedReader(data, chunk=300_000)  # type: ignore[assignment]
        assert artifact_store.write_stream("big/blob.bin", stream) == FIVE_MIB
        with artifact_store.open_read("big/blob.bin") as body:
            first = body.read(1024)
            rest = body.read()
        assert first + rest == data
        assert artifact_store.list_artifacts("big") == [
            FileInfo(path="big/blob.bin", is_dir=False, file_size=FIVE_MIB)
        ]

    def test_overwrite_replaces_the_content(self, artifact_store: ArtifactStore) -> None:
        write_bytes(artifact_store, "model/weights.bin", b"old and longer")
        write_bytes(artifact_store, "model/weights.bin", b"new")
        assert read_all(artifact_store, "model/weights.bin") == b"new"
        assert artifact_store.list_artifacts("model") == [
            FileInfo(path="model/weights.bin", is_dir=False, file_size=3)
        ]

    def test_paths_are_normalised(self, artifact_store: ArtifactStore) -> None:
        write_bytes(artifact_store, "./a//b/./c.txt", b"x")
        assert read_all(artifact_store, "a/b/c.txt") == b"x"
        assert artifact_store.list_artifacts("a/b/") == [
            FileInfo(path="a/b/c.txt", is_dir=False, file_size=1)
        ]

    def test_unicode_and_literal_percent_names(self, artifact_store: ArtifactStore) -> None:
        write_bytes(artifact_store, "données/résumé ✓.txt", b"u")
        write_bytes(artifact_store, "a%20b.txt", b"p")
        assert read_all(artifact_store, "données/résumé ✓.txt") == b"u"
        assert read_all(artifact_store, "a%20b.txt") == b"p"
        assert [i.path for i in artifact_store.list_artifacts()] == ["a%20b.txt", "données"]

    def test_the_root_is_not_a_file(self, artifact_store: ArtifactStore) -> None:
        with pytest.raises(InvalidInput, match="not the root"):
            write_bytes(artifact_store, "", b"x")
        with pytest.raises(InvalidInput, match="not the root"):
            artifact_store.open_read(".")

    def test_open_read_missing_raises_not_found(self, artifact_store: ArtifactStore) -> None:
        with pytest.raises(NotFound, match=r"no\.txt"):
            artifact_store.open_read("no.txt")

    def test_open_read_of_a_directory_raises_not_found(self, artifact_store: ArtifactStore) -> None:
        write_bytes(artifact_store, "dir/file.txt", b"x")
        with pytest.raises(NotFound, match="dir"):
            artifact_store.open_read("dir")

    # log_artifact / log_artifacts -----------------------------------------------
    def test_log_artifact_to_root_and_to_a_folder(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        src = tmp_path / "notes.txt"
        src.write_bytes(b"hello")
        artifact_store.log_artifact(str(src))
        artifact_store.log_artifact(str(src), "docs/v1")
        assert read_all(artifact_store, "notes.txt") == b"hello"
        assert read_all(artifact_store, "docs/v1/notes.txt") == b"hello"
        assert artifact_store.list_artifacts() == [
            FileInfo(path="docs", is_dir=True),
            FileInfo(path="notes.txt", is_dir=False, file_size=5),
        ]

    def test_log_artifact_of_a_missing_file_raises_not_found(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        with pytest.raises(NotFound, match="ghost"):
            artifact_store.log_artifact(str(tmp_path / "ghost.txt"))

    def test_log_artifacts_keeps_the_nested_structure(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        artifact_store.log_artifacts(str(make_tree(tmp_path / "src")), "data")
        assert artifact_store.list_artifacts() == [FileInfo(path="data", is_dir=True)]
        assert artifact_store.list_artifacts("data") == [
            FileInfo(path="data/a.txt", is_dir=False, file_size=5),
            FileInfo(path="data/empty.txt", is_dir=False, file_size=0),
            FileInfo(path="data/sub", is_dir=True),
        ]
        assert artifact_store.list_artifacts("data/sub") == [
            FileInfo(path="data/sub/b.bin", is_dir=False, file_size=len(BINARY)),
            FileInfo(path="data/sub/deeper", is_dir=True),
        ]
        assert read_all(artifact_store, "data/sub/deeper/c.txt") == b"gamma"
        assert read_all(artifact_store, "data/sub/b.bin") == BINARY

    def test_log_artifacts_into_the_root(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        artifact_store.log_artifacts(str(make_tree(tmp_path / "src")))
        assert [i.path for i in artifact_store.list_artifacts()] == ["a.txt", "empty.txt", "sub"]

    def test_log_artifacts_checks_every_name_before_writing(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        src = make_tree(tmp_path / "src")
        (src / "sub" / "evil\\..\\name.txt").write_bytes(b"x")
        with pytest.raises(InvalidInput, match="backslash"):
            artifact_store.log_artifacts(str(src))
        assert artifact_store.list_artifacts() == []

    def test_log_artifacts_of_a_missing_dir_raises_not_found(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        with pytest.raises(NotFound, match="nodir"):
            artifact_store.log_artifacts(str(tmp_path / "nodir"))

    # list ------------------------------------------------------------------------
    def test_list_gives_direct_children_sorted_with_sizes(
        self, artifact_store: ArtifactStore
    ) -> None:
        for path in ("b.txt", "a/x.txt", "c/d/e.txt", "ab.txt"):
            write_bytes(artifact_store, path, b"12")
        assert artifact_store.list_artifacts() == [
            FileInfo(path="a", is_dir=True),
            FileInfo(path="ab.txt", is_dir=False, file_size=2),
            FileInfo(path="b.txt", is_dir=False, file_size=2),
            FileInfo(path="c", is_dir=True),
        ]
        assert artifact_store.list_artifacts("c") == [FileInfo(path="c/d", is_dir=True)]

    def test_list_of_a_file_is_empty(self, artifact_store: ArtifactStore) -> None:
        write_bytes(artifact_store, "f.txt", b"x")
        assert artifact_store.list_artifacts("f.txt") == []

    # download ----------------------------------------------------------------------
    def test_download_a_file(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        write_bytes(artifact_store, "m/w.bin", BINARY)
        local = artifact_store.download_artifacts("m/w.bin", str(tmp_path / "dst"))
        assert Path(local) == (tmp_path / "dst" / "m" / "w.bin").resolve()
        assert Path(local).read_bytes() == BINARY

    def test_download_a_directory(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        artifact_store.log_artifacts(str(make_tree(tmp_path / "src")), "data")
        write_bytes(artifact_store, "other.txt", b"not downloaded")
        local = Path(artifact_store.download_artifacts("data/sub", str(tmp_path / "dst")))
        assert local == (tmp_path / "dst" / "data" / "sub").resolve()
        files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
        assert files == ["b.bin", "deeper/c.txt"]
        assert (local / "deeper" / "c.txt").read_bytes() == b"gamma"

    def test_download_everything(self, artifact_store: ArtifactStore, tmp_path: Path) -> None:
        artifact_store.log_artifacts(str(make_tree(tmp_path / "src")))
        local = Path(artifact_store.download_artifacts("", str(tmp_path / "dst")))
        assert local == (tmp_path / "dst").resolve()
        files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
        assert files == ["a.txt", "empty.txt", "sub/b.bin", "sub/deeper/c.txt"]
        assert (local / "empty.txt").read_bytes() == b""

    def test_download_missing_raises_not_found(
        self, artifact_store: ArtifactStore, tmp_path: Path
    ) -> None:
        with pytest.raises(NotFound, match="nothing-here"):
            artifact_store.download_artifacts("nothing-here", str(tmp_path / "dst"))

    # delete ------------------------------------------------------------------------
    def test_delete_a_file(self, artifact_store: ArtifactStore) -> None:
        write_bytes(artifact_store, "keep.txt", b"k")
        write_bytes(artifact_store, "drop.txt", b"d")
        artifact_store.delete_artifacts("drop.txt")
        assert [i.path for i in artifact_store.list_artifacts()] == ["keep.txt"]
        with pytest.raises(NotFound, match=r"drop\.txt"):
            artifact_store.open_read("drop.txt")

    def test_delete_a_directory_spares_names_sharing_its_prefix(
        self, artifact_store: ArtifactStore
    ) -> None:
        for path in ("dir/a.txt", "dir/sub/b.txt", "dir2/c.txt", "dirt.txt"):
            write_bytes(artifact_store, path, b"x")
        artifact_store.delete_artifacts("dir")
        assert [i.path for i in artifact_store.list_artifacts()] == ["dir2", "dirt.txt"]

    @pytest.mark.parametrize("root", ["", ".", "./", "/.", "a/.."])
    def test_the_root_is_never_deleted(self, artifact_store: ArtifactStore, root: str) -> None:
        write_bytes(artifact_store, "a/b.txt", b"x")
        write_bytes(artifact_store, "c.txt", b"y")
        with pytest.raises(InvalidInput, match=r"artifact root|not allowed|absolute"):
            artifact_store.delete_artifacts(root)
        assert read_all(artifact_store, "a/b.txt") == b"x"
        assert read_all(artifact_store, "c.txt") == b"y"

    def test_delete_missing_raises_not_found(self, artifact_store: ArtifactStore) -> None:
        with pytest.raises(NotFound, match="ghost"):
            artifact_store.delete_artifacts("ghost")

    # hostile paths -------------------------------------------------------------------
    @pytest.mark.parametrize("hostile", HOSTILE_PATHS)
    def test_every_method_refuses_hostile_paths(
        self, artifact_store: ArtifactStore, tmp_path: Path, hostile: str
    ) -> None:
        write_bytes(artifact_store, "bait.txt", b"bait")
        src_file = tmp_path / "f.txt"
        src_file.write_bytes(b"f")
        src_dir = make_tree(tmp_path / "tree")
        dst = tmp_path / "dst"
        outcomes = {
            method: _refusal(artifact_store, method, hostile, src_file, src_dir, dst)
            for method in METHODS
        }
        not_refused = {m: why for m, why in outcomes.items() if "invalid artifact path" not in why}
        assert not_refused == {}
        assert artifact_store.list_artifacts() == [
            FileInfo(path="bait.txt", is_dir=False, file_size=4)
        ]
        assert not dst.exists()


def _refusal(
    store: ArtifactStore, method: str, path: str, src_file: Path, src_dir: Path, dst: Path
) -> str:
    """Call one Protocol method with ``path``; return the InvalidInput message or "accepted"."""
    try:
        if method == "write_stream":
            write_bytes(store, path, b"x")
        elif method == "open_read":
            store.open_read(path).close()
        elif method == "list_artifacts":
            store.list_artifacts(path)
        elif method == "download_artifacts":
            store.download_artifacts(path, str(dst))
        elif method == "delete_artifacts":
            store.delete_artifacts(path)
        elif method == "log_artifact":
            store.log_artifact(str(src_file), path)
        else:
            store.log_artifacts(str(src_dir), path)
    except InvalidInput as exc:
        return exc.message
    return "accepted"


__all__ = [
    "HOSTILE_PATHS",
    "METHODS",
    "ArtifactStoreContract",
    "make_tree",
    "read_all",
    "write_bytes",
]
