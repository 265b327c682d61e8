"""LocalArtifactStore: the contract suite plus what only a local folder can show."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from kiln.entities import FileInfo
from kiln.errors import Conflict, InvalidInput, InvalidUri, NotFound
from kiln.store.artifacts.local import CHUNK_SIZE, LocalArtifactStore, local_path_from_uri
from kiln.store.open import open_artifact_store
from kiln.store.protocols.artifacts import ArtifactStore
from kiln.testing.contracts.artifacts import ArtifactStoreContract, read_all, write_bytes


class TestLocalArtifactStore(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, tmp_path: Path) -> ArtifactStore:
        return LocalArtifactStore(str(tmp_path / "artifacts"))


class TestLocalArtifactStoreFromFileUri(ArtifactStoreContract):
    @pytest.fixture
    def artifact_store(self, tmp_path: Path) -> ArtifactStore:
        return LocalArtifactStore((tmp_path / "uri root").as_uri())


# root URIs -------------------------------------------------------------------------


def test_root_uri_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    real = tmp_path.resolve()
    assert local_path_from_uri(str(tmp_path / "a")) == real / "a"
    assert local_path_from_uri(f"file://{tmp_path}/a") == real / "a"
    assert local_path_from_uri(f"file://localhost{tmp_path}/a") == real / "a"
    assert local_path_from_uri("file:rel/dir") == real / "rel" / "dir"
    assert local_path_from_uri("rel/dir") == real / "rel" / "dir"
    assert local_path_from_uri((tmp_path / "with space").as_uri()) == real / "with space"


@pytest.mark.parametrize(
    ("uri", "match"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("file://otherhost/data", "host 'otherhost'"),
        ("file:///data?x=1", "query or fragment"),
        ("file://", "names no path"),
    ],
)
def test_bad_root_uris_are_refused(uri: str, match: str) -> None:
    with pytest.raises(InvalidUri, match=match):
        LocalArtifactStore(uri)


def test_open_artifact_store_picks_the_local_store(tmp_path: Path) -> None:
    for uri in (str(tmp_path), tmp_path.as_uri()):
        store = open_artifact_store(uri)
        assert isinstance(store, LocalArtifactStore)
        assert store.root_uri == uri
        assert store.root == tmp_path.resolve()


def test_the_root_folder_is_created_lazily(tmp_path: Path) -> None:
    root = tmp_path / "lazy" / "artifacts"
    store = LocalArtifactStore(str(root))
    assert store.list_artifacts() == []
    assert not root.exists()
    write_bytes(store, "x.txt", b"x")
    assert (root / "x.txt").read_bytes() == b"x"


# atomic, chunked writes ----------------------------------------------------------------


class _FailingStream:
    """Hands out two chunks, then fails as a dropped connection would."""

    def __init__(self) -> None:
        self.reads: list[int] = []

    def read(self, size: int = -1) -> bytes:
        self.reads.append(size)
        if len(self.reads) > 2:
            raise ConnectionResetError("client went away")
        return b"z" * size


def test_a_failed_stream_leaves_neither_a_half_file_nor_a_temporary(tmp_path: Path) -> None:
    store = LocalArtifactStore(str(tmp_path / "root"))
    write_bytes(store, "model.bin", b"previous")
    stream = _FailingStream()
    with pytest.raises(ConnectionResetError, match="went away"):
        store.write_stream("model.bin", stream)  # type: ignore[arg-type]
    assert stream.reads == [CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE]
    assert read_all(store, "model.bin") == b"previous"
    assert sorted(os.listdir(tmp_path / "root")) == ["model.bin"]


def test_leftover_temporaries_are_never_listed_or_downloaded(tmp_path: Path) -> None:
    store = LocalArtifactStore(str(tmp_path / "root"))
    write_bytes(store, "d/real.txt", b"r")
    (tmp_path / "root" / "d" / ".kiln-partial-abc123").write_bytes(b"half")
    assert store.list_artifacts("d") == [FileInfo(path="d/real.txt", is_dir=False, file_size=1)]
    local = Path(store.download_artifacts("d", str(tmp_path / "dst")))
    assert os.listdir(local) == ["real.txt"]


def test_written_files_are_world_readable(tmp_path: Path) -> None:
    store = LocalArtifactStore(str(tmp_path / "root"))
    write_bytes(store, "f.txt", b"x")
    assert (tmp_path / "root" / "f.txt").stat().st_mode & 0o777 == 0o644


def test_writing_through_a_file_raises_conflict(tmp_path: Path) -> None:
    store = LocalArtifactStore(str(tmp_path / "root"))
    write_bytes(store, "a", b"file")
    with pytest.raises(Conflict, match="a file stands where a directory"):
        write_bytes(store, "a/b.txt", b"x")
    write_bytes(store, "d/e.txt", b"x")
    with pytest.raises(Conflict, match="it is a directory"):
        write_bytes(store, "d", b"x")


def test_write_stream_accepts_any_reader(tmp_path: Path) -> None:
    store = LocalArtifactStore(str(tmp_path / "root"))
    data = os.urandom(3 * CHUNK_SIZE + 7)
    assert store.write_stream("r.bin", io.BufferedReader(io.BytesIO(data))) == len(data)
    assert read_all(store, "r.bin") == data


# symlinks ------------------------------------------------------------------------------


@pytest.fixture
def linked_store(tmp_path: Path) -> LocalArtifactStore:
    """A store whose root holds ``out`` -> a folder outside and ``in`` -> ``real/``."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "real" / "inner.txt").write_bytes(b"inner")
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "secret-link.txt").symlink_to(outside / "secret.txt")
    (root / "in").symlink_to(root / "real", target_is_directory=True)
    return LocalArtifactStore(str(root))


def test_symlinks_out_of_the_root_are_refused(linked_store: LocalArtifactStore) -> None:
    with pytest.raises(InvalidInput, match="resolves outside the artifact root"):
        linked_store.open_read("out/secret.txt")
    with pytest.raises(InvalidInput, match="resolves outside the artifact root"):
        linked_store.open_read("secret-link.txt")
    with pytest.raises(InvalidInput, match="resolves outside the artifact root"):
        write_bytes(linked_store, "out/planted.txt", b"x")
    with pytest.raises(InvalidInput, match="resolves outside the artifact root"):
        linked_store.list_artifacts("out")
    assert not (linked_store.root.parent / "outside" / "planted.txt").exists()


def test_listing_leaves_out_escaping_links_and_downloads_refuse_them(
    linked_store: LocalArtifactStore, tmp_path: Path
) -> None:
    assert [i.path for i in linked_store.list_artifacts()] == ["in", "real"]
    with pytest.raises(InvalidInput, match="resolves outside the artifact root"):
        linked_store.download_artifacts("", str(tmp_path / "dst"))
    assert not (tmp_path / "dst" / "out").exists()


def test_links_inside_the_root_work(linked_store: LocalArtifactStore) -> None:
    assert read_all(linked_store, "in/inner.txt") == b"inner"


def test_deleting_a_link_keeps_its_target(linked_store: LocalArtifactStore) -> None:
    linked_store.delete_artifacts("in")
    assert read_all(linked_store, "real/inner.txt") == b"inner"
    with pytest.raises(NotFound, match=r"in/inner\.txt"):
        linked_store.open_read("in/inner.txt")
