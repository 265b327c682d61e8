"""Artifacts behind a tracking server's artifact proxy (``mlflow-artifacts:`` URIs).

A Kiln or MLflow server started with proxied artifacts gives runs URIs like
``mlflow-artifacts:/0/<run_id>/artifacts``. Such a URI names a path under the
server's ``/api/2.0/mlflow-artifacts/artifacts`` endpoint and is resolved as
MLflow resolves it (``MlflowArtifactsRepository.resolve_uri``):

=================================================  =====================================
``mlflow-artifacts:/p`` + tracking ``http://h:1``  ``http://h:1/api/2.0/mlflow-artifacts/
                                                   artifacts/p``
``mlflow-artifacts://h:2/p``                       the same path on ``h:2`` (scheme from
                                                   the tracking URI, else ``http``)
tracking URI with a path, ``https://h/ml``         ``https://h/ml/api/2.0/mlflow-artifacts/
                                                   artifacts/p``
``http(s)://h/<prefix>/mlflow-artifacts/           used as it is (MLflow's
artifacts/p``                                      ``HttpArtifactRepository``)
=================================================  =====================================

The wire is MLflow's: ``PUT <base>/<path>`` uploads the request body, ``GET
<base>/<path>`` downloads, ``DELETE <base>/<path>`` deletes a file or folder, and
``GET <base>?path=<path>`` lists one folder (``{"files": [{"path": <name>,
"is_dir", "file_size"}]}``). Bodies stream both ways in 1 MiB chunks, so memory
stays flat for files of any size; downloads land in a hidden temporary file that
is renamed into place. Every path, the root's included, passes
:func:`kiln.store.artifacts.paths.safe_relpath` before a request is made, and
names in a listing that fail it are left out (and refused on download).

Kiln's and MLflow's servers differ in three answers, which the store evens out
so both pass the one artifact contract: MLflow's answers a ``GET`` of a folder
with 400 (downloads list first, and ``open_read`` reports a folder as
``NotFound``), deletes a missing path silently (``delete_artifacts`` checks the
parent's listing first), and leaves a ``file_size`` of 0 out (read as 0). Its
server also percent-decodes paths twice, so a literal ``%20`` in a name does
not survive it; Kiln's keeps names verbatim.

The tracking URI is passed in (``open_artifact_store(uri, tracking_uri=...)``);
the store layer never reads the global configuration. Each request carries the
credentials and workspace header its ``CredentialSource`` gives for its URL
(``kiln.store.credentials``; by default the process's, as the REST stores' do).
Connections belong to an
``HttpClients`` (``kiln.store.artifacts.options``), one keep-alive client per
server: the one the opener passes (and closes), else ``SHARED_HTTP_CLIENTS``, the
process's default, closed when the interpreter exits.
"""

from __future__ import annotations

import atexit
import io
import mimetypes
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlparse

import httpx

from kiln.entities import FileInfo
from kiln.errors import InvalidInput, InvalidUri, KilnError, NotFound, StoreUnavailable
from kiln.store.artifacts.local import plan_upload
from kiln.store.artifacts.options import ArtifactOptions, HttpClients
from kiln.store.artifacts.paths import (
    deletable_relpath,
    download_plan,
    download_target,
    safe_relpath,
)
from kiln.store.credentials import CredentialSource, credentials_for
from kiln.wire.errors import error_from_body

PROXY_SCHEME = "mlflow-artifacts"
SERVICE_MARKER = "/mlflow-artifacts/artifacts"
SERVICE_PATH = "/api/2.0" + SERVICE_MARKER
CHUNK_SIZE = 1024 * 1024
_PARTIAL_PREFIX = ".kiln-partial-"
_FILE_MODE = 0o644

_TRACKING_HINT = (
    "set the tracking URI to the server that holds the artifacts, e.g. "
    "KILN_TRACKING_URI=http://127.0.0.1:5000 (or kiln.set_tracking_uri)"
)


