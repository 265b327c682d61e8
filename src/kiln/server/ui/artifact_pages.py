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
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlencode

from starlette.responses import Response, StreamingResponse

from kiln.entities import Run
from kiln.errors import InvalidInput
from kiln.server.artifact_files import stream_chunks
from kiln.server.artifact_headers import artifact_headers
from kiln.server.artifact_preview import (
    Folder,
    RunFiles,
    ancestors,
    crumbs,
    human_size,
    preview,
)
from kiln.server.policy import READ
from kiln.server.ui.core import Page, UiRoute, ui_route
from kiln.store.artifacts.paths import safe_relpath


def artifact_href(run_id: str) -> Callable[..., str]:
    """``href(route, path, **query)``: a URL under ``/runs/{run_id}/`` with ``?path=``
    (the templates' ``url()`` takes its own first argument as ``path``)."""

    def href(route: str, path: str, **query: object) -> str:
        pairs = [("path", path)] if path else []
        pairs += [(key, str(value)) for key, value in query.items()]
        url = f"/runs/{quote(run_id, safe='')}/{route}"
        return f"{url}?{urlencode(pairs)}" if pairs else url

    return href


def _run_files(page: Page) -> tuple[Run, RunFiles, str]:
    run = page.stores.tracking.get_run(page.field("run_id"))
    rel = safe_relpath(page.field("path") or None)
    return run, RunFiles.of(page.stores, run.info.artifact_uri), rel


def artifacts_page(page: Page) -> Response:
    """The tree opened down to ``path``, and ``path``'s preview or listing."""
    run, files, rel = _run_files(page)
    entry = files.find(rel)
    opened: dict[str, Folder] = {folder: files.folder(folder) for folder in ancestors(rel)}
    if entry.is_dir:
        opened[rel] = files.folder(rel)
    run_id = run.info.run_id
    shown = None if entry.is_dir else preview(files, entry, run_id)
    return page.render(
        "artifacts.html",
        run=run,
        experiment=page.stores.tracking.get_experiment(run.info.experiment_id),
        entry=entry,
        opened=opened,
        crumbs=crumbs(rel),
        preview=shown,
        size=human_size,
        href=artifact_href(run_id),
    )


def tree_fragment(page: Page) -> Response:
    """One folder's children, for the tree's htmx load when it is opened."""
    run, files, rel = _run_files(page)
    if not files.find(rel).is_dir:
        raise InvalidInput(f"{rel!r} is a file, not a folder")
    return page.render(
        "_artifacts_tree.html",
        run=run,
        folder_path=rel,
        opened={rel: files.folder(rel)},
        selected="",
        size=human_size,
        href=artifact_href(run.info.run_id),
    )


def artifact_file(page: Page) -> Response:
    """The raw bytes of one file (see the module docstring for the headers)."""
    _run, files, rel = _run_files(page)
    if not rel:
        raise InvalidInput("path must name a file")
    stream = files.open(rel)
    inline = page.field("download") not in ("1", "true")
    media_type, headers = artifact_headers(rel, inline=inline)
    return StreamingResponse(stream_chunks(stream), media_type=media_type, headers=headers)


ROUTES: list[UiRoute] = [
    ui_route("/runs/{run_id}/artifacts", artifacts_page, policy=READ),
    ui_route("/runs/{run_id}/artifacts/tree", tree_fragment, policy=READ),
    ui_route("/runs/{run_id}/artifact", artifact_file, policy=READ),
]

__all__ = ["ROUTES", "artifact_file", "artifacts_page", "tree_fragment"]
