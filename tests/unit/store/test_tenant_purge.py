"""kiln.store.sql.tenant_purge, table by table: after ``delete_tenant(purge=True)``
no table of the tracking, registry or logged-model schemas keeps a row of the
tenant, and another tenant's rows are all still there (SQLite and PostgreSQL).

``fill`` puts a row of the tenant into every table through the stores; a table
added to a schema later fails ``test_every_table`` until ``fill`` reaches it, so
its purge is checked too."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select

from kiln.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from kiln.entities.logged_model import LoggedModelMetric, LoggedModelOutput
from kiln.store.audit_context import acting_as
from kiln.store.sql.auth import open_sql_auth_store
from kiln.store.sql.engine import EnginePool
from kiln.store.sql.logged_models import open_sql_logged_model_store
from kiln.store.sql.registry import open_sql_registry_store
from kiln.store.sql.tenant_purge import PURGE_ORDER, owned_by
from kiln.store.sql.tracking import open_sql_store

T = 1_700_000_000_000


def fill(uri: str, tenant: str, pool: EnginePool) -> None:
    """One row of ``tenant`` in every table of the three schemas."""
    tracking = open_sql_store(uri, workspace=tenant, engines=pool)
    experiment_id = tracking.create_experiment("e", tags=[RunTag("team", tenant)])
    run_id = tracking.create_run(experiment_id, run_name="r").info.run_id
    tracking.log_batch(run_id, metrics=[Metric("loss", 0.5, T, 0)], params=[Param("lr", "0.1")])
    dataset = Dataset("d", "abc123", "local", '{"uri": "/d"}')
    tracking.log_inputs(run_id, [DatasetInput(dataset, (InputTag("mlflow.data.context", "x"),))])
    models = open_sql_logged_model_store(uri, workspace=tenant, engines=pool)
    model = models.create_logged_model(
        experiment_id, "mlflow-artifacts:/m", name="m", tags={"k": "v"}, params={"p": "1"}
    )
    models.log_logged_model_metrics(model.model_id, [LoggedModelMetric("acc", 0.9, T)])
    models.log_outputs(run_id, [LoggedModelOutput(model.model_id, 0)])
    models.log_model_inputs(run_id, [model.model_id])
    registry = open_sql_registry_store(uri, workspace=tenant, engines=pool)
    registry.create_registered_model("reg", tags={"k": "v"})
    registry.create_model_version("reg", "models:/m", run_id=run_id, tags={"k": "v"})
    registry.set_registered_model_alias("reg", "champion", 1)


def owned_counts(pool: EnginePool, uri: str, tenant: str) -> dict[str, int]:
    store = open_sql_auth_store(uri, engines=pool)
    with store.engine.connect() as conn:
        return {
            table.name: int(
                conn.execute(
                    select(func.count()).select_from(table).where(owned_by(table, tenant))
                ).scalar_one()
            )
            for table in PURGE_ORDER
        }


def check_purge_empties_every_table(uri: str) -> None:
    with EnginePool() as pool:
        auth = open_sql_auth_store(uri, engines=pool)
        for tenant in ("gone", "kept"):
            auth.create_tenant(tenant)
            fill(uri, tenant, pool)
        kept = owned_counts(pool, uri, "kept")
        gone = owned_counts(pool, uri, "gone")
        assert [name for name, count in gone.items() if count == 0] == []
        assert [name for name, count in kept.items() if count == 0] == []
        with acting_as("root"):
            auth.delete_tenant("gone", purge=True)
        assert owned_counts(pool, uri, "gone") == dict.fromkeys(gone, 0)
        assert owned_counts(pool, uri, "kept") == kept
        auth.create_tenant("gone")
        fill(uri, "gone", pool)  # every name is free again
        assert owned_counts(pool, uri, "gone") == gone


def test_every_table_on_sqlite(tmp_path: Path) -> None:
    check_purge_empties_every_table(f"sqlite:///{tmp_path / 'kiln.db'}")


@pytest.mark.postgres
@pytest.mark.integration
def test_every_table_on_postgresql(postgres_db_uri: str) -> None:
    check_purge_empties_every_table(postgres_db_uri)


def test_children_come_before_their_parents() -> None:
    position = {table.name: i for i, table in enumerate(PURGE_ORDER)}
    assert {"workspaces", "experiments", "registered_models", "logged_models"} <= set(position)
    for table in PURGE_ORDER:
        for fk in table.foreign_keys:
            assert position[table.name] < position[fk.column.table.name], table.name


def test_a_table_no_tenant_owns_is_refused() -> None:
    loose = MetaData()
    parent = Table("parent", loose, Column("id", Integer, primary_key=True))
    child = Table("orphan", loose, Column("name", String(10), primary_key=True))
    with pytest.raises(TypeError, match="'parent' has no workspace column"):
        owned_by(parent, "t")
    with pytest.raises(TypeError, match="'orphan' has no workspace column"):
        owned_by(child, "t")