# resolving URIs ----------------------------------------------------------------------
def resolve_artifact_url(artifact_uri: str, tracking_uri: str | None = None) -> str:
    """The ``http(s)://`` URL of the folder an ``mlflow-artifacts:`` URI names.

    Plain ``http(s)://`` URIs come back unchanged (without a trailing slash).

    Raises:
        InvalidUri: a port without a host (``mlflow-artifacts://5000/p``), a
            host-less URI with no ``http(s)`` tracking URI to resolve it
            against, or another scheme.
    """
    parsed = urlparse(artifact_uri)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https"):
        return artifact_uri.rstrip("/")
    if scheme != PROXY_SCHEME:
        raise InvalidUri(f"not a proxied artifact URI: {artifact_uri!r}")
    if parsed.query or parsed.fragment:
        raise InvalidUri(f"unsupported artifact URI {artifact_uri!r}: no query or fragment")
    host = parsed.hostname
    if host and _is_numeric(host) and parsed.port is None:
        raise InvalidUri(
            f"the artifact URI {artifact_uri!r} has a port ({host}) but no host; "
            "write mlflow-artifacts://HOST:PORT/path"
        )
    tracking = urlparse(tracking_uri or "")
    tracking_scheme = tracking.scheme.lower()
    if tracking_scheme not in ("http", "https"):
        if not parsed.netloc:
            shown = _redacted(tracking_uri) if tracking_uri else "not set to a server"
            raise InvalidUri(
                f"cannot resolve the artifact URI {artifact_uri!r}: it lives on a tracking "
                f"server, but the tracking URI is {shown}; {_TRACKING_HINT}"
            )
        tracking_scheme = "http"
        tracking = urlparse("")
    netloc = parsed.netloc or tracking.netloc
    path = re.sub(r"//+", "/", f"{tracking.path}/{SERVICE_PATH}/{parsed.path}").rstrip("/")
    return f"{tracking_scheme}://{netloc}{path}"


def _is_numeric(host: str) -> bool:
    try:
        float(host)
    except ValueError:
        return False
    return True


def _redacted(uri: str) -> str:
    """A URI safe to print: no user info, query or fragment (they may hold secrets)."""
    parsed = urlparse(uri)
    netloc = parsed.netloc.rpartition("@")[2]
    return repr(parsed._replace(netloc=netloc, params="", query="", fragment="").geturl())


def split_service_url(url: str) -> tuple[str, str, str]:
    """Split a resolved URL into ``(origin, service path, root relpath)``.

    ``http://h:1/api/2.0/mlflow-artifacts/artifacts/0/r`` gives
    ``("http://h:1", "/api/2.0/mlflow-artifacts/artifacts", "0/r")``.

    Raises:
        InvalidUri: not ``http(s)``, no host, a query or fragment, no
            ``/mlflow-artifacts/artifacts`` segment, or an unsafe root path.
    """
    parsed = urlparse(url)
    if parsed.scheme.lower() not in ("http", "https") or not parsed.hostname:
        raise InvalidUri(f"invalid artifact server URL {url!r}: expected http(s)://host[:port]/...")
    if parsed.query or parsed.fragment:
        raise InvalidUri(f"unsupported artifact URI {url!r}: no query or fragment")
    before, marker, after = parsed.path.partition(SERVICE_MARKER)
    if not marker or (after and not after.startswith("/")):
        raise InvalidUri(
            f"unsupported artifact URI {url!r}: expected "
            f"http(s)://host[:port]{SERVICE_PATH}/<path>, the artifact proxy of a tracking server"
        )
    try:
        root = safe_relpath(after.lstrip("/"))
    except InvalidInput as exc:
        raise InvalidUri(f"unsupported artifact URI {url!r}: {exc.message}") from exc
    origin = f"{parsed.scheme.lower()}://{parsed.netloc}"
    return origin, before + marker, root


# the connections -----------------------------------------------------------------------
SHARED_HTTP_CLIENTS = HttpClients()
"""The owner of the connections of stores opened without one: lives as long as the process."""
atexit.register(SHARED_HTTP_CLIENTS.close)


# streams ------------------------------------------------------------------------------
def _remaining_length(stream: BinaryIO) -> int | None:
    """Bytes left in a seekable stream (sent as Content-Length); None when unknown.

    Servers and proxies that do not take chunked request bodies then still work
    for every upload whose size is known (files, ``BytesIO``).
    """
    try:
        if not stream.seekable():
            return None
        position = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return end - position


