"""Artifacts in S3 or any S3-compatible service (``s3://bucket/prefix``).

boto3 is imported when a store is constructed, never at import time; install it
with ``pip install 'kiln-mlops[s3]'``. Credentials and region come from boto3's
usual chain (``AWS_ACCESS_KEY_ID``, ``~/.aws``, instance roles).

The endpoint is the ``endpoint_url=`` argument, else AWS. The store reads no
environment: ``kiln.config.Settings`` reads ``KILN_S3_ENDPOINT_URL`` /
``MLFLOW_S3_ENDPOINT_URL`` at the edge, and ``open_artifact_store`` passes it
on (``ArtifactOptions.s3_endpoint_url``).

Directories are key prefixes: a "directory" exists while some key lies under
it, and empty directories cannot exist. Keys are ``<prefix>/<safe relpath>``;
keys that fail :func:`kiln.store.artifacts.paths.safe_relpath` (written by
other tools) are refused on download and left out of listings.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urlparse

from kiln.entities import FileInfo
from kiln.errors import InvalidInput, InvalidUri, NotFound, StoreUnavailable
from kiln.store.artifacts.local import plan_upload
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.artifacts.paths import (
    deletable_relpath,
    download_plan,
    download_target,
    safe_relpath,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DEFAULT_MULTIPART_CHUNKSIZE = 8 * 1024 * 1024
_DELETE_BATCH = 1000
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def _install_hint(root_uri: str) -> str:
    return (
        f"cannot open {root_uri}: the s3:// artifact store needs boto3, which is not "
        "installed; install the extra with: pip install 'kiln-mlops[s3]'"
    )


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/some/prefix`` into ``("bucket", "some/prefix")``.

    Raises:
        InvalidUri: not an ``s3://`` URI, no bucket, or an unsafe prefix.
    """
    parsed = urlparse(uri)
    if parsed.scheme.lower() != "s3" or not parsed.netloc:
        raise InvalidUri(f"not an S3 artifact URI: {uri!r}; expected s3://bucket/prefix")
    if parsed.query or parsed.fragment:
        raise InvalidUri(f"unsupported S3 artifact URI {uri!r}: no query or fragment")
    try:
        prefix = safe_relpath(parsed.path.lstrip("/"))
    except InvalidInput as exc:
        raise InvalidUri(f"unsupported S3 artifact URI {uri!r}: {exc.message}") from exc
    return parsed.netloc, prefix


