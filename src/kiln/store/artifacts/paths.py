"""The one place artifact paths are made safe.

Every artifact path a user, a REST request or a stored object key hands to an
artifact store passes through :func:`safe_relpath`; a local store then joins it
with :func:`join_under`, which also catches symlinks that point out of the root.

A safe path is a POSIX path *relative to the artifact root* that cannot name
anything outside it, on any backend (local folder, S3 key, ``runs:/`` URI):

* no ``..`` segment, before or after percent-decoding;
* not absolute (``/x``), no drive letter or URI scheme (``C:x``, ``file:x``,
  ``s3:x``), no backslash (``\\\\host\\x``, ``a\\..\\b``);
* no NUL or other control character (C0, DEL, C1);
* no segment starting with ``~`` (home-directory expansion);
* the same after Unicode NFKC folding (fullwidth ``\uff0e\uff0e`` is ``..``);
* no percent-escape of a separator, dot, percent sign, colon, tilde or control
  character (``%2e%2e/``, ``%2f``, ``%5c``, the double-encoded ``%252e``). Other
  escapes (``%20``) are allowed and kept verbatim: the stored name is the text
  given, never a decoded form. Each decoded layer is checked again, repeatedly,
  and escapes must decode to valid UTF-8 (no overlong ``%c0%ae``).

Empty segments and ``.`` segments are dropped (``a//./b/`` is ``a/b``); the
root is ``""``. A segment may hold at most 255 bytes of UTF-8 (the file-name limit
of common filesystems) and the path 1,024 (S3's key limit), so an over-long name is
a 400 rather than an ``OSError`` deep inside a store.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote

from kiln.errors import InvalidInput

# A scheme ("file:", "s3:") or a drive letter ("C:"): letters then a colon, at the start.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# Bytes that must never arrive percent-encoded: they only serve to smuggle a
# separator, a parent reference or a second round of decoding past the checks.
_FORBIDDEN_ENCODED = frozenset(b"./\\%:~")
_MAX_DECODE_ROUNDS = 8
MAX_SEGMENT_BYTES = 255
MAX_PATH_BYTES = 1024


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F


def _reject(path: str, why: str) -> InvalidInput:
    shown = repr(path) if len(path) <= 100 else f"{path[:100]!r}..."
    return InvalidInput(f"invalid artifact path {shown}: {why}")


def _check_length(original: str, relpath: str) -> None:
    size = len(relpath.encode("utf-8", "surrogatepass"))
    if size > MAX_PATH_BYTES:
        raise _reject(original, f"it is {size} bytes long; the limit is {MAX_PATH_BYTES}")
    for segment in relpath.split("/"):
        size = len(segment.encode("utf-8", "surrogatepass"))
        if size > MAX_SEGMENT_BYTES:
            raise _reject(
                original, f"a segment is {size} bytes long; the limit is {MAX_SEGMENT_BYTES}"
            )


def _check_layer(original: str, text: str) -> None:
    """Raise InvalidInput when one (possibly decoded) form of the path is unsafe."""
    if any(_is_control(ch) for ch in text):
        raise _reject(original, "it contains a NUL or control character")
    if "\\" in text:
        raise _reject(original, "backslashes are not allowed; use '/' as the separator")
    if text.startswith("/"):
        raise _reject(original, "it is absolute; artifact paths are relative to the root")
    if _SCHEME.match(text):
        raise _reject(original, "it starts with a URI scheme or drive letter")
    for segment in text.split("/"):
        if segment == "..":
            raise _reject(original, "'..' segments are not allowed")
        if segment.startswith("~"):
            raise _reject(original, "a segment may not start with '~'")
    for match in _ESCAPE.finditer(text):
        byte = int(match.group(1), 16)
        if byte in _FORBIDDEN_ENCODED or byte < 0x20 or byte == 0x7F:
            raise _reject(
                original, f"the percent-escape {match.group(0)!r} encodes a forbidden character"
            )


def safe_relpath(path: str | None) -> str:
    """Validate an artifact path and return its normalised relative POSIX form.

    Args:
        path: a path relative to the artifact root; ``None``, ``""``, ``"."``
            and ``"./"`` all mean the root itself.

    Returns:
        The path with empty and ``.`` segments removed, ``""`` for the root.
        Percent-escapes are kept as given (``a%20b`` stays ``a%20b``).

    Raises:
        InvalidInput: the path is not a string, or could name anything outside
            the root (see the module docstring for the rules); the message
            names the path and the rule it broke.
    """
    if path is None:
        return ""
    if not isinstance(path, str):
        raise InvalidInput(f"invalid artifact path {path!r}: expected a string")
    layer = path
    for _ in range(_MAX_DECODE_ROUNDS):
        _check_layer(path, layer)
        # NFKC folds look-alikes (fullwidth "\uff0e\uff0e\uff0f") into "../"; some
        # filesystems and web layers normalise, so the folded form must be safe too.
        folded = unicodedata.normalize("NFKC", layer)
        if folded != layer:
            _check_layer(path, folded)
        try:
            decoded = unquote(layer, errors="strict") if "%" in layer else layer
        except UnicodeDecodeError as exc:
            # Overlong forms like %c0%ae decode to "." in some old decoders.
            raise _reject(path, "its percent-escapes are not valid UTF-8") from exc
        if decoded == layer:
            break
        layer = decoded
    else:
        raise _reject(path, "too many rounds of percent-encoding")
    relpath = "/".join(s for s in path.split("/") if s not in ("", "."))
    _check_length(path, relpath)
    return relpath


def deletable_relpath(path: str | None) -> str:
    """:func:`safe_relpath` for a deletion, which may never name the root itself.

    ``None``, ``""``, ``"."``, ``"./"`` and ``"a/.."``-free spellings of the root
    all normalise to ``""``; deleting that would remove every experiment's files
    (or every key under an S3 prefix), so no store deletes it.

    Raises:
        InvalidInput: the path is unsafe, or names the artifact root.
    """
    rel = safe_relpath(path)
    if not rel:
        raise InvalidInput(
            f"refusing to delete the artifact root ({path!r}); name a file or folder under it"
        )
    return rel


def join_under(root: Path, rel: str) -> Path:
    """Join a relative artifact path to ``root`` and prove the result stays inside.

    Both sides are resolved, so a symlink inside ``root`` that points outside
    it is caught as well as a crafted path. ``root`` need not exist yet.

    Args:
        root: the local folder acting as the artifact root.
        rel: a path relative to it; checked again with :func:`safe_relpath`.

    Returns:
        The resolved absolute path (``root`` resolved when ``rel`` is the root).

    Raises:
        InvalidInput: ``rel`` is unsafe, or resolves to a place outside ``root``.
    """
    clean = safe_relpath(rel)
    base = root.expanduser().resolve()
    target = (base / clean).resolve() if clean else base
    if target != base and not target.is_relative_to(base):
        raise InvalidInput(
            f"invalid artifact path {rel!r}: it resolves outside the artifact root "
            f"{str(base)!r} (through a symlink)"
        )
    return target


def download_target(artifact_path: str | None, dst_path: str) -> tuple[str, Path]:
    """The checked ``artifact_path`` and where a download puts it: ``dst_path/<path>``."""
    rel = safe_relpath(artifact_path)
    return rel, join_under(Path(dst_path), rel)


def download_plan(dst: Path, names: Sequence[str], cut: int) -> list[tuple[str, Path]]:
    """Each remote name with its local file under ``dst`` (the name past ``cut`` characters).

    Every name is checked before ``dst`` is created and anything is written, so a
    hostile name in a listing cannot land anywhere.
    """
    plan = [(name, join_under(dst, name[cut:])) for name in names]
    dst.mkdir(parents=True, exist_ok=True)
    return plan


__all__ = ["deletable_relpath", "download_plan", "download_target", "join_under", "safe_relpath"]
