"""The headers of every artifact download served from Kiln's own origin.

Artifacts are user content: an uploaded ``report.html`` or ``chart.svg`` opened
from the server's origin would run its script next to the UI's cookies. So every
answer that carries an artifact's bytes (the API's proxy and logged-model
downloads, the UI's raw view) says ``X-Content-Type-Options: nosniff`` (the
browser never guesses HTML out of a ``text/plain`` file) and
``Content-Security-Policy: SANDBOX_CSP`` (no script, an opaque origin, even when
opened at the top level), and is either an attachment (the API always, as
``mlflow server`` does) or shown inline only when ``inline_type`` says its type is
harmless under that policy (text as ``text/plain``, raster images) or meant for a
sandboxed iframe (HTML, SVG). The bytes are never changed.
"""

from __future__ import annotations

import mimetypes
import posixpath
import unicodedata
from urllib.parse import quote

# Artifact bytes, opened inline or at the top level: no script, an opaque origin.
SANDBOX_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
# Shown inline as text/plain; charset=utf-8 (never as what the extension claims).
TEXT_EXTENSIONS = frozenset(
    {
        "txt", "log", "md", "rst", "py", "ipynb", "yaml", "yml", "json", "jsonl", "toml",
        "ini", "cfg", "conf", "sh", "r", "sql", "csv", "tsv", "xml", "properties", "js",
        "ts", "java", "scala", "go", "rs", "c", "h", "cpp", "css", "tex", "out", "err",
    }
)  # fmt: skip
TEXT_NAMES = frozenset({"MLmodel", "MLproject", "LICENSE", "Dockerfile", "Makefile", "README"})
IMAGE_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
}
SANDBOXED_TYPES = {"html": "text/html", "htm": "text/html", "svg": "image/svg+xml"}
TEXT_PLAIN = "text/plain; charset=utf-8"


def extension(path: str) -> str:
    """The lower-case extension of ``path``'s file name, without the dot ('' if none)."""
    name = posixpath.basename(path)
    return name.rsplit(".", 1)[-1].lower() if "." in name.lstrip(".") else ""


def media_type(path: str) -> str:
    """What a download of ``path`` is labelled (the extension's type, else binary)."""
    return mimetypes.guess_type(posixpath.basename(path))[0] or "application/octet-stream"


def inline_type(path: str) -> str | None:
    """The type ``path`` may be shown inline with (under ``SANDBOX_CSP``); None: attachment."""
    ext = extension(path)
    if ext in TEXT_EXTENSIONS or posixpath.basename(path) in TEXT_NAMES:
        return TEXT_PLAIN
    return IMAGE_TYPES.get(ext) or SANDBOXED_TYPES.get(ext)


def content_disposition(path: str, *, inline: bool = False) -> str:
    """RFC 6266 ``attachment`` (or ``inline``) with the file's name: an ASCII
    ``filename`` and, for any other name, RFC 5987's ``filename*``."""
    name = posixpath.basename(path) or "artifact"
    kind = "inline" if inline else "attachment"
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = "".join(c for c in fallback if c.isprintable() and c not in '"\\') or "download"
    value = f'{kind}; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def artifact_headers(path: str, *, inline: bool = False) -> tuple[str, dict[str, str]]:
    """-> (the content type, the headers) of an answer carrying ``path``'s bytes.

    ``inline``: show it in the browser when ``inline_type`` allows, else attachment.
    """
    shown = inline_type(path) if inline else None
    headers = {
        "content-disposition": content_disposition(path, inline=shown is not None),
        "x-content-type-options": "nosniff",
        "content-security-policy": SANDBOX_CSP,
    }
    return shown or media_type(path), headers


__all__ = [
    "IMAGE_TYPES",
    "SANDBOX_CSP",
    "SANDBOXED_TYPES",
    "TEXT_EXTENSIONS",
    "artifact_headers",
    "content_disposition",
    "extension",
    "inline_type",
    "media_type",
]
