"""Model URI -> a local model folder.

Accepted URIs, as MLflow accepts them:

==========================================  ===============================================
``/path/to/model``, ``file:///path``        used in place (no copy)
``runs:/<run_id>/<path>``                   the run's artifacts, through the tracking store
``models:/<name>/<version>``, ``@<alias>``  a registry version, through the registry kept at
``models:/<name>/<stage>``, ``/latest``     the tracking URI (``kiln.store.open``)
``models:/m-<id>``                          an MLflow 3 logged model (its artifact location)
``s3://...`` and other artifact URIs        downloaded through the artifact store
==========================================  ===============================================

The tracking URI is the one ``kiln.set_tracking_uri`` / ``KILN_TRACKING_URI`` /
``MLFLOW_TRACKING_URI`` names, unless the caller passes one. ``download_model`` is
an entry point: it reads ``Settings`` once and passes what the stores need (the
S3 endpoint, the client's settings) down.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import closing
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from kiln.config import Settings
from kiln.entities.logged_model import LoggedModel
from kiln.errors import InvalidUri, NotFound
from kiln.models.mlmodel import MLMODEL_FILE
from kiln.models.registration import logged_model_locator
from kiln.registry.service import RegistryService
from kiln.registry.uris import parse_model_uri, parse_runs_uri
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.open import close_store, open_artifact_store, open_registry_store
from kiln.tracking.client import KilnClient
from kiln.tracking.fluent import get_tracking_uri
from kiln.tracking.fluent_registry import registry_uri_from_context
from kiln.tracking.logged_model_ops import model_store


def _destination(dst_path: str | Path | None) -> Path:
    dst = Path(tempfile.mkdtemp(prefix="kiln-model-")) if dst_path is None else Path(dst_path)
    dst.mkdir(parents=True, exist_ok=True)
    return dst


def _download_location(
    location: str,
    dst_path: str | Path | None,
    settings: Settings,
    tracking_uri: str | None = None,
) -> Path:
    """Fetch an artifact URI (a folder) into a local folder; local URIs are used in place.

    ``tracking_uri`` resolves a server's ``mlflow-artifacts:/`` locations.
    """
    parsed = urlparse(location)
    if parsed.scheme in ("", "file") or len(parsed.scheme) == 1:
        local = Path(unquote(parsed.path) if parsed.scheme == "file" else location)
        if not local.exists():
            raise NotFound(f"no model at {location!r}")
        return local
    if parsed.scheme in ("runs", "models"):
        return _download(location, dst_path, None, settings)
    options = ArtifactOptions(s3_endpoint_url=settings.s3_endpoint_url)
    store = open_artifact_store(location, tracking_uri=tracking_uri, options=options)
    return Path(store.download_artifacts("", str(_destination(dst_path))))


def _logged_model_location(tracking_uri: str, model_id: str, workspace: str) -> str:
    return model_store(tracking_uri, workspace).get_logged_model(model_id).artifact_location


def download_model(
    model_uri: str,
    dst_path: str | Path | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> Path:
    """The local folder holding the model ``model_uri`` names.

    Args:
        dst_path: where to download remote models (a new temporary folder when None).
        tracking_uri: the tracking backend (the configured one when None).
        registry_uri: the registry of ``models:/<name>/...`` URIs; when None,
            ``kiln.set_registry_uri``'s or ``MLFLOW_REGISTRY_URI``, else the tracking URI.

    Raises:
        InvalidUri: a URI Kiln cannot read.
        NotFound: the run, registered version, logged model or folder is missing.
    """
    return _download(model_uri, dst_path, tracking_uri, Settings.from_env(), registry_uri)


def _download(
    model_uri: str,
    dst_path: str | Path | None,
    tracking_uri: str | None,
    settings: Settings,
    registry_uri: str | None = None,
) -> Path:
    parsed = urlparse(model_uri)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file") or len(scheme) == 1:
        return _download_location(model_uri, dst_path, settings)
    uri = tracking_uri or get_tracking_uri()
    workspace = settings.workspace  # the client's (KILN_WORKSPACE): one tenant for every store
    if scheme == "runs":
        run_id, path = parse_runs_uri(model_uri)
        with closing(KilnClient.from_uri(uri, settings)) as client:
            return _download_run_model(client, uri, run_id, path, dst_path, settings)
    if scheme == "models":
        target = parse_model_uri(model_uri)
        if target.model_id is not None:
            location = _logged_model_location(uri, target.model_id, workspace)
            return _download_location(location, dst_path, settings, uri)
        registry = registry_uri or registry_uri_from_context() or uri  # MLflow's order
        with closing(KilnClient.from_uri(uri, settings)) as client:
            store = open_registry_store(registry, workspace=workspace)
            service = RegistryService(
                store,
                tracking=client.store,
                logged_models=logged_model_locator(uri, workspace),
                artifact_options=client.artifact_options,
            )
            try:
                version = service.get_version_for_uri(model_uri)
            finally:
                close_store(store)  # a server's registry holds connections
            location = version.download_uri
            if urlparse(location).scheme == "runs":
                run_id, path = parse_runs_uri(location)
                return _download_run_model(client, uri, run_id, path, dst_path, settings)
        return _download_location(location, dst_path, settings, uri)
    try:
        return _download_location(model_uri, dst_path, settings, uri)
    except InvalidUri as exc:
        raise InvalidUri(f"cannot load a model from {model_uri!r}: {exc.message}") from exc


def _download_run_model(
    client: KilnClient,
    tracking_uri: str,
    run_id: str,
    path: str,
    dst_path: str | Path | None,
    settings: Settings,
) -> Path:
    """A run's artifact folder; else, as in MLflow 3, the logged model of that name the run
    made. With ``dst_path`` the folder lands at ``dst_path/<last part of path>`` either way,
    as MLflow downloads it."""
    names = {info.path.rsplit("/", 1)[-1] for info in client.list_artifacts(run_id, path or None)}
    if MLMODEL_FILE not in names:
        location = _run_logged_model_location(client, tracking_uri, run_id, path)
        if location is not None and dst_path is None:
            return _download_location(location, None, settings, tracking_uri)
        if location is not None:
            target = Path(dst_path or ".") / (PurePosixPath(path).name or "model")
            local = _download_location(location, target, settings, tracking_uri)
            if local != target:  # a local location is used in place: copy it
                shutil.copytree(local, target, dirs_exist_ok=True)
            return target
    return Path(client.download_artifacts(run_id, path, _destination(dst_path)))


def _run_logged_model_location(
    client: KilnClient, tracking_uri: str, run_id: str, path: str
) -> str | None:
    name, _, rest = path.partition("/")
    model = run_logged_model(client, tracking_uri, run_id, name)
    if model is None:
        return None
    return f"{model.artifact_location.rstrip('/')}/{rest}" if rest else model.artifact_location


def run_logged_model(
    client: KilnClient, tracking_uri: str, run_id: str, name: str
) -> LoggedModel | None:
    """The newest logged model named ``name`` that run ``run_id`` produced, or None
    (how MLflow 3 reads ``runs:/<run_id>/<name>`` when the run's artifacts lack it)."""
    if not name:
        return None
    try:
        store = model_store(tracking_uri, client.store.workspace)
    except InvalidUri:  # a scheme with no logged-model store
        return None
    experiment_id = client.get_run(run_id).info.experiment_id
    # A name with a quote cannot go into the filter; compare names here instead.
    filter_string = None if "'" in name else f"name = '{name}'"
    token: str | None = None
    while True:
        page = store.search_logged_models(
            [experiment_id], filter_string=filter_string, page_token=token
        )
        for model in page.items:
            if model.source_run_id == run_id and model.name == name:
                return model
        token = page.next_page_token
        if not token:
            return None


__all__ = ["download_model", "run_logged_model"]