class _CountingReader:
    """Wraps a stream for s3transfer: counts bytes and makes every read full.

    s3transfer takes a short read from a non-seekable stream for the end of
    the data, so a socket-like stream that returns less than asked would be
    silently truncated. Here ``read(n)`` returns ``n`` bytes unless the stream
    is exhausted. There is no ``seek``, so boto3 streams part by part.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            data = self._stream.read()
        else:
            parts: list[bytes] = []
            missing = size
            while missing > 0:
                chunk = self._stream.read(missing)
                if not chunk:
                    break
                parts.append(chunk)
                missing -= len(chunk)
            data = b"".join(parts)
        self.count += len(data)
        return data


class S3ArtifactStore:
    """``ArtifactStore`` over an S3 bucket and key prefix (see the module docstring)."""

    def __init__(
        self,
        root_uri: str,
        *,
        endpoint_url: str | None = None,
        multipart_chunksize: int = DEFAULT_MULTIPART_CHUNKSIZE,
    ) -> None:
        """Bind the store to ``root_uri``; no request is made until the first call.

        Args:
            root_uri: ``s3://bucket`` or ``s3://bucket/prefix``.
            endpoint_url: an S3-compatible endpoint; None for AWS.
            multipart_chunksize: part size (and threshold) of multipart uploads;
                S3 requires at least 5 MiB.

        Raises:
            InvalidUri: a malformed ``root_uri``.
            InvalidUri: boto3 is not installed (the message names the extra to
                install): a KilnError, so a server answers 400 and the CLI one line.
        """
        self._root_uri = root_uri
        self._bucket, self._prefix = parse_s3_uri(root_uri)
        self._endpoint_url = endpoint_url
        try:
            import boto3
            from boto3.s3.transfer import TransferConfig
        except ImportError:
            raise InvalidUri(_install_hint(root_uri)) from None
        self._client: S3Client = boto3.client("s3", endpoint_url=endpoint_url)
        self._transfer = TransferConfig(
            multipart_threshold=multipart_chunksize, multipart_chunksize=multipart_chunksize
        )

    @property
    def root_uri(self) -> str:
        """The URI this store was opened with."""
        return self._root_uri

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def prefix(self) -> str:
        """The key prefix of the root, without slashes at either end ("" for none)."""
        return self._prefix

    @property
    def endpoint_url(self) -> str | None:
        return self._endpoint_url

    # keys ------------------------------------------------------------------------
    def _key(self, rel: str) -> str:
        if self._prefix and rel:
            return f"{self._prefix}/{rel}"
        return self._prefix or rel

    def _dir_prefix(self, rel: str) -> str:
        key = self._key(rel)
        return f"{key}/" if key else ""

    def _rel(self, key: str) -> str:
        return key[len(self._prefix) + 1 :] if self._prefix else key

    def _file_key(self, artifact_path: str | None) -> tuple[str, str]:
        rel = safe_relpath(artifact_path)
        if not rel:
            raise InvalidInput("an artifact file path is required, not the root ('')")
        return rel, self._key(rel)

    def _keys_under(self, prefix: str) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        keys: list[str] = []
        with _s3_errors(self._bucket):
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return keys

    def _exists(self, key: str) -> bool:
        """Whether an object has exactly this key (False for a missing bucket too)."""
        try:
            with _s3_errors(self._bucket, missing="missing"):
                self._client.head_object(Bucket=self._bucket, Key=key)
        except NotFound:
            return False
        return True

    # writing ---------------------------------------------------------------------
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Upload one local file into the directory ``artifact_path`` (root if None).

        Raises:
            NotFound: ``local_file`` is not an existing file, or no bucket.
            InvalidInput: an unsafe ``artifact_path`` or file name.
        """
        src = Path(local_file)
        if not src.is_file():
            raise NotFound(f"local file {local_file!r} does not exist or is not a file")
        base = safe_relpath(artifact_path)
        _rel, key = self._file_key(f"{base}/{src.name}" if base else src.name)
        self._upload_file(src, key)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Upload every file under ``local_dir`` into ``artifact_path``, keeping the tree.

        All names are checked before the first upload.

        Raises:
            NotFound: ``local_dir`` is not an existing directory, or no bucket.
            InvalidInput: an unsafe ``artifact_path`` or name inside ``local_dir``.
        """
        for src, rel in plan_upload(local_dir, artifact_path):
            self._upload_file(src, self._key(rel))

    def _upload_file(self, src: Path, key: str) -> None:
        with _s3_errors(self._bucket):
            self._client.upload_file(str(src), self._bucket, key, Config=self._transfer)

    def write_stream(self, artifact_path: str, stream: BinaryIO) -> int:
        """Upload ``stream`` to ``artifact_path`` (multipart past the chunk size).

        The stream is read sequentially and never seeked; memory stays near
        one part per concurrent upload thread. S3 makes the object visible only
        when the upload completes.

        Returns:
            The number of bytes written.

        Raises:
            InvalidInput: an unsafe path, or the root itself.
            NotFound: the bucket does not exist.
        """
        _rel, key = self._file_key(artifact_path)
        reader = _CountingReader(stream)
        with _s3_errors(self._bucket):
            # s3transfer needs only read(); the stubs ask for a full IO object.
            body = cast(BinaryIO, reader)
            self._client.upload_fileobj(body, self._bucket, key, Config=self._transfer)
        return reader.count

    # reading ---------------------------------------------------------------------
    def open_read(self, artifact_path: str) -> BinaryIO:
        """Return the object's streaming body; the caller closes it.

        Raises:
            InvalidInput: an unsafe path, or the root itself.
            NotFound: no object at ``artifact_path`` (a prefix is not a file).
        """
        rel, key = self._file_key(artifact_path)
        with _s3_errors(self._bucket, missing=f"no artifact file {rel!r} under {self._root_uri!r}"):
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        return cast(BinaryIO, response["Body"])

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path`` (root if None), sorted; ``[]`` when none.

        Raises:
            InvalidInput: an unsafe ``path``.
            NotFound: the bucket does not exist.
        """
        prefix = self._dir_prefix(safe_relpath(path))
        paginator = self._client.get_paginator("list_objects_v2")
        infos: list[FileInfo] = []
        with _s3_errors(self._bucket):
            pages = paginator.paginate(Bucket=self._bucket, Prefix=prefix, Delimiter="/")
            for page in pages:
                for common in page.get("CommonPrefixes", []):
                    rel = self._rel(common["Prefix"].rstrip("/"))
                    if _is_safe(rel):
                        infos.append(FileInfo(path=rel, is_dir=True))
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key == prefix or key.endswith("/"):
                        continue  # folder markers written by other tools
                    rel = self._rel(key)
                    if _is_safe(rel):
                        infos.append(FileInfo(path=rel, is_dir=False, file_size=obj["Size"]))
        return sorted(infos, key=lambda info: info.path)

    def download_artifacts(self, artifact_path: str, dst_path: str) -> str:
        """Download a file or a whole prefix to ``dst_path/<artifact_path>``.

        Returns:
            The absolute local path of the file or directory.

        Raises:
            InvalidInput: an unsafe path, or a stored key that is unsafe.
            NotFound: nothing exists at ``artifact_path``.
        """
        rel, dst = download_target(artifact_path, dst_path)
        if rel and self._exists(self._key(rel)):
            dst.parent.mkdir(parents=True, exist_ok=True)
            with _s3_errors(self._bucket):
                self._client.download_file(self._bucket, self._key(rel), str(dst))
            return str(dst)
        prefix = self._dir_prefix(rel)
        keys = [key for key in self._keys_under(prefix) if not key.endswith("/")]
        if not keys and rel:
            raise NotFound(f"no artifact {rel!r} under {self._root_uri!r}")
        for key, out in download_plan(dst, keys, len(prefix)):
            out.parent.mkdir(parents=True, exist_ok=True)
            with _s3_errors(self._bucket):
                self._client.download_file(self._bucket, key, str(out))
        return str(dst)

    def delete_artifacts(self, artifact_path: str) -> None:
        """Delete one object or everything under a folder (never the store's prefix itself).

        Raises:
            InvalidInput: an unsafe path, or the root.
            NotFound: ``artifact_path`` names nothing.
        """
        rel = deletable_relpath(artifact_path)
        keys = self._keys_under(self._dir_prefix(rel))
        if self._exists(self._key(rel)):
            keys.append(self._key(rel))
        if not keys:
            raise NotFound(f"no artifact {rel!r} under {self._root_uri!r}")
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start : start + _DELETE_BATCH]
            with _s3_errors(self._bucket):
                self._client.delete_objects(
                    Bucket=self._bucket,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )


