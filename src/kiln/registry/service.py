"""The model registry as one service object, the same embedded and behind the server.

``RegistryService`` wraps a ``RegistryStore`` and adds what MLflow's server does
around the store: resolving a version's ``source`` into the location of its files
(``runs:/<run>/<path>`` through the tracking store, ``models:/<name>/<version>``
and ``models:/<name>@<alias>`` through the registry itself, ``models:/m-<id>``
through a logged-model locator), plus ``register_model`` (create the model when
missing, then a version) and ``models:/`` URI lookups. Everything else passes
straight through to the store, whose contract (``kiln.store.protocols.registry``)
holds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import urlparse

from kiln.entities import ModelVersion, Page, RegisteredModel
from kiln.errors import AlreadyExists, InvalidInput, InvalidUri, NotFound, StoreUnavailable
from kiln.registry.uris import parse_model_uri, parse_runs_uri
from kiln.store.artifacts.options import ArtifactOptions
from kiln.store.open import open_artifact_store
from kiln.store.protocols.registry import RegistryStore
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.query.registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
)
from kiln.store.rules.registry import canonical_stage

MLMODEL = "MLmodel"
# model_id -> (artifact location, id of the run that logged it or None)
LoggedModelLocator = Callable[[str], tuple[str, str | None]]


def _join(root: str, path: str) -> str:
    return f"{root.rstrip('/')}/{path}" if path else root


def check_source_syntax(source: str) -> None:
    """Refuse a model version source that is neither a URI nor an absolute path.

    ``not-a-uri`` or ``model`` would be stored as given and fail only when served;
    MLflow's server refuses such relative local paths too.

    Raises:
        InvalidInput: unparsable, relative, or a URI that names nothing.
    """
    try:
        parsed = urlparse(source)
    except ValueError as error:
        raise InvalidInput(f"Invalid model version source {source!r}: {error}") from None
    if len(parsed.scheme) <= 1:  # no scheme (or a Windows drive letter): a local path
        if not (PurePosixPath(source).is_absolute() or PureWindowsPath(source).is_absolute()):
            raise InvalidInput(
                f"Invalid model version source {source!r}: not a URI (scheme:/path, e.g. "
                "runs:/<run_id>/model or s3://bucket/path) nor an absolute path"
            )
        return
    if not parsed.netloc and not parsed.path.strip("/"):
        raise InvalidInput(f"Invalid model version source {source!r}: the URI names nothing")


class RegistryService:
    """Registry operations for one workspace.

    Args:
        store: where registered models and versions live.
        tracking: the tracking store, to resolve ``runs:/`` sources (optional).
        logged_models: resolves MLflow 3 logged-model ids (optional).
        artifact_options: the S3 endpoint of the caller's settings, for the check that
            a registered source holds an MLmodel; None: AWS's default endpoint.
    """

    def __init__(
        self,
        store: RegistryStore,
        *,
        tracking: TrackingStore | None = None,
        logged_models: LoggedModelLocator | None = None,
        artifact_options: ArtifactOptions,
    ) -> None:
        self._store = store
        self._tracking = tracking
        self._logged_models = logged_models
        # The caller's settings (the S3 endpoint): the MLmodel check reads the source
        # where its files are, not AWS's default endpoint.
        self._artifact_options = artifact_options

    @property
    def store(self) -> RegistryStore:
        return self._store

    @property
    def workspace(self) -> str:
        return self._store.workspace

    # registered models -------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        return self._store.create_registered_model(name, tags, description)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._store.get_registered_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        return self._store.search_registered_models(
            filter_string, max_results, order_by, page_token
        )

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self._store.rename_registered_model(name, new_name)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        return self._store.update_registered_model(name, description)

    def delete_registered_model(self, name: str) -> None:
        self._store.delete_registered_model(name)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        self._store.set_registered_model_tag(name, key, value)

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._store.delete_registered_model_tag(name, key)

    def get_latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[ModelVersion]:
        return self._store.get_latest_versions(name, stages)

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        self._store.set_registered_model_alias(name, alias, version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._store.delete_registered_model_alias(name, alias)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self._store.get_model_version_by_alias(name, alias)

    # model versions ----------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        user_id: str | None = None,
    ) -> ModelVersion:
        """Register ``source`` as the next version of ``name``, resolving where its files are.

        Raises:
            NotFound: the model, or the run/version the source names, is missing.
            InvalidInput: a malformed source, or a ``run_id`` that contradicts it.
        """
        resolved = self._checked_source(source, run_id, model_id)
        return self._add_version(name, resolved, tags, run_link, description, user_id)

    def _checked_source(
        self, source: object, run_id: str | None, model_id: str | None
    ) -> tuple[str, str | None, str | None, str | None]:
        if not isinstance(source, str) or not source:
            raise InvalidInput("Missing value for required parameter 'source'.")
        check_source_syntax(source)
        return self._resolve_source(source, run_id, model_id)

    def _add_version(
        self,
        name: str,
        resolved: tuple[str, str | None, str | None, str | None],
        tags: Mapping[str, str] | None,
        run_link: str | None,
        description: str | None,
        user_id: str | None,
    ) -> ModelVersion:
        source, run_id, model_id, location = resolved
        return self._store.create_model_version(
            name,
            source,
            run_id=run_id or None,
            tags=tags,
            run_link=run_link or None,
            description=description,
            model_id=model_id or None,
            storage_location=location,
            user_id=user_id,
        )

    def register_model(
        self,
        model_uri: str,
        name: str,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        run_id: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        """``mlflow.register_model``: create ``name`` if it is missing, then add a version.

        The source is resolved first, so a bad URI leaves no empty registered model behind.
        """
        resolved = self._checked_source(model_uri, run_id, model_id)
        self._check_holds_a_model(model_uri, resolved[3])
        with contextlib.suppress(AlreadyExists):
            self._store.create_registered_model(name)
        return self._add_version(name, resolved, tags, None, description, None)

    def _check_holds_a_model(self, source: str, location: str | None) -> None:
        """Refuse a source whose files have no ``MLmodel``: serving would fail later.

        Only Kiln's own registration checks (MLflow's server registers any source).
        Checked: ``runs:/`` and ``models:/m-<id>`` (at the location Kiln resolved) and
        local paths. Registry copies (``models:/<name>/...``) were checked when first
        registered; a remote URI given as is (``s3://...``) and a location no Kiln
        artifact store opens (another server's ``mlflow-artifacts:/``) are not.
        """
        scheme = urlparse(source).scheme
        if scheme == "models" and parse_model_uri(source).model_id is None:
            return
        if scheme not in ("runs", "models", "file") and len(scheme) > 1:
            return  # a remote URI typed as is (s3://...): its store may need credentials
        target = location or source
        try:
            files = open_artifact_store(
                target, tracking_uri=self._tracking_url(), options=self._artifact_options
            )
        except InvalidUri:
            return
        try:
            names = {info.path.rsplit("/", 1)[-1] for info in files.list_artifacts(None)}
        except NotFound:
            names = set()
        except StoreUnavailable:
            return  # unreachable now (no credentials, offline): not a proof of absence
        if MLMODEL not in names:
            raise InvalidInput(
                f"{source!r} holds no model: there is no {MLMODEL} file at {target!r}. "
                "Register the artifact path a model was logged under (e.g. runs:/<run_id>/model)."
            )

    def _tracking_url(self) -> str | None:
        """The server a REST tracking store talks to: ``mlflow-artifacts:/`` resolves there."""
        url = getattr(self._tracking, "base_url", None)
        return url if isinstance(url, str) else None

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self._store.get_model_version(name, version)

    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion:
        return self._store.update_model_version(name, version, description)

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        return self._store.transition_model_version_stage(
            name, version, stage, archive_existing_versions
        )

    def delete_model_version(self, name: str, version: int | str) -> None:
        self._store.delete_model_version(name, version)

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        return self._store.get_model_version_download_uri(name, version)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        return self._store.search_model_versions(filter_string, max_results, order_by, page_token)

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        self._store.set_model_version_tag(name, version, key, value)

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        self._store.delete_model_version_tag(name, version, key)

    # models:/ URIs -----------------------------------------------------------
    def get_version_for_uri(self, model_uri: str) -> ModelVersion:
        """The version a registry ``models:/`` URI names.

        ``models:/<name>/<version>``, ``models:/<name>@<alias>``,
        ``models:/<name>/latest`` (highest version) and ``models:/<name>/<stage>``
        (newest version in that stage).

        Raises:
            InvalidInput: not a registry URI (``models:/m-<id>`` included).
            NotFound: no such model, version, or no version in the stage.
        """
        parsed = parse_model_uri(model_uri)
        if parsed.name is None:
            raise InvalidInput(f"{model_uri!r} names a logged model, not a registered version")
        if parsed.version is not None:
            return self._store.get_model_version(parsed.name, parsed.version)
        if parsed.alias is not None:
            return self._store.get_model_version_by_alias(parsed.name, parsed.alias)
        if parsed.latest:
            return self._store.get_model_version_by_alias(parsed.name, "latest")
        stage = canonical_stage(parsed.stage)
        found = self._store.get_latest_versions(parsed.name, [stage.value])
        if not found:
            raise NotFound(f"No versions of model with name '{parsed.name}' and stage '{stage}'")
        return found[0]

    def resolve_model_uri(self, model_uri: str) -> str:
        """Where the files of a registry ``models:/`` URI are (its download URI)."""
        return self.get_version_for_uri(model_uri).download_uri

    def _resolve_source(
        self, source: str, run_id: str | None, model_id: str | None
    ) -> tuple[str, str | None, str | None, str | None]:
        """-> (source, run_id, model_id, storage_location), as MLflow's server resolves them."""
        scheme = urlparse(source).scheme
        if scheme == "runs":
            source_run, path = parse_runs_uri(source)
            if run_id and run_id != source_run:
                raise InvalidInput(
                    f"Invalid model version source: '{source}'. The run_id request parameter "
                    "must identify the resource that contains the source."
                )
            location = None
            if self._tracking is not None:
                run = self._tracking.get_run(source_run)
                location = _join(run.info.artifact_uri, path)
            return source, source_run, model_id, location
        if scheme == "models":
            parsed = parse_model_uri(source)
            if parsed.model_id is not None:
                model_id = model_id or parsed.model_id
                return source, *self._locate_logged_model(model_id, run_id)
            mv = self.get_version_for_uri(source)
            if (run_id is not None and run_id != (mv.run_id or "")) or (
                model_id is not None and model_id != (mv.model_id or "")
            ):
                raise InvalidInput(
                    f"Invalid model version source: '{source}'. The run_id and model_id request "
                    "parameters must match the referenced model version."
                )
            return (
                f"models:/{mv.name}/{mv.version}",
                mv.run_id,
                mv.model_id,
                mv.download_uri,
            )
        if model_id and not run_id:
            run_id, _, _ = self._locate_logged_model(model_id, run_id)
        return source, run_id, model_id, None

    def _locate_logged_model(
        self, model_id: str, run_id: str | None
    ) -> tuple[str | None, str, str | None]:
        """-> (run_id, model_id, storage_location) of a logged model."""
        if self._logged_models is None:
            return run_id, model_id, None
        location, source_run = self._logged_models(model_id)
        return run_id or source_run, model_id, location


__all__ = ["MLMODEL", "LoggedModelLocator", "RegistryService", "check_source_syntax"]
