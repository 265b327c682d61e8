"""Templates, static files and the headers every UI answer carries.

Templates are Jinja2 with autoescaping on, loaded from this package (they ship in
the wheel). Pages run no inline script: data a page's script needs goes in a
``<script type="application/json">`` block or ``data-`` attributes, so the
Content-Security-Policy can say ``script-src 'self'``. Static files (the vendored
htmx and uPlot, with their licences, and Kiln's own CSS and JS) are served from
``/ui/static/`` with a version in the URL and a year's cache.
"""

from __future__ import annotations

import mimetypes
import shlex
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import Response

from kiln._version import __version__
from kiln.auth.roles import Action

STATIC_PREFIX = "/ui/static/"
STATIC_ROOT = Path(str(files("kiln.server.ui") / "static"))

# Pages: scripts and styles from this origin only, no plugins, no framing. Inline
# style attributes are allowed (uPlot and htmx set element styles).
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; frame-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class Templates:
    """The UI's Jinja2 environment; ``render`` gives every template ``static`` and
    ``url`` helpers."""

    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("kiln.server.ui", "templates"),
            autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(
            static=static_url, url=page_url, version=__version__, Action=Action, nav=()
        )
        # a value in a shell command shown to copy: one word, whatever it holds
        # (``$(...)``, quotes); in Python, a value is ``|tojson`` (a valid str literal)
        self.env.filters["shell"] = shlex.quote

    def render(self, template: str, **values: Any) -> str:
        return self.env.get_template(template).render(**values)


def static_url(path: str) -> str:
    """The URL of a static file, with the version so a new release is never cached."""
    return f"{STATIC_PREFIX}{quote(path)}?v={__version__}"


def page_url(path: str, **query: Any) -> str:
    """``path`` with the non-empty ``query`` values (lists repeat the key)."""
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        if value is None or value == "" or value == []:
            continue
        for one in value if isinstance(value, list | tuple) else [value]:
            pairs.append((key, str(one)))
    return f"{path}?{urlencode(pairs)}" if pairs else path


def security_headers(response: Response) -> None:
    """What every UI answer carries (an artifact's own CSP is kept)."""
    headers = response.headers
    headers.setdefault("content-security-policy", PAGE_CSP)
    headers.setdefault("x-content-type-options", "nosniff")
    headers.setdefault("x-frame-options", "SAMEORIGIN")
    headers.setdefault("referrer-policy", "same-origin")
    headers.setdefault("cache-control", "no-store")


async def static_file(request: Request) -> Response:
    """A file under ``static/``; 404 for anything else (no listing, no ``..``)."""
    relative = request.path_params.get("path", "")
    target = (STATIC_ROOT / relative).resolve()
    if not relative or not target.is_relative_to(STATIC_ROOT.resolve()) or not target.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript",):
        kind += "; charset=utf-8"
    return Response(
        target.read_bytes(),
        media_type=kind,
        headers={
            "cache-control": "public, max-age=31536000, immutable",
            "x-content-type-options": "nosniff",
        },
    )


__all__ = [
    "PAGE_CSP",
    "STATIC_PREFIX",
    "Templates",
    "page_url",
    "security_headers",
    "static_file",
    "static_url",
]
