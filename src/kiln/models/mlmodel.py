"""The ``MLmodel`` file: a model folder's metadata, read and written as MLflow does.

``ModelMetadata`` is the parsed file. ``to_dict`` produces the keys MLflow 3
writes (``artifact_path`` and ``run_id`` only when set, ``signature`` parts as
JSON strings, ``saved_input_example_info``, ``model_uuid``, ``model_size_bytes``,
``utc_time_created`` as ``'YYYY-MM-DD HH:MM:SS.ffffff'``), dumped with
``yaml.safe_dump(default_flow_style=False)`` so keys come out sorted like
MLflow's. Kiln records its own version under ``kiln_version`` and leaves
``mlflow_version`` out (MLflow treats it as optional). Keys Kiln does not know
are kept in ``extra`` and written back unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from kiln._version import __version__
from kiln.errors import InvalidInput, NotFound
from kiln.models.signature import ModelSignature

MLMODEL_FILE = "MLmodel"
PYFUNC_FLAVOR = "python_function"

_KNOWN = frozenset(
    {
        "artifact_path",
        "flavors",
        "run_id",
        "utc_time_created",
        "signature",
        "saved_input_example_info",
        "model_uuid",
        "mlflow_version",
        "kiln_version",
        "model_size_bytes",
        "model_id",
        "metadata",
        "is_signature_from_type_hint",  # written with the signature
        "type_hint_from_example",
    }
)


def utc_time_created(moment: datetime | None = None) -> str:
    """MLflow's ``str(naive utc datetime)`` form."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    return str(moment)


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    """A parsed ``MLmodel`` file.

    Attributes:
        flavors: flavor name -> its configuration (``python_function`` among them
            when the model can be loaded generically).
        signature: inputs/outputs/params, when the model was saved with one.
        saved_input_example_info: where the input example lives and its format.
    """

    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    artifact_path: str | None = None
    run_id: str | None = None
    utc_time_created: str = field(default_factory=utc_time_created)
    model_uuid: str | None = field(default_factory=lambda: uuid.uuid4().hex)
    signature: ModelSignature | None = None
    saved_input_example_info: dict[str, Any] | None = None
    model_size_bytes: int | None = None
    model_id: str | None = None
    mlflow_version: str | None = None
    kiln_version: str | None = __version__
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pyfunc_conf(self) -> dict[str, Any] | None:
        """The ``python_function`` flavor, or None when the model has none."""
        return self.flavors.get(PYFUNC_FLAVOR)

    def add_flavor(self, name: str, **conf: Any) -> ModelMetadata:
        """A copy with flavor ``name`` set to ``conf``."""
        return replace(self, flavors={**self.flavors, name: dict(conf)})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        out["flavors"] = self.flavors
        out["utc_time_created"] = self.utc_time_created
        out["model_uuid"] = self.model_uuid
        out["model_id"] = self.model_id
        if self.artifact_path is not None:
            out["artifact_path"] = self.artifact_path
        if self.run_id is not None:
            out["run_id"] = self.run_id
        if self.signature is not None:
            out["signature"] = self.signature.to_dict()
            out.setdefault("is_signature_from_type_hint", False)
            out.setdefault("type_hint_from_example", False)
        if self.saved_input_example_info is not None:
            out["saved_input_example_info"] = self.saved_input_example_info
        if self.model_size_bytes is not None:
            out["model_size_bytes"] = self.model_size_bytes
        if self.mlflow_version is not None:
            out["mlflow_version"] = self.mlflow_version
        if self.kiln_version is not None:
            out["kiln_version"] = self.kiln_version
        if self.metadata is not None:
            out["metadata"] = self.metadata
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), default_flow_style=False)

    def save(self, folder: str | Path) -> None:
        """Write ``MLmodel`` into ``folder``."""
        (Path(folder) / MLMODEL_FILE).write_text(self.to_yaml(), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelMetadata:
        """Parse the mapping read from an ``MLmodel`` file.

        Raises:
            InvalidInput: ``flavors`` missing or not a mapping.
        """
        flavors = data.get("flavors")
        if not isinstance(flavors, Mapping):
            raise InvalidInput("MLmodel has no 'flavors' mapping")
        signature = data.get("signature")
        created = data.get("utc_time_created")
        size = data.get("model_size_bytes")
        return cls(
            flavors={str(k): dict(v or {}) for k, v in flavors.items()},
            artifact_path=data.get("artifact_path"),
            run_id=data.get("run_id"),
            utc_time_created=str(created) if created is not None else utc_time_created(),
            model_uuid=data.get("model_uuid"),
            signature=ModelSignature.from_dict(signature) if signature else None,
            saved_input_example_info=data.get("saved_input_example_info"),
            model_size_bytes=int(size) if size is not None else None,
            model_id=data.get("model_id"),
            mlflow_version=data.get("mlflow_version"),
            kiln_version=data.get("kiln_version"),
            metadata=data.get("metadata"),
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )

    @classmethod
    def load(cls, path: str | Path) -> ModelMetadata:
        """Read ``MLmodel`` from a model folder (or the file itself).

        Raises:
            NotFound: no ``MLmodel`` file there.
            InvalidInput: the file is not valid YAML or has no flavors.
        """
        target = Path(path)
        if target.is_dir():
            target = target / MLMODEL_FILE
        if not target.is_file():
            raise NotFound(f"no {MLMODEL_FILE} file at {path}")
        try:
            data = yaml.safe_load(target.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{target} is not valid YAML: {exc}") from exc
        if not isinstance(data, Mapping):
            raise InvalidInput(f"{target} is not a YAML mapping")
        return cls.from_dict(data)


def folder_size(folder: str | Path) -> int:
    """Total bytes of the files under ``folder`` (MLflow's ``model_size_bytes``)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What ``log_model`` returns: where the model went and its metadata.

    As in MLflow 3, ``artifact_path`` is the logged model's artifact location and
    ``model_uri`` is ``models:/<model_id>``; ``name``, ``params`` and ``tags`` are the
    logged model's. (``model_id`` is None only for a model logged to a run's
    artifacts, MLflow 2's layout.)
    """

    artifact_path: str
    model_uri: str
    run_id: str | None
    metadata: ModelMetadata
    registered_model_version: int | None = None
    model_id: str | None = None
    name: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    creation_timestamp: int | None = None
    metrics: list[Any] | None = None

    @property
    def flavors(self) -> dict[str, dict[str, Any]]:
        return self.metadata.flavors

    @property
    def signature(self) -> ModelSignature | None:
        return self.metadata.signature

    @property
    def model_uuid(self) -> str | None:
        return self.metadata.model_uuid

    @property
    def utc_time_created(self) -> str:
        return self.metadata.utc_time_created

    @property
    def saved_input_example_info(self) -> dict[str, Any] | None:
        return self.metadata.saved_input_example_info


__all__ = [
    "MLMODEL_FILE",
    "PYFUNC_FLAVOR",
    "ModelInfo",
    "ModelMetadata",
    "folder_size",
    "utc_time_created",
]
