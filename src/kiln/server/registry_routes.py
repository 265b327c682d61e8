"""MLflow model registry endpoints over a ``RegistryService``.

``/mlflow/registered-models/*`` and ``/mlflow/model-versions/*`` under both
``/api/2.0`` and ``/ajax-api/2.0``, with the request fields, defaults and answers
of ``mlflow/server/handlers.py``. Handlers raise ``KilnError``s; the app's one
exception handler turns them into MLflow's ``{"error_code", "message"}``.

Each handler gets the request's ``Stores`` (``kiln.server.stores``) and acts on
its ``registry`` service, so the app decides how a request maps to a workspace.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from kiln.auth.roles import Action, is_protected_alias, is_protected_stage
from kiln.errors import InvalidInput, KilnError
from kiln.server.policy import DELETE, READ, WRITE, Need, Policy, Refine
from kiln.server.responses import page_json
from kiln.server.routing import ApiRoute
from kiln.server.stores import Stores
from kiln.server.tenancy import names_a_proxy_host
from kiln.store.query.registry import (
    SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT,
    SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
    SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
)
from kiln.wire.fields import JsonObject, opt_int, opt_str, req_str, str_list
from kiln.wire.registry import (
    model_version_to_json,
    registered_model_to_json,
    registry_tags_from_json,
)

RM = "/mlflow/registered-models"
MV = "/mlflow/model-versions"


def _max_results(fields: JsonObject, default: int, threshold: int) -> int:
    value = opt_int(fields, "max_results")
    if value is None:
        return default
    if value > threshold:
        raise InvalidInput(
            f"Invalid value {value} for parameter 'max_results' supplied. "
            f"It must be at most {threshold}"
        )
    return value


def _bool(fields: JsonObject, name: str) -> bool:
    value = fields.get(name)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidInput(f"field {name!r} must be a boolean, got {value!r:.60}")


def _version(fields: JsonObject) -> str:
    value = fields.get("version")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return req_str(fields, "version")


# registered models -----------------------------------------------------------
def create_registered_model(stores: Stores, f: JsonObject) -> dict[str, Any]:
    model = stores.registry.create_registered_model(
        req_str(f, "name"), registry_tags_from_json(f), opt_str(f, "description")
    )
    return {"registered_model": registered_model_to_json(model)}


def get_registered_model(stores: Stores, f: JsonObject) -> dict[str, Any]:
    return {
        "registered_model": registered_model_to_json(
            stores.registry.get_registered_model(req_str(f, "name"))
        )
    }


def rename_registered_model(stores: Stores, f: JsonObject) -> dict[str, Any]:
    model = stores.registry.rename_registered_model(req_str(f, "name"), req_str(f, "new_name"))
    return {"registered_model": registered_model_to_json(model)}


def update_registered_model(stores: Stores, f: JsonObject) -> dict[str, Any]:
    model = stores.registry.update_registered_model(req_str(f, "name"), opt_str(f, "description"))
    return {"registered_model": registered_model_to_json(model)}


def delete_registered_model(stores: Stores, f: JsonObject) -> dict[str, Any]:
    stores.registry.delete_registered_model(req_str(f, "name"))
    return {}


def search_registered_models(stores: Stores, f: JsonObject) -> dict[str, Any]:
    page = stores.registry.search_registered_models(
        opt_str(f, "filter") or None,
        _max_results(
            f,
            SEARCH_REGISTERED_MODEL_MAX_RESULTS_DEFAULT,
            SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD,
        ),
        str_list(f, "order_by"),
        opt_str(f, "page_token") or None,
    )
    return page_json(page, "registered_models", registered_model_to_json)


def get_latest_versions(stores: Stores, f: JsonObject) -> dict[str, Any]:
    versions = stores.registry.get_latest_versions(req_str(f, "name"), str_list(f, "stages"))
    return {"model_versions": [model_version_to_json(mv) for mv in versions]} if versions else {}


def set_registered_model_tag(stores: Stores, f: JsonObject) -> dict[str, Any]:
    stores.registry.set_registered_model_tag(
        req_str(f, "name"), req_str(f, "key"), opt_str(f, "value") or ""
    )
    return {}


def delete_registered_model_tag(stores: Stores, f: JsonObject) -> dict[str, Any]:
    stores.registry.delete_registered_model_tag(req_str(f, "name"), req_str(f, "key"))
    return {}


def set_alias(stores: Stores, f: JsonObject) -> dict[str, Any]:
    stores.registry.set_registered_model_alias(req_str(f, "name"), req_str(f, "alias"), _version(f))
    return {}


def delete_alias(stores: Stores, f: JsonObject) -> dict[str, Any]:
    stores.registry.delete_registered_model_alias(req_str(f, "name"), req_str(f, "alias"))
    return {}


def get_by_alias(stores: Stores, f: JsonObject) -> dict[str, Any]:
    mv = stores.registry.get_model_version_by_alias(req_str(f, "name"), req_str(f, "alias"))
    return {"model_version": model_version_to_json(mv)}


# model versions --------------------------------------------------------------
def create_model_version(stores: Stores, f: JsonObject) -> dict[str, Any]:
    source = req_str(f, "source")
    if stores.location_check is not None and names_a_proxy_host(source):  # auth on
        raise InvalidInput(
            f"Invalid model version source {source!r}: a proxied source names no host "
            "(mlflow-artifacts:/<path> on this server); clients would fetch it, with "
            "their credentials, from that host"
        )
    mv = stores.registry.create_model_version(
        req_str(f, "name"),
        source,
        run_id=opt_str(f, "run_id") or None,
        tags=registry_tags_from_json(f),
        run_link=opt_str(f, "run_link") or None,
        description=opt_str(f, "description"),
        model_id=opt_str(f, "model_id") or None,
    )
    return {"model_version": model_version_to_json(mv)}


def get_model_version(stores: Stores, f: JsonObject) -> dict[str, Any]:
    return {
        "model_version": model_version_to_json(
            stores.registry.get_model_version(req_str(f, "name"), _version(f))
        )
    }


def update_model_version(stores: Stores, f: JsonObject) -> dict[str, Any]:
    mv = stores.registry.update_model_version(
        req_str(f, "name"), _version(f), opt_str(f, "description")
    )
    return {"model_version": model_version_to_json(mv)}


def transition_stage(stores: Stores, f: JsonObject) -> dict[str, Any]:
    mv = stores.registry.transition_model_version_stage(
        req_str(f, "name"),
        _version(f),
        req_str(f, "stage"),
        _bool(f, "archive_existing_versions"),
    )
    return {"model_version": model_version_to_json(mv)}


def delete_model_version(stores: Stores, f: JsonObject) -> dict[str, Any]:
    stores.registry.delete_model_version(req_str(f, "name"), _version(f))
    return {}


def get_download_uri(stores: Stores, f: JsonObject) -> dict[str, Any]:
    return {
        "artifact_uri": stores.registry.get_model_version_download_uri(
            req_str(f, "name"), _version(f)
        )
    }


def search_model_versions(stores: Stores, f: JsonObject) -> dict[str, Any]:
    page = stores.registry.search_model_versions(
        opt_str(f, "filter") or None,
        _max_results(
            f, SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT, SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD
        ),
        str_list(f, "order_by"),
        opt_str(f, "page_token") or None,
    )
    return page_json(page, "model_versions", model_version_to_json)


def set_model_version_tag(stores: Stores, f: JsonObject) -> dict[str, Any]:
    stores.registry.set_model_version_tag(
        req_str(f, "name"), _version(f), req_str(f, "key"), opt_str(f, "value") or ""
    )
    return {}


def delete_model_version_tag(stores: Stores, f: JsonObject) -> dict[str, Any]:
    stores.registry.delete_model_version_tag(req_str(f, "name"), _version(f), req_str(f, "key"))
    return {}


# Policies: moving a protected alias (champion, production ...) or a version into
# or out of a protected stage changes what production serves: project-admins only.
# The refusal names the alias or stage, so a member learns why (a 403 says what it needs).
def _alias_action(verb: str) -> Refine:
    def refine(f: JsonObject) -> Need | None:
        alias = f.get("alias")
        if isinstance(alias, str) and is_protected_alias(alias):
            return Need(Action.MANAGE, f"{verb} the protected alias {alias.strip()!r}")
        return None

    return refine


def _stage_action(f: JsonObject) -> Need | None:
    stage = f.get("stage")
    if isinstance(stage, str) and is_protected_stage(stage):
        return Need(Action.MANAGE, f"moving a version into the {stage.strip()!r} stage")
    return None


def _current_stage_action(stores: Stores, f: JsonObject) -> Need | None:
    """MANAGE when the version is in a protected stage now (moving it out of it)."""
    try:
        current = stores.registry.get_model_version(req_str(f, "name"), _version(f)).current_stage
    except KilnError:  # the handler answers the bad input or the missing version
        return None
    if is_protected_stage(current or ""):
        return Need(Action.MANAGE, f"moving a version out of the {str(current)!r} stage")
    return None


def _serving_model_action(stores: Stores, f: JsonObject) -> Need | None:
    """MANAGE to rename a model production reads by name: one with a protected alias
    or a version in a protected stage (``models:/<name>@champion`` would find nothing,
    and a new model given the name would be someone else's)."""
    try:
        model = stores.registry.get_registered_model(req_str(f, "name"))
    except KilnError:  # the handler answers the bad input or the missing model
        return None
    protected = sorted(a for a in model.aliases if is_protected_alias(a))
    if protected:
        return Need(Action.MANAGE, f"renaming a model with the protected alias {protected[0]!r}")
    if any(is_protected_stage(v.current_stage or "") for v in model.latest_versions):
        return Need(Action.MANAGE, "renaming a model with a version in a protected stage")
    return None


ALIAS = WRITE.refined(_alias_action("moving"))
ALIAS_DELETE = WRITE.refined(_alias_action("removing"))
STAGE = Policy(Action.WRITE, refine=_stage_action, refine_stored=_current_stage_action)
RENAME = Policy(Action.WRITE, refine_stored=_serving_model_action)

# Repeated fields read as lists from a query string.
REPEATED: Collection[str] = ("order_by", "stages")
ROUTES = (
    ApiRoute(f"{RM}/create", "POST", create_registered_model, REPEATED, policy=WRITE),
    ApiRoute(f"{RM}/get", "GET", get_registered_model, REPEATED, policy=READ),
    ApiRoute(f"{RM}/rename", "POST", rename_registered_model, REPEATED, policy=RENAME),
    ApiRoute(f"{RM}/update", "PATCH", update_registered_model, REPEATED, policy=WRITE),
    ApiRoute(f"{RM}/delete", "DELETE", delete_registered_model, REPEATED, policy=DELETE),
    ApiRoute(f"{RM}/search", "GET", search_registered_models, REPEATED, policy=READ),
    ApiRoute(f"{RM}/get-latest-versions", "GET", get_latest_versions, REPEATED, policy=READ),
    ApiRoute(f"{RM}/get-latest-versions", "POST", get_latest_versions, REPEATED, policy=READ),
    ApiRoute(f"{RM}/set-tag", "POST", set_registered_model_tag, REPEATED, policy=WRITE),
    ApiRoute(f"{RM}/delete-tag", "DELETE", delete_registered_model_tag, REPEATED, policy=WRITE),
    ApiRoute(f"{RM}/alias", "POST", set_alias, REPEATED, policy=ALIAS),
    ApiRoute(f"{RM}/alias", "DELETE", delete_alias, REPEATED, policy=ALIAS_DELETE),
    ApiRoute(f"{RM}/alias", "GET", get_by_alias, REPEATED, policy=READ),
    ApiRoute(f"{MV}/create", "POST", create_model_version, REPEATED, policy=WRITE),
    ApiRoute(f"{MV}/get", "GET", get_model_version, REPEATED, policy=READ),
    ApiRoute(f"{MV}/update", "PATCH", update_model_version, REPEATED, policy=WRITE),
    ApiRoute(f"{MV}/transition-stage", "POST", transition_stage, REPEATED, policy=STAGE),
    ApiRoute(f"{MV}/delete", "DELETE", delete_model_version, REPEATED, policy=DELETE),
    ApiRoute(f"{MV}/get-download-uri", "GET", get_download_uri, REPEATED, policy=READ),
    ApiRoute(f"{MV}/search", "GET", search_model_versions, REPEATED, policy=READ),
    ApiRoute(f"{MV}/set-tag", "POST", set_model_version_tag, REPEATED, policy=WRITE),
    ApiRoute(f"{MV}/delete-tag", "DELETE", delete_model_version_tag, REPEATED, policy=WRITE),
)


__all__ = ["ROUTES"]
