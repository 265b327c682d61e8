"""The artifact browser of a run, and its raw downloads.

``GET /runs/{run_id}/artifacts?path=`` (READ, as the API's ``artifacts/list``): the
tree (the root, opened down to ``path``; other folders load their children from
``GET /runs/{run_id}/artifacts/tree?path=`` when opened, an htmx fragment) and
``path``'s preview (a file) or listing (a folder). ``GET /runs/{run_id}/artifact
?path=&download=1`` (READ): the file's bytes, streamed, under the headers of
``kiln.server.artifact_headers`` (nosniff and the sandbox CSP always; inline only
text as ``text/plain``, raster images, and HTML/SVG for the preview's sandboxed
iframe; anything else, or ``download=1``, an attachment). Every ``path`` goes
through ``safe_relpath``: ``..``, absolute paths, backslashes and NUL are 400.

``&model=<model id>`` on each of them browses the files of a logged model the run
produced instead (MLflow 3 keeps a model's files under the model's own location, not
the run's); the page lists the run's logged models below its files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from starlette.responses import Response, StreamingResponse

from kiln.entities import LoggedModel, Run
from kiln.errors import InvalidInput, NotFound
from kiln.server.artifact_files import stream_chunks
from kiln.server.artifact_headers import artifact_headers
from kiln.server.artifact_preview import (
    Folder,
    RunFiles,
    ancestors,
    crumbs,
    human_size,
    preview,
    run_models,
)
from kiln.server.policy import READ
from kiln.server.ui.core import Page, UiRoute, ui_route
from kiln.server.ui.run_pages import run_header
from kiln.store.artifacts.paths import safe_relpath


def artifact_href(run_id: str, model_id: str = "") -> Callable[..., str]:
    """``href(route, path, **query)``: a URL under ``/runs/{run_id}/`` with ``?path=``
    (and ``&model=``; the templates' ``url()`` takes its first argument as ``path``)."""

    def href(route: str, path: str, **query: object) -> str:
        pairs = [("model", model_id)] if model_id else []
        pairs += [("path", path)] if path else []
        pairs += [(key, str(value)) for key, value in query.items()]
        url = f"/runs/{quote(run_id, safe='')}/{route}"
        return f"{url}?{urlencode(pairs)}" if pairs else url

    return href


@dataclass(frozen=True, slots=True)
class Where:
    """What a request browses: the run's files, or (``?model=``) the files of a
    logged model the run produced; ``rel`` is the path below that root."""

    run: Run
    files: RunFiles
    rel: str
    model: LoggedModel | None
    href: Callable[..., str]

    @property
    def root_uri(self) -> str:
        """The root as MLflow names it (for ``kiln models serve -m``)."""
        return self.model.model_uri if self.model else f"runs:/{self.run.info.run_id}"


def _where(page: Page) -> Where:
    stores = page.stores
    run = stores.tracking.get_run(page.field("run_id"))
    rel = safe_relpath(page.field("path") or None)
    model_id = page.field("model")
    if not model_id:
        files = RunFiles.of(stores, run.info.artifact_uri)
        return Where(run, files, rel, None, artifact_href(run.info.run_id))
    model = stores.logged_models.get_logged_model(model_id)
    if model.source_run_id != run.info.run_id:
        raise NotFound(f"run {run.info.run_id} logged no model {model_id!r}")
    files = RunFiles.of(stores, model.artifact_location)
    return Where(run, files, rel, model, artifact_href(run.info.run_id, model.model_id))


def artifacts_page(page: Page) -> Response:
    """The tree opened down to ``path``, and ``path``'s preview or listing."""
    where = _where(page)
    files, rel = where.files, where.rel
    entry = files.find(rel)
    opened: dict[str, Folder] = {folder: files.folder(folder) for folder in ancestors(rel)}
    if entry.is_dir:
        opened[rel] = files.folder(rel)
    run = where.run
    return page.render(
        "artifacts.html",
        **run_header(run),
        experiment=page.stores.tracking.get_experiment(run.info.experiment_id),
        model=where.model,
        models=run_models(page.stores, run),
        entry=entry,
        opened=opened,
        crumbs=crumbs(rel),
        preview=None if entry.is_dir else preview(files, entry, where.root_uri),
        size=human_size,
        href=where.href,
        run_href=artifact_href(run.info.run_id),
    )


def tree_fragment(page: Page) -> Response:
    """One folder's children, for the tree's htmx load when it is opened."""
    where = _where(page)
    if not where.files.find(where.rel).is_dir:
        raise InvalidInput(f"{where.rel!r} is a file, not a folder")
    return page.render(
        "_artifacts_tree.html",
        folder_path=where.rel,
        opened={where.rel: where.files.folder(where.rel)},
        selected="",
        size=human_size,
        href=where.href,
    )


def artifact_file(page: Page) -> Response:
    """The raw bytes of one file (see the module docstring for the headers)."""
    where = _where(page)
    if not where.rel:
        raise InvalidInput("path must name a file")
    stream = where.files.open(where.rel)
    inline = page.field("download") not in ("1", "true")
    media_type, headers = artifact_headers(where.rel, inline=inline)
    return StreamingResponse(stream_chunks(stream), media_type=media_type, headers=headers)


ROUTES: list[UiRoute] = [
    ui_route("/runs/{run_id}/artifacts", artifacts_page, policy=READ),
    ui_route("/runs/{run_id}/artifacts/tree", tree_fragment, policy=READ),
    ui_route("/runs/{run_id}/artifact", artifact_file, policy=READ),
]

__all__ = ["ROUTES", "artifact_file", "artifacts_page", "tree_fragment"]
