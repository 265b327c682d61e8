"""The artifact store contract: files under one root URI.

Every backend (local folder, S3, MLflow's HTTP artifact service) implements
``ArtifactStore`` and passes ``kiln.testing.contracts.ArtifactStoreContract``.
"""

from __future__ import annotations

from typing import BinaryIO, Protocol, runtime_checkable

from kiln.entities import FileInfo


@runtime_checkable
class ArtifactStore(Protocol):
    """Files under one root URI (usually a run's ``artifact_uri``).

    Every ``artifact_path`` is relative to the root and passes through
    ``kiln.store.artifacts.paths.safe_relpath``: ``..``, absolute paths and
    anything that would escape the root raise ``InvalidInput``.
    """

    @property
    def root_uri(self) -> str: ...

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Copy one local file into the directory ``artifact_path`` (root if None)."""
        ...

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Copy a local directory's contents into ``artifact_path``."""
        ...

    def write_stream(self, artifact_path: str, stream: BinaryIO) -> int:
        """Write the file at ``artifact_path`` from a stream; returns bytes written."""
        ...

    def open_read(self, artifact_path: str) -> BinaryIO:
        """Open one file for streaming reads. Raises NotFound."""
        ...

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path`` (root if None), sorted by path."""
        ...

    def download_artifacts(self, artifact_path: str, dst_path: str) -> str:
        """Copy a file or directory into local ``dst_path``; return the local path."""
        ...

    def delete_artifacts(self, artifact_path: str) -> None:
        """Delete one file or folder tree. Never the root: ``""``, ``"."`` and the like
        raise InvalidInput (one request must not remove every experiment's files).
        Raises NotFound when nothing is there."""
        ...


__all__ = ["ArtifactStore"]
