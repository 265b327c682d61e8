"""The model registry storage contract.

Every registry backend (memory, SQL, mlruns folder) implements ``RegistryStore`` and passes the
contract suite in ``kiln.testing.contracts.registry``. The semantics are MLflow's
model registry (``mlflow.store.model_registry.abstract_store``):

* A store instance is bound to one workspace; names are unique per workspace and
  entities of other workspaces are invisible (``NotFound``).
* Registered model names follow ``registry_rules.validate_model_name``; creating
  a taken name raises ``AlreadyExists``, and so does renaming onto one.
* Renaming moves every version (and alias and tag) to the new name.
* Deleting a registered model deletes its versions, tags and aliases.
* Version numbers are 1, 2, 3, ... per model and never reused, even after a
  delete; new versions are ``READY`` in stage ``None``.
* Creating a version, transitioning its stage or deleting one bumps the model's
  ``last_updated_timestamp``; tag and alias writes do not (as in MLflow).
* ``aliases``: set with ``validate_settable_alias`` rules (not ``latest``, not
  ``v<digits>``); setting an existing alias moves it; deleting a version drops its
  aliases; deleting a missing alias or tag is a no-op once the model exists.
  ``get_model_version_by_alias(name, "latest")`` returns the highest version.
  A missing alias raises ``InvalidInput`` (MLflow answers INVALID_PARAMETER_VALUE).
* ``transition_model_version_stage(..., archive_existing_versions=True)`` moves
  the other versions in the target stage to ``Archived``; it is only allowed for
  ``Staging``/``Production`` (``InvalidInput`` otherwise).
* ``get_latest_versions(name, stages)``: the newest version of each requested
  stage (every stage when ``stages`` is empty), ordered by version.
* Searches take the grammar of ``registry_rules.parse_registry_filter`` and
  ``parse_registry_order_by``; default order is ``name ASC`` for models and
  ``last_updated_timestamp DESC, name ASC, version_number DESC`` for versions;
  they return a ``Page`` whose ``next_page_token`` gives the next page.
* ``get_model_version_download_uri`` returns the version's ``storage_location``
  (the source resolved when it was registered) or, without one, its ``source``.
* Every failure is a ``KilnError``: ``NotFound``, ``AlreadyExists``,
  ``InvalidInput``. Validation happens before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from kiln.entities import ModelVersion, Page, RegisteredModel
from kiln.store.query.registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
)


@runtime_checkable
class RegistryStore(Protocol):
    """Registered models and model versions of one workspace."""

    @property
    def workspace(self) -> str: ...

    # registered models -------------------------------------------------------
    def create_registered_model(
        self,
        name: str,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> RegisteredModel:
        """Raises AlreadyExists if the name is taken, InvalidInput if it is malformed."""
        ...

    def get_registered_model(self, name: str) -> RegisteredModel: ...

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[RegisteredModel]: ...

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel: ...

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel: ...

    def delete_registered_model(self, name: str) -> None: ...

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None: ...

    def delete_registered_model_tag(self, name: str, key: str) -> None: ...

    def get_latest_versions(self, name: str, stages: Sequence[str] = ()) -> list[ModelVersion]: ...

    def set_registered_model_alias(self, name: str, alias: str, version: int | str) -> None: ...

    def delete_registered_model_alias(self, name: str, alias: str) -> None: ...

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

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
        """Add the next version of ``name``. Raises NotFound if the model is missing."""
        ...

    def get_model_version(self, name: str, version: int | str) -> ModelVersion: ...

    def update_model_version(
        self, name: str, version: int | str, description: str | None
    ) -> ModelVersion: ...

    def transition_model_version_stage(
        self,
        name: str,
        version: int | str,
        stage: str,
        archive_existing_versions: bool = False,
    ) -> ModelVersion: ...

    def delete_model_version(self, name: str, version: int | str) -> None: ...

    def get_model_version_download_uri(self, name: str, version: int | str) -> str: ...

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> Page[ModelVersion]: ...

    def set_model_version_tag(
        self, name: str, version: int | str, key: str, value: str
    ) -> None: ...

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None: ...


__all__ = ["RegistryStore"]
