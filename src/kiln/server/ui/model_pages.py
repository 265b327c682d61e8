"""The model registry's pages: ``/models``, a model, a version, a model's history.

Reads go through the tenant's ``RegistryService`` (``page.stores.registry``) under
the API's READ policy. Setting and removing an alias are form posts under the very
policies of the API's alias routes (``registry_routes.ALIAS`` / ``ALIAS_DELETE``):
any member may point ``staging`` at a version, moving a protected alias
(``champion``, ``production``, ``prod``) needs project-admin, and the refusal says
so. The forms post with htmx where scripts run, so a refusal shows inline
(``static/js/models.js``), and as plain forms (a 303, or the error page) where not.

The History tab reads the audit log's lines of this model and its versions
(``kiln.registry.history``) under READ: whoever may read the model may see who
moved its aliases (the tenant-wide log stays MANAGE, ``audit_routes``). A version
page reads the model's ``MLmodel`` and input example (``kiln.models.summary``) from
the version's files, only where the tenant may read them (``location_check``).
"""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.responses import Response

from kiln.auth.roles import PROTECTED_ALIASES, is_protected_alias
from kiln.entities.auth import DEFAULT_TENANT
from kiln.errors import InvalidInput, KilnError, NotFound
from kiln.registry.history import describe, model_history
from kiln.server.artifact_files import join, location_root
from kiln.server.policy import READ
from kiln.server.registry_routes import ALIAS, ALIAS_DELETE
from kiln.server.stores import Stores
from kiln.server.ui.core import Page, UiRoute, ui_route

if TYPE_CHECKING:
    from kiln.entities import ModelVersion, RegisteredModel
    from kiln.models.summary import ModelSummary, Reader

PAGE_SIZE = 25
HISTORY_SIZE = 50
MAX_FILE_BYTES = 1024 * 1024  # an MLmodel or input example larger than this is not shown
SERVE_PORT = 5001
# words that make the search box's text an MLflow filter rather than a part of a name
_FILTER_WORDS = ("=", "<", ">", " like ", " ilike ", " and ")


def model_url(name: str, *rest: str) -> str:
    """``/models/<name>[/rest...]`` with the name quoted as one path segment."""
    return "/".join(["/models", quote(name, safe=""), *rest])


def when(millis: int | None) -> str:
    """A timestamp (ms since the epoch) as UTC ``YYYY-MM-DD HH:MM:SS``."""
    if not millis:
        return ""
    return datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def name_filter(text: str) -> str | None:
    """The search box: an MLflow filter as typed, or a part of a name (``churn``
    finds ``name ILIKE '%churn%'``)."""
    text = text.strip()
    if not text:
        return None
    padded = f" {text.lower()} "
    if any(word in padded for word in _FILTER_WORDS):
        return text
    return "name ILIKE '%" + text.replace("'", "''") + "%'"


def _render(page: Page, template: str, status: int = 200, **values: Any) -> Response:
    return page.render(
        template,
        status,
        model_url=model_url,
        when=when,
        protected=is_protected_alias,
        protected_names=sorted(PROTECTED_ALIASES),
        shell=shlex.quote,
        **values,
    )


# GET /models ------------------------------------------------------------------
def models_list(page: Page) -> Response:
    query = page.field("q")
    token = page.field("page_token") or None
    error = None
    try:
        found = page.stores.registry.search_registered_models(
            name_filter(query), PAGE_SIZE, ["name ASC"], token
        )
        models, next_token = found.items, found.next_page_token
    except InvalidInput as exc:  # a filter the grammar refuses, or a stale token
        models, next_token, error = [], None, str(exc)
    rows = [
        {
            "model": m,
            "latest": max((v.version for v in m.latest_versions), default=None),
            "aliases": sorted(m.aliases.items()),
        }
        for m in models
    ]
    return _render(
        page,
        "models.html",
        400 if error else 200,
        rows=rows,
        q=query,
        error=error,
        next_token=next_token,
        first=token is None,
    )


# GET /models/{name} and /models/{name}/history --------------------------------
def _version_filter(name: str) -> str:
    return "name = '" + name.replace("'", "''") + "'"


def model_page(page: Page) -> Response:
    registry = page.stores.registry
    model = registry.get_registered_model(page.field("name"))
    token = page.field("page_token") or None
    versions = registry.search_model_versions(
        _version_filter(model.name), PAGE_SIZE, ["version_number DESC"], token
    )
    return _render(
        page,
        "models_model.html",
        tab="versions",
        versions=versions.items,
        next_token=versions.next_page_token,
        first=token is None,
        **_model_values(model),
    )


def _model_values(model: RegisteredModel) -> dict[str, Any]:
    """What both tabs show above the tabs: the model, its aliases, the alias form."""
    return {
        "model": model,
        "aliases": sorted(model.aliases.items()),
        "newest": max((v.version for v in model.latest_versions), default=""),
    }


def history_page(page: Page) -> Response:
    model = page.stores.registry.get_registered_model(page.field("name"))
    token = page.field("page_token") or None
    audit = page.ctx.audit
    events: list[Any] = []
    next_token = None
    if audit is not None:
        found = model_history(
            audit,
            page.stores.registry.workspace,
            model.name,
            max_results=HISTORY_SIZE,
            page_token=token,
        )
        events = [(e, describe(e)) for e in found.items]
        next_token = found.next_page_token
    return _render(
        page,
        "models_model.html",
        tab="history",
        events=events,
        has_audit=audit is not None,
        next_token=next_token,
        first=token is None,
        **_model_values(model),
    )


