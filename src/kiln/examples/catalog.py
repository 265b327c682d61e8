"""The example projects: where they are, and their ``kiln-example.yaml`` metadata.

Each example is a folder holding a runnable MLproject and a ``kiln-example.yaml``
that tells ``kiln examples run-all`` how to judge it: the main metric, the Python
modules it needs, whether it is heavy, and the reference scoring requests with
the number of predictions each must get back. The format is documented in
``examples/README.md``; ``load_example`` enforces it and names the file and the
field when something is wrong.

The examples are found, first match wins: an explicit folder (``--examples-dir``,
else ``$KILN_EXAMPLES_DIR``, which the caller reads into ``Settings.examples_dir``
at the edge), the copy packed into the wheel (``kiln/_examples``), the
``examples/`` folder of a source checkout (an editable install).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.errors import InvalidInput, NotFound

METADATA_FILE = "kiln-example.yaml"
EXAMPLES_DIR_ENV = "KILN_EXAMPLES_DIR"
PACKAGED_DIR = Path(__file__).resolve().parents[1] / "_examples"
CHECKOUT_DIR = Path(__file__).resolve().parents[3] / "examples"


@dataclass(frozen=True, slots=True)
class ReferenceRequest:
    """One scoring request an example's served model must answer.

    ``body`` is a file in the example folder, sent as is with ``content_type``;
    the answer must hold ``predictions`` finite numbers (or rows of them).
    """

    name: str
    content_type: str
    body: Path
    predictions: int

    def read_body(self) -> bytes:
        return self.body.read_bytes()


@dataclass(frozen=True, slots=True)
class MainMetric:
    """The metric ``run-all`` reports for an example (logged by its ``train.py``)."""

    name: str
    lower_is_better: bool


@dataclass(frozen=True, slots=True)
class Example:
    """An example project and its metadata."""

    name: str
    root: Path
    title: str
    flavor: str
    metric: MainMetric
    requests: tuple[ReferenceRequest, ...]
    requires: tuple[str, ...] = ()
    extra: str | None = None
    heavy: bool = False
    parameters: Mapping[str, str] = field(default_factory=dict)

    def missing_modules(self) -> tuple[str, ...]:
        """The modules in ``requires`` that this Python cannot import."""
        return tuple(m for m in self.requires if importlib.util.find_spec(m) is None)

    def requirement_hint(self) -> str:
        """How to get the missing modules, for a skip or failure message."""
        missing = ", ".join(self.missing_modules())
        if self.extra:
            return (
                f"needs the {self.extra} extra (pip install 'kiln-mlops[{self.extra}]'): {missing}"
            )
        return f"needs the Python modules {missing}"


def examples_root(explicit: Path | None = None) -> Path:
    """The folder holding the examples: ``explicit`` (the option, else
    ``Settings.examples_dir``) when given, else the shipped ones.

    Raises:
        NotFound: the explicit folder is missing, or no examples folder exists at all.
    """
    if explicit is not None:
        if not explicit.is_dir():
            raise NotFound(f"the examples folder {explicit} does not exist")
        return explicit
    for candidate in (PACKAGED_DIR, CHECKOUT_DIR):
        if any(candidate.glob(f"*/{METADATA_FILE}")):
            return candidate
    raise NotFound(
        "no examples folder found: this Kiln installation ships none; pass --examples-dir "
        f"or set {EXAMPLES_DIR_ENV} to a folder of example projects"
    )


class _Fields:
    """Typed reads of one metadata mapping, with errors naming the file and the field."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def fail(self, key: str, expected: str) -> InvalidInput:
        return InvalidInput(
            f"{self.where}: {key!r} must be {expected}, got {self.data.get(key)!r}; "
            "see examples/README.md for the format"
        )

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self.data.get(key) is None else self.text(key)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "true or false")
        return value

    def count(self, key: str) -> int:
        value = self.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(key, "a positive integer")
        return value

    def mapping(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key)
        if not isinstance(value, Mapping):
            raise self.fail(key, "a mapping")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, "a list of strings")
        return tuple(value)


def _request(item: Any, root: Path, where: str) -> ReferenceRequest:
    if not isinstance(item, Mapping):
        raise InvalidInput(f"{where}: each entry of 'requests' must be a mapping, got {item!r}")
    fields = _Fields(item, where)
    body = root / fields.text("body")
    if not body.is_file():
        raise InvalidInput(f"{where}: the request body file {body} does not exist")
    return ReferenceRequest(
        name=fields.text("name"),
        content_type=fields.text("content_type"),
        body=body,
        predictions=fields.count("predictions"),
    )


def load_example(folder: Path) -> Example:
    """Read ``folder/kiln-example.yaml``.

    Raises:
        NotFound: the folder has no metadata file or no MLproject.
        InvalidInput: the metadata is not valid YAML or breaks the format.
    """
    import yaml

    path = folder / METADATA_FILE
    if not path.is_file():
        raise NotFound(f"{folder} is not an example: it has no {METADATA_FILE}")
    if not (folder / "MLproject").is_file():
        raise NotFound(f"the example {folder} has no MLproject file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{path} must hold a mapping; see examples/README.md for the format")
    fields = _Fields(data, str(path))
    metric = _Fields(fields.mapping("metric"), f"{path} (metric)")
    requests = data.get("requests")
    if not isinstance(requests, list) or not requests:
        raise fields.fail("requests", "a non-empty list")
    parameters = data.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise fields.fail("parameters", "a mapping of MLproject parameters to values")
    return Example(
        name=folder.name,
        root=folder.resolve(),
        title=fields.text("title"),
        flavor=fields.text("flavor"),
        metric=MainMetric(metric.text("name"), metric.flag("lower_is_better", True)),
        requests=tuple(_request(item, folder, f"{path} (requests)") for item in requests),
        requires=fields.strings("requires"),
        extra=fields.optional_text("extra"),
        heavy=fields.flag("heavy", False),
        parameters={str(k): str(v) for k, v in parameters.items()},
    )


def discover(root: Path) -> list[Example]:
    """Every example under ``root`` (a subfolder with a metadata file), sorted by name."""
    return [load_example(p.parent) for p in sorted(root.glob(f"*/{METADATA_FILE}"))]


def select(examples: Iterable[Example], only: Sequence[str] | None) -> list[Example]:
    """The examples named in ``only`` (in that order), or all of them.

    Raises:
        NotFound: a name in ``only`` is not an example.
    """
    by_name = {e.name: e for e in examples}
    if not only:
        return list(by_name.values())
    unknown = [name for name in only if name not in by_name]
    if unknown:
        raise NotFound(
            f"no example named {', '.join(unknown)}; the examples are: {', '.join(sorted(by_name))}"
        )
    return [by_name[name] for name in dict.fromkeys(only)]


__all__ = [
    "CHECKOUT_DIR",
    "EXAMPLES_DIR_ENV",
    "METADATA_FILE",
    "PACKAGED_DIR",
    "Example",
    "MainMetric",
    "ReferenceRequest",
    "discover",
    "examples_root",
    "load_example",
    "select",
]