def _is_safe(rel: str) -> bool:
    try:
        return safe_relpath(rel) == rel and rel != ""
    except InvalidInput:
        return False


def _error_code(exc: Any) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


@contextmanager
def _s3_errors(bucket: str, missing: str | None = None) -> Iterator[None]:
    """Translate botocore/boto3 failures inside the block into Kiln errors.

    ``NoSuchBucket`` becomes ``NotFound``; a missing key becomes ``NotFound``
    with the ``missing`` message when one is given; anything else from the
    service or the connection becomes ``StoreUnavailable``.
    """
    import boto3.exceptions
    import botocore.exceptions

    try:
        yield
    except botocore.exceptions.ClientError as exc:
        code = _error_code(exc)
        if code == "NoSuchBucket":
            raise NotFound(f"S3 bucket {bucket!r} does not exist") from exc
        if code in _MISSING_CODES and missing is not None:
            raise NotFound(missing) from exc
        raise StoreUnavailable(f"S3 request to bucket {bucket!r} failed: {exc}") from exc
    except boto3.exceptions.S3UploadFailedError as exc:
        if "NoSuchBucket" in str(exc):
            raise NotFound(f"S3 bucket {bucket!r} does not exist") from exc
        raise StoreUnavailable(f"S3 upload to bucket {bucket!r} failed: {exc}") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise StoreUnavailable(f"S3 request to bucket {bucket!r} failed: {exc}") from exc


def open_s3_artifact_store(
    root_uri: str, *, options: ArtifactOptions | None = None
) -> S3ArtifactStore:
    """The ``open_artifact_store`` factory for ``s3://`` roots."""
    return S3ArtifactStore(
        root_uri, endpoint_url=None if options is None else options.s3_endpoint_url
    )


__all__ = ["S3ArtifactStore", "open_s3_artifact_store", "parse_s3_uri"]
