"""Dataset inputs in SQL: write (dedupe per experiment) and load for a page of runs.

Datasets are unique per ``(experiment_id, name, digest)``; an input row is the
edge ``DATASET -> RUN`` with its tags in ``input_tags`` (MLflow's tables and
names). Callers validate and deduplicate with
``kiln.store.validation.validate_dataset_inputs`` and hold the transaction.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, insert, select, tuple_
from sqlalchemy.engine import Connection

from kiln.entities import (
    DATASET_CONTEXT_TAG,
    Dataset,
    DatasetInput,
    InputTag,
    RunInputs,
    normalized_inputs,
)
from kiln.store.sql.rows import chunks
from kiln.store.sql.schema import datasets, input_tags, inputs, runs

DATASET_SOURCE = "DATASET"
RUN_DESTINATION = "RUN"


def link_inputs(
    conn: Connection,
    workspace: str,
    experiment_key: int,
    run_id: str,
    items: Sequence[DatasetInput],
) -> None:
    """Store missing datasets of the experiment and link them (with tags) to the run.

    ``items`` are validated and have distinct ``(name, digest)``. A dataset already
    stored in the experiment keeps its stored fields; an input already linked to
    the run keeps its tags.
    """
    if not items:
        return
    wanted = [(item.dataset.name, item.dataset.digest) for item in items]
    uuids: dict[tuple[str, str], str] = {}
    for start in range(0, len(wanted), 400):
        part = wanted[start : start + 400]
        rows = conn.execute(
            select(datasets.c.name, datasets.c.digest, datasets.c.dataset_uuid).where(
                datasets.c.experiment_id == experiment_key,
                tuple_(datasets.c.name, datasets.c.digest).in_(part),
            )
        )
        uuids.update({(row.name, row.digest): row.dataset_uuid for row in rows})
    new_datasets = []
    for item in items:
        key = (item.dataset.name, item.dataset.digest)
        if key in uuids:
            continue
        uuids[key] = uuid.uuid4().hex
        dataset = item.dataset
        new_datasets.append(
            {
                "dataset_uuid": uuids[key],
                "workspace": workspace,
                "experiment_id": experiment_key,
                "name": dataset.name,
                "digest": dataset.digest,
                "dataset_source_type": dataset.source_type,
                "dataset_source": dataset.source,
                "dataset_schema": dataset.schema,
                "dataset_profile": dataset.profile,
            }
        )
    if new_datasets:
        conn.execute(insert(datasets), new_datasets)
    linked = set(
        conn.execute(
            select(inputs.c.source_id).where(
                inputs.c.destination_type == RUN_DESTINATION,
                inputs.c.destination_id == run_id,
                inputs.c.source_type == DATASET_SOURCE,
            )
        ).scalars()
    )
    new_inputs: list[dict[str, Any]] = []
    new_tags: list[dict[str, Any]] = []
    for item in items:
        dataset_uuid = uuids[(item.dataset.name, item.dataset.digest)]
        if dataset_uuid in linked:
            continue
        input_uuid = uuid.uuid4().hex
        new_inputs.append(
            {
                "input_uuid": input_uuid,
                "workspace": workspace,
                "source_type": DATASET_SOURCE,
                "source_id": dataset_uuid,
                "destination_type": RUN_DESTINATION,
                "destination_id": run_id,
            }
        )
        new_tags.extend(
            {"workspace": workspace, "input_uuid": input_uuid, "name": t.key, "value": t.value}
            for t in item.tags
        )
    if new_inputs:
        conn.execute(insert(inputs), new_inputs)
    if new_tags:
        conn.execute(insert(input_tags), new_tags)


def load_inputs(conn: Connection, workspace: str, run_ids: Sequence[str]) -> dict[str, RunInputs]:
    """The dataset inputs of each run that has any (runs without inputs are absent)."""
    found: dict[str, dict[str, tuple[Dataset, list[InputTag]]]] = defaultdict(dict)
    by_input: dict[str, list[InputTag]] = {}
    for part in chunks(list(run_ids)):
        rows = conn.execute(
            select(
                inputs.c.destination_id,
                inputs.c.input_uuid,
                datasets.c.name,
                datasets.c.digest,
                datasets.c.dataset_source_type,
                datasets.c.dataset_source,
                datasets.c.dataset_schema,
                datasets.c.dataset_profile,
            )
            .select_from(inputs.join(datasets, datasets.c.dataset_uuid == inputs.c.source_id))
            .where(
                inputs.c.workspace == workspace,
                inputs.c.destination_type == RUN_DESTINATION,
                inputs.c.source_type == DATASET_SOURCE,
                inputs.c.destination_id.in_(part),
            )
        ).all()
        for row in rows:
            dataset = Dataset(
                name=row.name,
                digest=row.digest,
                source_type=row.dataset_source_type,
                source=row.dataset_source,
                schema=row.dataset_schema,
                profile=row.dataset_profile,
            )
            tags: list[InputTag] = []
            by_input[row.input_uuid] = tags
            found[row.destination_id][row.input_uuid] = (dataset, tags)
    for part in chunks(list(by_input)):
        for tag_row in conn.execute(
            select(input_tags.c.input_uuid, input_tags.c.name, input_tags.c.value).where(
                input_tags.c.input_uuid.in_(part)
            )
        ):
            by_input[tag_row.input_uuid].append(InputTag(tag_row.name, tag_row.value))
    return {
        run_id: normalized_inputs([DatasetInput(d, tuple(t)) for d, t in edges.values()])
        for run_id, edges in found.items()
    }


def dataset_condition(key: str, condition: Any) -> ColumnElement[bool]:
    """EXISTS clause: some dataset input of the outer ``runs`` row satisfies ``condition``.

    ``condition`` is a function of the compared column (``datasets.name``,
    ``datasets.digest`` or the context tag's ``input_tags.value``).
    """
    edge = and_(
        inputs.c.destination_id == runs.c.run_uuid,
        inputs.c.destination_type == RUN_DESTINATION,
        inputs.c.source_type == DATASET_SOURCE,
    )
    if key == "context":
        return exists().where(
            edge,
            input_tags.c.input_uuid == inputs.c.input_uuid,
            input_tags.c.name == DATASET_CONTEXT_TAG,
            condition(input_tags.c.value),
        )
    column = {"name": datasets.c.name, "digest": datasets.c.digest}[key]
    return exists().where(edge, datasets.c.dataset_uuid == inputs.c.source_id, condition(column))


__all__ = ["dataset_condition", "link_inputs", "load_inputs"]