# POST /models/{name}/aliases and /aliases/delete ------------------------------
def _one(page: Page, name: str) -> str:
    """A single form field (a repeated one would slip past the policy's look at it)."""
    value = page.fields.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"give one {name}")
    return value.strip()


def set_alias(page: Page) -> Response:
    name = page.field("name")
    page.stores.registry.set_registered_model_alias(
        name, _one(page, "alias"), _one(page, "version")
    )
    return page.redirect(model_url(name))


def delete_alias(page: Page) -> Response:
    name = page.field("name")
    page.stores.registry.delete_registered_model_alias(name, _one(page, "alias"))
    return page.redirect(model_url(name))


# GET /models/{name}/versions/{version} ----------------------------------------
def version_page(page: Page) -> Response:
    stores = page.stores
    mv = stores.registry.get_model_version(page.field("name"), page.field("version"))
    run, experiment = _run_of(stores, mv.run_id)
    summary = _summary(stores, mv)
    uri = f"models:/{mv.name}/{mv.version}"
    return _render(
        page,
        "models_version.html",
        mv=mv,
        run=run,
        experiment=experiment,
        summary=summary,
        serve=_serve_command(page, uri),
        curl=_curl_command(summary.request),
    )


def _run_of(stores: Stores, run_id: str | None) -> tuple[Any, Any]:
    """(the source run, its experiment); None for what is gone or was never there."""
    if not run_id:
        return None, None
    try:
        run = stores.tracking.get_run(run_id)
    except KilnError:
        return None, None
    try:
        experiment = stores.tracking.get_experiment(run.info.experiment_id)
    except KilnError:
        experiment = None
    return run, experiment


def _summary(stores: Stores, mv: ModelVersion) -> ModelSummary:
    from kiln.models.summary import ModelSummary, summarize  # numpy and pandas: on first use

    try:
        read = _reader(stores, mv)
    except KilnError as exc:  # our own words: ids and the registered location only
        return ModelSummary(request=summarize(_nothing).request, problem=str(exc))
    except (OSError, ValueError):  # no store opens it; its words may name server paths
        problem = f"no artifact store here opens {mv.source!r}"
        return ModelSummary(request=summarize(_nothing).request, problem=problem)
    return summarize(read)


def _nothing(path: str) -> bytes:
    raise InvalidInput(f"{path} is not read")


def _reader(stores: Stores, mv: ModelVersion) -> Reader:
    """Reads the version's files, where this tenant may read them.

    Raises:
        KilnError: a location outside the tenant's artifact root, or none to read.
    """
    location = mv.download_uri
    if location.startswith("runs:/"):
        run_id, _, path = location[len("runs:/") :].partition("/")
        location = join(stores.tracking.get_run(run_id).info.artifact_uri, path)
    elif location.startswith("models:/"):
        location = stores.registry.resolve_model_uri(location)
    if stores.location_check is not None:  # auth on: only this tenant's files
        try:
            stores.location_check(location)
        except KilnError:  # its message names the workspace's root, a server path
            raise InvalidInput(f"{mv.source!r} is outside this workspace's artifact root") from None
    files, base = location_root(location, stores.destination, stores.artifact_options)

    def read(path: str) -> bytes:
        # the stores' messages name the server's artifact root: say where the user put it
        try:
            with files.open_read(join(base, path)) as stream:
                data = stream.read(MAX_FILE_BYTES + 1)
        except NotFound:
            raise NotFound(f"no file {path!r} in {mv.source!r}") from None
        except (KilnError, OSError) as exc:
            raise InvalidInput(
                f"{path!r} in {mv.source!r} could not be read ({type(exc).__name__})"
            ) from None
        if len(data) > MAX_FILE_BYTES:
            raise InvalidInput(f"{path} is larger than {MAX_FILE_BYTES // 1024} KiB")
        return bytes(data)

    return read


def _serve_command(page: Page, uri: str) -> str:
    """``kiln models serve`` of ``uri`` against this server (and, with auth on, in
    the signed-in user's workspace, with a token of theirs)."""
    server = str(page.request.base_url).rstrip("/")
    lines = [f"export MLFLOW_TRACKING_URI={shlex.quote(server)}"]
    if page.ctx.auth is not None:
        lines.append("export MLFLOW_TRACKING_TOKEN=<a kiln_pat_ token of yours>")
        if page.principal.tenant != DEFAULT_TENANT:
            lines.append(f"export MLFLOW_WORKSPACE={shlex.quote(page.principal.tenant)}")
    lines.append(f"kiln models serve -m {shlex.quote(uri)} --port {SERVE_PORT}")
    return "\n".join(lines)


def _curl_command(body: str) -> str:
    return (
        f"curl -X POST http://127.0.0.1:{SERVE_PORT}/invocations \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d {shlex.quote(body)}"
    )


ROUTES: list[UiRoute] = [
    ui_route("/models", models_list, policy=READ, name="ui-models"),
    ui_route("/models/{name}", model_page, policy=READ, name="ui-model"),
    ui_route("/models/{name}/history", history_page, policy=READ, name="ui-model-history"),
    ui_route(
        "/models/{name}/versions/{version}", version_page, policy=READ, name="ui-model-version"
    ),
    ui_route(
        "/models/{name}/aliases", set_alias, policy=ALIAS, methods=("POST",), name="ui-alias-set"
    ),
    ui_route(
        "/models/{name}/aliases/delete",
        delete_alias,
        policy=ALIAS_DELETE,
        methods=("POST",),
        name="ui-alias-delete",
    ),
]

__all__ = ["ROUTES", "model_url", "name_filter", "when"]
