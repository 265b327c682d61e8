"""In-memory objects -> artifact file bytes, chosen by the artifact's file name.

Used by ``log_text``, ``log_dict`` and ``log_figure``; the formats follow MLflow so
the files read the same whichever library wrote them.
"""

from __future__ import annotations

import io
import json
import posixpath
import sys
from collections.abc import Mapping
from typing import Any

from kiln.errors import InvalidInput

FIGURE_FORMATS = frozenset({"png", "svg", "pdf", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp"})


def text_bytes(text: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidInput(f"log_text takes a str, got {type(text).__name__}")
    return text.encode("utf-8")


def dict_bytes(dictionary: Any, artifact_file: str) -> bytes:
    """YAML for ``.yaml``/``.yml`` files, indented JSON otherwise (as MLflow).

    Raises:
        InvalidInput: the object cannot be serialized.
    """
    extension = posixpath.splitext(artifact_file)[1].lower()
    try:
        if extension in (".yaml", ".yml"):
            import yaml  # pyyaml is light, but only this path needs it

            text = yaml.safe_dump(dictionary, indent=2, default_flow_style=False, sort_keys=False)
        else:
            text = json.dumps(dictionary, indent=2, default=str)
    except Exception as exc:  # TypeError, ValueError, yaml.YAMLError: all mean "not serializable"
        raise InvalidInput(f"cannot serialize the object for {artifact_file!r}: {exc}") from exc
    return text.encode("utf-8")


def figure_bytes(
    figure: Any,
    artifact_file: str,
    save_kwargs: Mapping[str, Any] | None = None,
) -> bytes:
    """Render a matplotlib figure in the format its file extension names.

    matplotlib is imported here, with the non-interactive Agg backend, so a script
    without a display (a CI job, a server) can log figures.

    Raises:
        InvalidInput: not a matplotlib figure, or an extension matplotlib cannot write.
    """
    extension = posixpath.splitext(artifact_file)[1].lower().lstrip(".")
    if extension not in FIGURE_FORMATS:
        known = ", ".join(sorted(FIGURE_FORMATS))
        raise InvalidInput(
            f"cannot tell the figure format from {artifact_file!r}: end the name with one of "
            f"{known}"
        )
    try:
        import matplotlib
    except ImportError as exc:
        raise InvalidInput("log_figure needs matplotlib: pip install matplotlib") from exc
    if "matplotlib.pyplot" not in sys.modules:  # never switch a backend the user chose
        matplotlib.use("Agg")
    from matplotlib.figure import Figure

    if not isinstance(figure, Figure):
        raise InvalidInput(f"log_figure takes a matplotlib Figure, got {type(figure).__name__}")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=extension, **dict(save_kwargs or {}))
    return buffer.getvalue()


__all__ = ["FIGURE_FORMATS", "dict_bytes", "figure_bytes", "text_bytes"]
