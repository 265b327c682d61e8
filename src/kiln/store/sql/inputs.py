"""Dataset inputs in SQL: write (dedupe per experiment) and load for a page of runs.

Datasets are unique per ``(experiment_id, name, digest)``; an input row is the
edge ``DATASET -> RUN`` with its tags in ``input_tags`` (MLflow's tables and
names). Callers validate and deduplicate with
``kiln.store.rules.tracking.validate_dataset_inputs`` and hold the transaction.
"""

from __future__ import annotations

import functools
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


@functools.lru_cache(maxsize=64)
def _inputs_sql(dialect: str, count: int) -> str:
    mark = "?" if dialect == "sqlite" else "%s"
    marks = ", ".join([mark] * count)
    return (
        "SELECT i.destination_id, i.input_uuid, d.name, d.digest, d.dataset_source_type, "
        "d.dataset_source, d.dataset_schema, d.dataset_profile "
        "FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id "
        f"WHERE i.workspace = {mark} AND i.source_type = '{DATASET_SOURCE}' "
        f"AND i.destination_type = '{RUN_DESTINATION}' AND i.destination_id IN ({marks})"
    )


@functools.lru_cache(maxsize=64)
def _tags_sql(dialect: str, count: int) -> str:
    mark = "?" if dialect == "sqlite" else "%s"
    marks = ", ".join([mark] * count)
    return f"SELECT input_uuid, name, value FROM input_tags WHERE input_uuid IN ({marks})"


def load_inputs(conn: Connection, workspace: str, run_ids: Sequence[str]) -> dict[str, RunInputs]:
    """The dataset inputs of each run that has any (runs without inputs are absent).

    Reads through the DBAPI cursor like ``kiln.store.sql.filters.load_runs``: this
    runs for every page of every search, nearly always finding nothing.
    """
    dialect = conn.dialect.name
    found: dict[str, dict[str, tuple[Dataset, list[InputTag]]]] = defaultdict(dict)
    by_input: dict[str, list[InputTag]] = {}
    cursor = conn.connection.cursor()
    try:
        for part in chunks(list(run_ids)):
            cursor.execute(_inputs_sql(dialect, len(part)), [workspace, *part])
            for (
                run_id,
                input_uuid,
                name,
                digest,
                kind,
                source,
                schema,
                profile,
            ) in cursor.fetchall():
                tags: list[InputTag] = []
                by_input[input_uuid] = tags
                dataset = Dataset(name, digest, kind, source, schema, profile)
                found[run_id][input_uuid] = (dataset, tags)
        for part in chunks(list(by_input)):
            cursor.execute(_tags_sql(dialect, len(part)), list(part))
            for input_uuid, key, value in cursor.fetchall():
                by_input[input_uuid].append(InputTag(key, value))
    finally:
        cursor.close()
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