def _chunks(stream: BinaryIO, counter: list[int]) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_SIZE):
        counter[0] += len(chunk)
        yield chunk


class _ResponseBody(io.RawIOBase):
    """A streamed response as a raw binary stream; closing it closes the response."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__()
        self._response = response
        self._chunks = response.iter_bytes(CHUNK_SIZE)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self._pending:
            try:
                self._pending = next(self._chunks, b"")
            except httpx.HTTPError as exc:
                raise StoreUnavailable(f"artifact download was cut off: {exc}") from exc
        size = min(len(target), len(self._pending))
        target[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        if not self.closed:
            self._response.close()
        super().close()


def _child(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


class HttpArtifactStore:
    """``ArtifactStore`` over a tracking server's artifact proxy (see the module docstring)."""

    def __init__(
        self,
        root_uri: str,
        *,
        tracking_uri: str | None = None,
        clients: HttpClients | None = None,
        credentials: CredentialSource | None = None,
    ) -> None:
        """Bind the store to ``root_uri``; no request is made until the first call.

        Args:
            root_uri: ``mlflow-artifacts:/path``, ``mlflow-artifacts://host:port/path``
                or ``http(s)://host[:port]/api/2.0/mlflow-artifacts/artifacts/path``.
            tracking_uri: the ``http(s)`` tracking server that host-less
                ``mlflow-artifacts:`` URIs live on.
            clients: the owner of the connections (closed by whoever made it); by
                default ``SHARED_HTTP_CLIENTS``.
            credentials: what each request carries; by default the process's source.

        Raises:
            InvalidUri: the URI cannot be resolved to a proxy URL, or its path is unsafe.
        """
        self._root_uri = root_uri
        self._url = resolve_artifact_url(root_uri, tracking_uri)
        self._origin, self._service, self._root = split_service_url(self._url)
        self._clients = SHARED_HTTP_CLIENTS if clients is None else clients
        self._credentials = credentials

    @property
    def root_uri(self) -> str:
        """The URI this store was opened with."""
        return self._root_uri

    @property
    def url(self) -> str:
        """The resolved ``http(s)://`` URL of the root folder."""
        return self._url

    # requests ------------------------------------------------------------------------
    def _path_url(self, rel: str) -> str:
        """The proxy URL of ``rel`` (already safe), every segment percent-encoded."""
        full = _child(self._root, rel) if rel else self._root
        return f"{self._origin}{self._service}/{quote(full, safe='/')}"

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        content: Iterator[bytes] | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        client = self._clients.client(self._origin)
        sent = credentials_for(url, self._credentials).headers(url) | (headers or {})
        request = client.build_request(method, url, params=params, content=content, headers=sent)
        try:
            return client.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise StoreUnavailable(
                f"artifact server {self._origin} could not be reached ({method} "
                f"{request.url.path}): {exc}"
            ) from exc

    def _error(self, response: httpx.Response, rel: str, what: str) -> KilnError:
        """The Kiln error for a non-2xx answer about ``rel`` (``what`` names its kind).

        A 404 is ``NotFound`` naming the path, unless the server says the
        endpoint itself does not exist; other 4xx answers keep the server's
        class and message; 5xx answers are ``StoreUnavailable``.
        """
        if not response.is_closed:
            response.read()
            response.close()
        try:
            body: object = response.json() if response.content else None
        except ValueError:
            body = None
        code = body.get("error_code") if isinstance(body, dict) else None
        status = response.status_code
        if (status == 404 and code == "ENDPOINT_NOT_FOUND") or status == 405:
            return StoreUnavailable(
                f"{self._origin} does not serve artifacts at {self._service} (HTTP {status}); "
                "is it a tracking server with its artifact proxy enabled?"
            )
        if status == 404:
            return NotFound(f"no artifact {what}{rel!r} under {self._root_uri!r}")
        error = error_from_body(status, body, response.text)
        if status >= 500:
            return StoreUnavailable(
                f"artifact server {self._origin} failed on {rel or '/'!r} "
                f"(HTTP {status}): {error.message}"
            )
        return error

    # writing -------------------------------------------------------------------------
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Upload one local file into the directory ``artifact_path`` (root if None).

        Raises:
            NotFound: ``local_file`` is not an existing file.
            InvalidInput: an unsafe ``artifact_path`` or file name.
            StoreUnavailable: the server could not be reached or failed.
        """
        src = Path(local_file)
        if not src.is_file():
            raise NotFound(f"local file {local_file!r} does not exist or is not a file")
        rel = safe_relpath(_child(safe_relpath(artifact_path), src.name))
        self._upload_file(src, rel)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Upload every file under ``local_dir`` into ``artifact_path``, keeping the tree.

        All names are checked before the first upload.

        Raises:
            NotFound: ``local_dir`` is not an existing directory.
            InvalidInput: an unsafe ``artifact_path`` or name inside ``local_dir``.
        """
        for src, rel in plan_upload(local_dir, artifact_path):
            self._upload_file(src, rel)

    def _upload_file(self, src: Path, rel: str) -> None:
        with src.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            self._put(rel, stream, {"Content-Length": str(size)})

    def write_stream(self, artifact_path: str, stream: BinaryIO) -> int:
        """Upload ``stream`` to ``artifact_path`` with a streamed ``PUT``.

        The body is read sequentially, 1 MiB at a time. A seekable stream's
        remaining size is measured first and sent as ``Content-Length``; any
        other stream goes with chunked transfer encoding.

        Returns:
            The number of bytes sent.

        Raises:
            InvalidInput: an unsafe path, or the root itself.
            Conflict: the server refused (a file stands where a folder is needed).
        """
        rel = self._file_rel(artifact_path)
        size = _remaining_length(stream)
        return self._put(rel, stream, {} if size is None else {"Content-Length": str(size)})

    def _put(self, rel: str, stream: BinaryIO, headers: dict[str, str]) -> int:
        counter = [0]
        media_type = mimetypes.guess_type(rel)[0] or "application/octet-stream"
        response = self._send(
            "PUT",
            self._path_url(rel),
            content=_chunks(stream, counter),
            headers={"Content-Type": media_type, **headers},
        )
        if not response.is_success:
            raise self._error(response, rel, "")
        return counter[0]

    # reading -------------------------------------------------------------------------
    def open_read(self, artifact_path: str) -> BinaryIO:
        """Open one file as a streaming download; the caller closes it.

        Raises:
            InvalidInput: an unsafe path, or the root itself.
            NotFound: no file at ``artifact_path`` (a directory is not a file).
        """
        rel = self._file_rel(artifact_path)
        response = self._get_file(rel)
        return io.BufferedReader(_ResponseBody(response), buffer_size=CHUNK_SIZE)

    def _get_file(self, rel: str) -> httpx.Response:
        """The streamed ``GET`` of one file; a folder is ``NotFound``, on any server."""
        response = self._send("GET", self._path_url(rel), stream=True)
        if response.is_success:
            return response
        error = self._error(response, rel, "file ")
        # MLflow's server refuses a folder with a 400; Kiln's answers 404.
        client_error = 400 <= response.status_code < 500 and not isinstance(error, NotFound)
        if client_error and self.list_artifacts(rel):
            raise NotFound(f"artifact {rel!r} is a directory, not a file") from error
        raise error

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path`` (root if None), sorted; ``[]`` for a file or nothing.

        Raises:
            InvalidInput: an unsafe ``path``.
        """
        rel = safe_relpath(path)
        full = _child(self._root, rel) if rel else self._root
        url = f"{self._origin}{self._service}"
        response = self._send("GET", url, params={"path": full})
        if not response.is_success:
            raise self._error(response, rel, "folder ")
        try:
            answer = response.json()
        except ValueError as exc:
            raise StoreUnavailable(
                f"artifact server {self._origin} answered a listing with a non-JSON body"
            ) from exc
        files = answer.get("files", []) if isinstance(answer, dict) else []
        infos: list[FileInfo] = []
        for entry in files if isinstance(files, list) else []:
            info = _file_info(rel, entry)
            if info is not None:
                infos.append(info)
        # MLflow servers over object stores list a file as itself; that is no folder.
        only = infos[0] if len(infos) == 1 else None
        if rel and only and not only.is_dir and only.path == f"{rel}/{rel.rsplit('/', 1)[-1]}":
            return []
        return sorted(infos, key=lambda info: info.path)

    def download_artifacts(self, artifact_path: str, dst_path: str) -> str:
        """Download a file or a whole folder to ``dst_path/<artifact_path>``.

        Each file streams into a temporary file beside its target, renamed into
        place when complete. A folder's whole tree is listed and checked before
        the first file is written.

        Returns:
            The absolute local path of the file or directory.

        Raises:
            InvalidInput: an unsafe path, or a listed name that is unsafe.
            NotFound: nothing exists at ``artifact_path``.
        """
        rel, dst = download_target(artifact_path, dst_path)
        # A listing first, as MLflow does: its server answers a GET of a folder with 400.
        files = self._walk(rel)
        if rel and not files:
            try:
                response = self._get_file(rel)
            except NotFound:
                raise NotFound(f"no artifact {rel!r} under {self._root_uri!r}") from None
            _save(response, dst)
            return str(dst)
        for file, out in download_plan(dst, files, len(rel) + 1 if rel else 0):
            _save(self._get_file(file), out)
        return str(dst)

    def _walk(self, rel: str) -> list[str]:
        """Every file path under the folder ``rel``, depth first, sorted."""
        files: list[str] = []
        for info in self.list_artifacts(rel or None):
            if info.is_dir:
                files.extend(self._walk(info.path))
            else:
                files.append(info.path)
        return files

    def delete_artifacts(self, artifact_path: str) -> None:
        """Delete a file or a folder tree on the server (never the root itself).

        Raises:
            InvalidInput: an unsafe path, or the root.
            NotFound: ``artifact_path`` names nothing.
        """
        rel = deletable_relpath(artifact_path)
        # MLflow's server deletes nothing silently; both servers give NotFound here.
        parent = rel.rpartition("/")[0]
        if rel not in {info.path for info in self.list_artifacts(parent or None)}:
            raise NotFound(f"no artifact {rel!r} under {self._root_uri!r}")
        response = self._send("DELETE", self._path_url(rel))
        if not response.is_success:
            raise self._error(response, rel, "")

    def _file_rel(self, artifact_path: str | None) -> str:
        rel = safe_relpath(artifact_path)
        if not rel:
            raise InvalidInput("an artifact file path is required, not the root ('')")
        return rel


def _file_info(folder: str, entry: object) -> FileInfo | None:
    """One listing entry as a FileInfo under ``folder``; None when malformed or unsafe."""
    if not isinstance(entry, dict):
        return None
    name = entry.get("path")
    if not isinstance(name, str):
        return None
    try:
        clean = safe_relpath(name)
    except InvalidInput:
        return None
    if not clean or clean != name or "/" in clean:
        return None
    is_dir = bool(entry.get("is_dir", False))
    # MLflow's server leaves a file_size of 0 out of its JSON.
    file_size = None if is_dir else int(entry.get("file_size") or 0)
    return FileInfo(path=_child(folder, clean), is_dir=is_dir, file_size=file_size)


def _save(response: httpx.Response, dst: Path) -> None:
    """Stream a response body into ``dst`` through a temporary file and a rename;
    the response is closed after."""
    try:
        _save_open(response, dst)
    finally:
        response.close()


def _save_open(response: httpx.Response, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dst.parent, prefix=_PARTIAL_PREFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), _FILE_MODE)
            for chunk in response.iter_bytes(CHUNK_SIZE):
                out.write(chunk)
        os.replace(tmp_name, dst)
    except httpx.HTTPError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise StoreUnavailable(f"download of {dst.name!r} was cut off: {exc}") from exc
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def open_http_artifact_store(
    root_uri: str, *, tracking_uri: str | None = None, options: ArtifactOptions | None = None
) -> HttpArtifactStore:
    """The ``open_artifact_store`` factory for ``mlflow-artifacts:`` and ``http(s)://`` roots."""
    options = options or ArtifactOptions()
    return HttpArtifactStore(
        root_uri, tracking_uri=tracking_uri, clients=options.http, credentials=options.credentials
    )


__all__ = [
    "PROXY_SCHEME",
    "SERVICE_PATH",
    "SHARED_HTTP_CLIENTS",
    "HttpArtifactStore",
    "open_http_artifact_store",
    "resolve_artifact_url",
    "split_service_url",
]
