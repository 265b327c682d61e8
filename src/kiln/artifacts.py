"""``kiln.artifacts``, at MLflow's ``mlflow.artifacts`` path: fetch artifacts by URI or run.

``download_artifacts`` and ``list_artifacts`` take MLflow's arguments: either an
``artifact_uri`` (``runs:/<id>/<path>``, ``models:/...``, ``s3://...``,
``mlflow-artifacts:/...``, a local path) or a ``run_id`` with an optional
``artifact_path``. The tracking URI is the fluent API's unless one is passed. As in
MLflow, a local artifact is returned in place when no ``dst_path`` is given.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from kiln.config import Settings
from kiln.entities import FileInfo
from kiln.errors import InvalidInput, InvalidUri, NotFound
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.open import open_artifact_store
from kiln.tracking.client import KilnClient

if TYPE_CHECKING:
    from PIL.Image import Image


def _check(artifact_uri: str | None, run_id: str | None, artifact_path: str | None) -> None:
    if artifact_uri is not None and (run_id is not None or artifact_path is not None):
        raise InvalidInput("pass artifact_uri, or run_id with artifact_path, not both")
    if artifact_uri is None and run_id is None:
        raise InvalidInput("pass artifact_uri or run_id")


def _tracking_uri(tracking_uri: str | None) -> str:
    from kiln.tracking.fluent import get_tracking_uri

    return tracking_uri or get_tracking_uri()


def _split(uri: str) -> tuple[str, str]:
    """(root URI, last path part): the store is opened at the parent, as MLflow does."""
    parsed = urlparse(uri)
    if not parsed.path.strip("/"):
        return uri, ""
    root, _, name = uri.rstrip("/").rpartition("/")
    return root, name


def _local_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a path (or a Windows drive)
        return Path(uri)
    return None


def _destination(dst_path: str | Path | None) -> str:
    dst = tempfile.mkdtemp(prefix="kiln-artifacts-") if dst_path is None else str(dst_path)
    Path(dst).mkdir(parents=True, exist_ok=True)
    return dst


def _copy_local(local: Path, dst_path: str | None) -> str:
    if not local.exists():
        raise NotFound(f"no artifact at {str(local)!r}")
    if dst_path is None:
        return str(local.resolve())
    target = Path(_destination(dst_path)) / local.name
    if local.is_dir():
        shutil.copytree(local, target, dirs_exist_ok=True)
    else:
        shutil.copy2(local, target)
    return str(target)


def _run_artifact(uri: str, dst_path: str | None, tracking_uri: str) -> str | None:
    """``runs:/<id>/<dir>/<name>`` into ``dst_path/<name>`` (MLflow's layout), or None
    when the run has no such artifact (it may name one of the run's logged models)."""
    from kiln.registry.uris import parse_runs_uri

    run_id, path = parse_runs_uri(uri)
    parent, _, name = path.strip("/").rpartition("/")
    with closing(KilnClient.from_uri(tracking_uri)) as client:
        if name and name not in {
            f.path.rsplit("/", 1)[-1] for f in client.list_artifacts(run_id, parent or None)
        }:
            return None
        root = client.get_run(run_id).info.artifact_uri.rstrip("/")
        store = open_artifact_store(
            f"{root}/{parent}" if parent else root,
            tracking_uri=tracking_uri,
            options=client.artifact_options,
        )
        return store.download_artifacts(name, _destination(dst_path))


def download_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    dst_path: str | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> str:
    """``mlflow.artifacts.download_artifacts``: copy a file or folder; return its local path.

    ``registry_uri`` resolves ``models:/`` URIs (default: ``kiln.set_registry_uri``'s or
    ``MLFLOW_REGISTRY_URI``, else the tracking URI, where Kiln keeps its registry).

    Raises:
        InvalidInput: both or neither of ``artifact_uri`` and ``run_id``.
        InvalidUri: a scheme no artifact store reads.
        NotFound: the run, model or artifact is missing.
    """
    _check(artifact_uri, run_id, artifact_path)
    if artifact_uri is None:
        assert run_id is not None
        with closing(KilnClient.from_uri(_tracking_uri(tracking_uri))) as client:
            return client.download_artifacts(run_id, artifact_path or "", _destination(dst_path))
    local = _local_path(artifact_uri)
    if local is not None:
        return _copy_local(local, dst_path)
    scheme = urlparse(artifact_uri).scheme.lower()
    if scheme == "runs":
        found = _run_artifact(artifact_uri, dst_path, _tracking_uri(tracking_uri))
        if found is not None:
            return found
    if scheme in ("runs", "models"):  # a registered or MLflow 3 logged model
        from kiln.models.resolve import download_model

        destination = _destination(dst_path)
        return str(
            download_model(artifact_uri, destination, _tracking_uri(tracking_uri), registry_uri)
        )
    root, name = _split(artifact_uri)
    options = ArtifactOptions(s3_endpoint_url=Settings.from_env().s3_endpoint_url)
    store = open_artifact_store(root, tracking_uri=_tracking_uri(tracking_uri), options=options)
    return store.download_artifacts(name, _destination(dst_path))


def list_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    tracking_uri: str | None = None,
) -> list[FileInfo]:
    """``mlflow.artifacts.list_artifacts``: the direct children of a folder artifact.

    Raises:
        InvalidInput: both or neither of ``artifact_uri`` and ``run_id``.
        InvalidUri: a ``models:/`` URI (download it instead) or an unknown scheme.
    """
    _check(artifact_uri, run_id, artifact_path)
    if artifact_uri is not None:
        scheme = urlparse(artifact_uri).scheme.lower()
        if scheme == "models":
            raise InvalidUri(
                f"cannot list {artifact_uri!r}: list the run that logged the model, "
                "or download it with download_artifacts"
            )
        if scheme == "runs":
            from kiln.registry.uris import parse_runs_uri

            run_id, artifact_path = parse_runs_uri(artifact_uri)
        else:
            root, name = _split(artifact_uri)
            options = ArtifactOptions(s3_endpoint_url=Settings.from_env().s3_endpoint_url)
            store = open_artifact_store(
                root, tracking_uri=_tracking_uri(tracking_uri), options=options
            )
            return store.list_artifacts(name or None)
    assert run_id is not None
    with closing(KilnClient.from_uri(_tracking_uri(tracking_uri))) as client:
        return client.list_artifacts(run_id, artifact_path or None)


def _download_file(artifact_uri: str, folder: str) -> Path:
    local = Path(download_artifacts(artifact_uri, dst_path=folder))
    if not local.is_file():
        raise InvalidInput(f"{artifact_uri!r} is not a file artifact")
    return local


def load_text(artifact_uri: str) -> str:
    """``mlflow.artifacts.load_text``: a UTF-8 text artifact's contents.

    Raises:
        InvalidInput: the artifact is a folder or not UTF-8.
    """
    with tempfile.TemporaryDirectory(prefix="kiln-artifacts-") as folder:
        try:
            return _download_file(artifact_uri, folder).read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"the artifact {artifact_uri!r} is not UTF-8 text") from exc


def load_dict(artifact_uri: str) -> dict[str, Any]:
    """``mlflow.artifacts.load_dict``: a JSON artifact as a dict.

    Raises:
        InvalidInput: the artifact is not a JSON object.
    """
    text = load_text(artifact_uri)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"the artifact {artifact_uri!r} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput(
            f"the artifact {artifact_uri!r} holds {type(value).__name__}, not a dict"
        )
    return value


def load_image(artifact_uri: str) -> Image:
    """``mlflow.artifacts.load_image``: an image artifact as a PIL image (needs Pillow).

    Raises:
        InvalidInput: Pillow cannot read the file.
    """
    try:
        from PIL import Image as PILImage
    except ImportError as exc:
        raise InvalidInput("load_image needs Pillow: pip install Pillow") from exc
    with tempfile.TemporaryDirectory(prefix="kiln-artifacts-") as folder:
        try:
            image = PILImage.open(_download_file(artifact_uri, folder))
            image.load()
        except OSError as exc:
            raise InvalidInput(f"the artifact {artifact_uri!r} is not an image: {exc}") from exc
        return image


__all__ = ["download_artifacts", "list_artifacts", "load_dict", "load_image", "load_text"]
