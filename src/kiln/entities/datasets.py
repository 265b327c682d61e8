"""Dataset inputs of runs, as MLflow models them (``mlflow.log_input``).

A ``Dataset`` belongs to an experiment and is identified there by ``(name,
digest)``: logging the same name and digest again, from any run of the
experiment, refers to the dataset already stored. A ``DatasetInput`` is the edge
from a dataset to one run, with its own tags; the tag ``mlflow.data.context``
(``DATASET_CONTEXT_TAG``) says what the run used it for (``"training"``,
``"eval"``, ...). ``source``, ``schema`` and ``profile`` are opaque strings (JSON
in practice), stored and returned as given.
"""

from __future__ import annotations

from dataclasses import dataclass

DATASET_CONTEXT_TAG = "mlflow.data.context"


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset of an experiment.

    ``digest`` is a short content hash (at most 36 characters); ``source_type``
    names the kind of source (``"local"``, ``"http"``, ``"code"``, ...) and
    ``source`` describes it (MLflow writes a JSON object such as
    ``{"uri": "..."}``). ``schema`` is MLflow's JSON (``{"mlflow_colspec": [...]}``)
    and ``profile`` a JSON summary (``{"num_rows": N, "num_elements": M}``).
    """

    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class InputTag:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class DatasetInput:
    """One dataset used by a run, with the tags of that use."""

    dataset: Dataset
    tags: tuple[InputTag, ...] = ()

    @property
    def context(self) -> str | None:
        """The ``mlflow.data.context`` tag's value, None when absent."""
        for tag in self.tags:
            if tag.key == DATASET_CONTEXT_TAG:
                return tag.value
        return None


@dataclass(frozen=True, slots=True)
class RunInputs:
    """What a run consumed. Stores return ``dataset_inputs`` ordered by
    ``(dataset.name, dataset.digest)`` and each input's tags ordered by key."""

    dataset_inputs: tuple[DatasetInput, ...] = ()


def normalized_inputs(inputs: tuple[DatasetInput, ...] | list[DatasetInput]) -> RunInputs:
    """``RunInputs`` in the stores' order: inputs by (name, digest), tags by key."""
    ordered = sorted(inputs, key=lambda i: (i.dataset.name, i.dataset.digest))
    return RunInputs(
        tuple(DatasetInput(i.dataset, tuple(sorted(i.tags, key=lambda t: t.key))) for i in ordered)
    )


__all__ = [
    "DATASET_CONTEXT_TAG",
    "Dataset",
    "DatasetInput",
    "InputTag",
    "RunInputs",
    "normalized_inputs",
]
