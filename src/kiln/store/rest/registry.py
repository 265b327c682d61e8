"""``RegistryStore`` over MLflow's REST API: a remote Kiln or MLflow server's registry.

Sends exactly what MLflow's ``RestStore`` (``mlflow/store/model_registry/rest_store.py``)
sends, and reads answers with ``kiln.wire.registry``. Error envelopes come back
as Kiln exceptions (``kiln.wire.errors``); an unreachable server is
``StoreUnavailable``. ``storage_location`` and ``user_id`` are not part of the
REST API: the server resolves the source itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from kiln.entities import ModelVersion, Page, RegisteredModel
from kiln.errors import InvalidUri
from kiln.store.credentials import CredentialSource
from kiln.store.query.registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
)
from kiln.store.rest.client import DEFAULT_TIMEOUT_S, RestClient
from kiln.wire.fields import object_list, opt_str, req_str, require_object
from kiln.wire.registry import (
    model_version_from_json,
    registered_model_from_json,
    registry_tags_to_json,
)

RM = "/registered-models"
MV = "/model-versions"


def _search_fields(
    filter_string: str | None, max_results: int, order_by: Sequence[str], page_token: str | None
) -> dict[str, Any]:
    """The query of a registry search, as MLflow's client sends it."""
    return {
        "filter": filter_string,
        "max_results": max_results,
        "order_by": list(order_by),
        "page_token": page_token,
    }


def _next_token(answer: Mapping[str, Any]) -> str | None:
    return opt_str(answer, "next_page_token") or None


class RestRegistryStore:
    """Registered models and versions kept by the server at ``base_url``."""

    def __init__(
        self,
        base_url: str,
        *,
        workspace: str,
        client: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        credentials: CredentialSource | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._workspace = workspace
        self._rest = RestClient(
            self._base_url, client, timeout, label="server", credentials=credentials
        )

    @property
    def workspace(self) -> str:
        return self._workspace

    def close(self) -> None:
        self._rest.close()

    def _call(self, method: str, endpoint: str, fields: Mapping[str, Any]) -> Mapping[str, Any]:
        """Send one request without its unset fields (a GET drops empty lists too)."""
        if method == "GET":
            sent = {k: v for k, v in fields.items() if v is not None and v != []}
        else:
            sent = {k: v for k, v in fields.items() if v is not None}
        return self._rest.call(method, endpoint, sent)

    def _read_model(self, obj: Any) -> RegisteredModel:
        model = registered_model_from_json(require_object(obj, "registered_model"))
        latest = tuple(
            dataclasses.replace(mv, workspace=self._workspace) for mv in model.latest_versions
        )
        return dataclasses.replace(model, workspace=self._workspace, latest_versions=latest)

    def _read_version(self, obj: Any) -> ModelVersion:
        mv = model_version_from_json(require_object(obj, "model_version"))
        return dataclasses.replace(mv, workspace=self._workspace)

    def _model(self, answer: Mapping[str, Any]) -> RegisteredModel:
        return self._read_model(answer.get("registered_model"))

    def _version(self, answer: Mapping[str, Any]) -> ModelVersion:
        return self._read_version(answer.get("model_version"))

    # registered models -------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        fields = {
            "name": name,
            "tags": registry_tags_to_json(dict(tags or {})),
            "description": description,
        }
        return self._model(self._call("POST", f"{RM}/create", fields))

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._model(self._call("GET", f"{RM}/get", {"name": name}))

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        fields = _search_fields(filter_string, max_results, order_by, page_token)
        answer = self._call("GET", f"{RM}/search", fields)
        items = [self._read_model(m) for m in object_list(answer, "registered_models")]
        return Page(items, _next_token(answer))

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self._model(self._call("POST", f"{RM}/rename", {"name": name, "new_name": new_name}))

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        fields = {"name": name, "description": description}
        return self._model(self._call("PATCH", f"{RM}/update", fields))

    def delete_registered_model(self, name: str) -> None:
        self._call("DELETE", f"{RM}/delete", {"name": name})

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        self._call("POST", f"{RM}/set-tag", {"name": name, "key": key, "value": value})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._call("DELETE", f"{RM}/delete-tag", {"name": name, "key": key})

    def get_latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[ModelVersion]:
        answer = self._call(
            "POST", f"{RM}/get-latest-versions", {"name": name, "stages": list(stages)}
        )
        return [self._read_version(mv) for mv in object_list(answer, "model_versions")]

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None:
        fields = {"name": name, "alias": alias, "version": str(version)}
        self._call("POST", f"{RM}/alias", fields)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self._call("DELETE", f"{RM}/alias", {"name": name, "alias": alias})

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self._version(self._call("GET", f"{RM}/alias", {"name": name, "alias": alias}))

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
        storage_location: str | None = None,
        user_id: str | None = None,
    ) -> ModelVersion:
        fields = {
            "name": name,
            "source": source,
            "run_id": run_id,
            "tags": registry_tags_to_json(dict(tags or {})),
            "run_link": run_link,
            "description": description,
            "model_id": model_id,
        }
        return self._version(self._call("POST", f"{MV}/create", fields))

    def _fields(self, name: str, version: int | str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "version": str(version), **extra}

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self._version(self._call("GET", f"{MV}/get", self._fields(name, version)))

    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion:
        fields = self._fields(name, version, description=description)
        return self._version(self._call("PATCH", f"{MV}/update", fields))

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
    ) -> ModelVersion:
        fields = self._fields(
            name, version, stage=stage, archive_existing_versions=archive_existing_versions
        )
        return self._version(self._call("POST", f"{MV}/transition-stage", fields))

    def delete_model_version(self, name: str, version: int | str) -> None:
        self._call("DELETE", f"{MV}/delete", self._fields(name, version))

    def get_model_version_download_uri(self, name: str, version: int | str) -> str:
        answer = self._call("GET", f"{MV}/get-download-uri", self._fields(name, version))
        return req_str(answer, "artifact_uri")

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        fields = _search_fields(filter_string, max_results, order_by, page_token)
        answer = self._call("GET", f"{MV}/search", fields)
        items = [self._read_version(mv) for mv in object_list(answer, "model_versions")]
        return Page(items, _next_token(answer))

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        self._call("POST", f"{MV}/set-tag", self._fields(name, version, key=key, value=value))

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        self._call("DELETE", f"{MV}/delete-tag", self._fields(name, version, key=key))


def open_rest_registry_store(uri: str, *, workspace: str) -> RestRegistryStore:
    """The registry of the server at an ``http(s)://`` URI; nothing is sent until first use."""
    parsed = httpx.URL(uri)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidUri(f"invalid server URI {uri!r}: expected http(s)://host[:port]")
    return RestRegistryStore(uri, workspace=workspace)


__all__ = ["RestRegistryStore", "open_rest_registry_store"]
