"""The stores record their auditable changes: one event each, in the change's transaction.

On memory and SQLite (and a PostgreSQL case): each auditable operation writes exactly
one event with the right tenant, actor, resource and before/after; a failed operation
writes none; the logging hot path (metrics, params, tags, batches) writes none.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from kiln.entities import Metric, Param, RunTag
from kiln.entities.auth import AuditEvent
from kiln.errors import AlreadyExists, InvalidInput, KilnError, NotFound
from kiln.store.audit_context import acting_as
from kiln.store.memory.audit import MemoryAuditLog
from kiln.store.memory.logged_models import LoggedModelMemoryState, MemoryLoggedModelStore
from kiln.store.memory.registry import MemoryRegistryStore, RegistryMemoryState
from kiln.store.memory.state import MemoryTrackingState
from kiln.store.memory.tracking import MemoryTrackingStore
from kiln.store.open import (
    open_audit_log,
    open_logged_model_store,
    open_registry_store,
    open_tracking_store,
)
from kiln.store.protocols.audit import AuditLog
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.store.protocols.registry import RegistryStore
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.sql.audit import append_event
from kiln.store.sql.engine import (
    dispose_engine,
    engine_for,
    normalize_uri,
    read_transaction,
    write_transaction,
)
from kiln.store.sql.schema import workspaces
from kiln.testing.contracts.audit import event as event_for

TENANT = "acme"


@dataclass
class Stores:
    tracking: TrackingStore
    registry: RegistryStore
    models: LoggedModelStore
    audit: AuditLog

    def events_after(self, event_id: int) -> list[AuditEvent]:
        """Events appended after ``event_id``, oldest first."""
        page = self.audit.list_events(max_results=1000)
        return [e for e in reversed(page.items) if e.event_id > event_id]

    def last_id(self) -> int:
        page = self.audit.list_events(max_results=1)
        return page.items[0].event_id if page.items else 0


def _memory() -> Stores:
    log = MemoryAuditLog()
    return Stores(
        MemoryTrackingStore(workspace=TENANT, state=MemoryTrackingState(audit=log)),
        MemoryRegistryStore(workspace=TENANT, state=RegistryMemoryState(audit=log)),
        MemoryLoggedModelStore(workspace=TENANT, state=LoggedModelMemoryState(audit=log)),
        log,
    )


def _sql(uri: str) -> Stores:
    return Stores(
        open_tracking_store(uri, workspace=TENANT),
        open_registry_store(uri, workspace=TENANT),
        open_logged_model_store(uri, workspace=TENANT),
        open_audit_log(uri),
    )


@pytest.fixture(params=["memory", "sqlite"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    if request.param == "memory":
        yield _memory()
        return
    uri = normalize_uri(f"sqlite:///{tmp_path / 'kiln.db'}")
    try:
        yield _sql(uri)
    finally:
        dispose_engine(uri)


def one_event(stores: Stores, change: Callable[[], Any], action: str, resource: str) -> AuditEvent:
    """Run ``change`` as user ``carol``; answer the one event it wrote, checked."""
    start = stores.last_id()
    with acting_as("carol"):
        change()
    events = stores.events_after(start)
    assert [(e.action, e.resource) for e in events] == [(action, resource)]
    event = events[0]
    assert event.tenant == TENANT
    assert event.actor == "carol"
    return event


def no_event(stores: Stores, change: Callable[[], Any], error: type[KilnError], match: str) -> None:
    start = stores.last_id()
    with pytest.raises(error, match=match):
        change()
    assert stores.events_after(start) == []


def _model_with_versions(stores: Stores, name: str = "churn", count: int = 2) -> None:
    stores.registry.create_registered_model(name)
    for i in range(count):
        stores.registry.create_model_version(name, f"s3://b/{name}/{i}")


# tracking -------------------------------------------------------------------------------
def test_experiment_delete_and_restore(stores: Stores) -> None:
    experiment_id = stores.tracking.create_experiment("exp")
    resource = f"experiment:{experiment_id}"
    deleted = one_event(
        stores,
        lambda: stores.tracking.delete_experiment(experiment_id),
        "experiment.delete",
        resource,
    )
    assert deleted.before == {"lifecycle_stage": "active"}
    assert deleted.after == {"lifecycle_stage": "deleted"}
    restored = one_event(
        stores,
        lambda: stores.tracking.restore_experiment(experiment_id),
        "experiment.restore",
        resource,
    )
    assert restored.before == {"lifecycle_stage": "deleted"}
    assert restored.after == {"lifecycle_stage": "active"}
    assert stores.audit.verify() is None


def test_run_delete_and_restore(stores: Stores) -> None:
    experiment_id = stores.tracking.create_experiment("exp")
    run_id = stores.tracking.create_run(experiment_id).info.run_id
    deleted = one_event(
        stores, lambda: stores.tracking.delete_run(run_id), "run.delete", f"run:{run_id}"
    )
    assert (deleted.before, deleted.after) == (
        {"lifecycle_stage": "active"},
        {"lifecycle_stage": "deleted"},
    )
    restored = one_event(
        stores, lambda: stores.tracking.restore_run(run_id), "run.restore", f"run:{run_id}"
    )
    assert restored.after == {"lifecycle_stage": "active"}


def test_failed_tracking_changes_write_nothing(stores: Stores) -> None:
    experiment_id = stores.tracking.create_experiment("exp")
    stores.tracking.delete_experiment(experiment_id)
    no_event(stores, lambda: stores.tracking.delete_experiment(experiment_id), NotFound, "no")
    no_event(stores, lambda: stores.tracking.restore_experiment("999999"), NotFound, "999999")
    no_event(stores, lambda: stores.tracking.delete_run("f" * 32), NotFound, "no run")


def test_the_logging_hot_path_writes_nothing(stores: Stores) -> None:
    start = stores.last_id()
    experiment_id = stores.tracking.create_experiment("exp")
    run_id = stores.tracking.create_run(experiment_id).info.run_id
    stores.tracking.log_metric(run_id, Metric("loss", 0.5, 1, 0))
    stores.tracking.log_param(run_id, Param("lr", "0.1"))
    stores.tracking.set_tag(run_id, RunTag("team", "a"))
    stores.tracking.log_batch(run_id, metrics=[Metric("acc", 0.9, 2, 1)], params=[], tags=[])
    stores.tracking.rename_experiment(experiment_id, "exp2")
    assert stores.events_after(start) == []


# registry -------------------------------------------------------------------------------
def test_model_delete(stores: Stores) -> None:
    _model_with_versions(stores)
    event = one_event(
        stores,
        lambda: stores.registry.delete_registered_model("churn"),
        "model.delete",
        "model:churn",
    )
    assert (event.before, event.after) == ({"name": "churn"}, None)


def test_model_rename(stores: Stores) -> None:
    _model_with_versions(stores)
    event = one_event(
        stores,
        lambda: stores.registry.rename_registered_model("churn", "churn2"),
        "model.rename",
        "model:churn",
    )
    assert (event.before, event.after) == ({"name": "churn"}, {"name": "churn2"})


def test_version_delete_names_its_stage_and_aliases(stores: Stores) -> None:
    _model_with_versions(stores)
    stores.registry.set_registered_model_alias("churn", "champion", 2)
    event = one_event(
        stores,
        lambda: stores.registry.delete_model_version("churn", 2),
        "version.delete",
        "model:churn/2",
    )
    assert event.before == {"stage": "None", "aliases": ["champion"]}
    assert event.after is None


def test_alias_set_moves_and_delete(stores: Stores) -> None:
    _model_with_versions(stores)
    first = one_event(
        stores,
        lambda: stores.registry.set_registered_model_alias("churn", "champion", 1),
        "model.alias.set",
        "model:churn",
    )
    assert first.before == {"alias": "champion", "version": None}
    assert first.after == {"alias": "champion", "version": 1}
    moved = one_event(
        stores,
        lambda: stores.registry.set_registered_model_alias("churn", "champion", "2"),
        "model.alias.set",
        "model:churn",
    )
    assert (moved.before, moved.after) == (
        {"alias": "champion", "version": 1},
        {"alias": "champion", "version": 2},
    )
    gone = one_event(
        stores,
        lambda: stores.registry.delete_registered_model_alias("churn", "champion"),
        "model.alias.delete",
        "model:churn",
    )
    assert (gone.before, gone.after) == ({"alias": "champion", "version": 2}, None)
    # Deleting an alias that is not there changes nothing and records nothing.
    start = stores.last_id()
    stores.registry.delete_registered_model_alias("churn", "champion")
    assert stores.events_after(start) == []


def test_stage_transition_names_before_after_and_archived(stores: Stores) -> None:
    _model_with_versions(stores, count=3)
    one_event(
        stores,
        lambda: stores.registry.transition_model_version_stage("churn", 1, "Production"),
        "version.stage",
        "model:churn/1",
    )
    event = one_event(
        stores,
        lambda: stores.registry.transition_model_version_stage(
            "churn", 3, "production", archive_existing_versions=True
        ),
        "version.stage",
        "model:churn/3",
    )
    assert event.before == {"stage": "None"}
    assert event.after == {"stage": "Production", "archived_versions": [1]}


def test_failed_registry_changes_write_nothing(stores: Stores) -> None:
    _model_with_versions(stores)
    stores.registry.create_registered_model("other")
    registry = stores.registry
    no_event(stores, lambda: registry.delete_registered_model("ghost"), NotFound, "ghost")
    no_event(
        stores,
        lambda: registry.rename_registered_model("churn", "other"),
        AlreadyExists,
        "other",
    )
    no_event(stores, lambda: registry.delete_model_version("churn", 9), NotFound, "version=9")
    no_event(
        stores,
        lambda: registry.set_registered_model_alias("churn", "champion", 9),
        NotFound,
        "version=9",
    )
    no_event(
        stores,
        lambda: registry.transition_model_version_stage("churn", 1, "Nowhere"),
        InvalidInput,
        "Nowhere",
    )


def test_creating_a_version_is_audited_with_its_source(stores: Stores) -> None:
    stores.registry.create_registered_model("churn")
    event = one_event(
        stores,
        lambda: stores.registry.create_model_version("churn", "s3://b/churn/0", run_id="r" * 32),
        "version.create",
        "model:churn/1",
    )
    assert (event.before, event.after) == (None, {"source": "s3://b/churn/0", "run_id": "r" * 32})


def test_untracked_registry_changes_write_nothing(stores: Stores) -> None:
    _model_with_versions(stores)
    start = stores.last_id()
    stores.registry.set_registered_model_tag("churn", "k", "v")
    stores.registry.update_model_version("churn", 1, "desc")
    stores.registry.rename_registered_model("churn", "churn")  # to itself: no change
    assert stores.events_after(start) == []


# logged models --------------------------------------------------------------------------
def test_logged_model_delete(stores: Stores) -> None:
    experiment_id = stores.tracking.create_experiment("exp")
    model = stores.models.create_logged_model(experiment_id, "/tmp/artifacts")
    event = one_event(
        stores,
        lambda: stores.models.delete_logged_model(model.model_id),
        "logged_model.delete",
        f"logged_model:{model.model_id}",
    )
    assert (event.before, event.after) == (
        {"lifecycle_stage": "active"},
        {"lifecycle_stage": "deleted"},
    )
    no_event(
        stores, lambda: stores.models.delete_logged_model(model.model_id), NotFound, model.model_id
    )
    assert stores.audit.verify() is None


def _fail_after_the_event(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        conn.execute(insert(workspaces).values(workspace="ghost", default_experiment_id=1))
        append_event(conn, event_for(resource="run:lost"))
        raise RuntimeError("the change failed after the event was written")


def test_an_event_is_committed_with_its_change_or_not_at_all(tmp_path: Path) -> None:
    """SQL: a transaction that fails after ``append_event`` keeps neither the change nor
    the event, and the chain goes on from the last committed event."""
    uri = normalize_uri(f"sqlite:///{tmp_path / 'kiln.db'}")
    try:
        stores = _sql(uri)
        kept = stores.audit.append(event_for(resource="run:kept"))
        engine = engine_for(uri)
        with pytest.raises(RuntimeError, match="after the event"):
            _fail_after_the_event(engine)
        assert [e.resource for e in stores.audit.list_events().items] == ["run:kept"]
        with read_transaction(engine) as conn:
            assert (
                conn.execute(select(workspaces).where(workspaces.c.workspace == "ghost")).first()
                is None
            )
        after = stores.audit.append(event_for(resource="run:next"))
        assert after.prev_hash == kept.hash
        assert stores.audit.verify() is None
    finally:
        dispose_engine(uri)


@pytest.mark.postgres
def test_postgresql_stores_record_in_their_transaction(postgres_db_uri: str) -> None:
    stores = _sql(postgres_db_uri)
    _model_with_versions(stores)
    experiment_id = stores.tracking.create_experiment("exp")
    run_id = stores.tracking.create_run(experiment_id).info.run_id
    one_event(stores, lambda: stores.tracking.delete_run(run_id), "run.delete", f"run:{run_id}")
    alias = one_event(
        stores,
        lambda: stores.registry.set_registered_model_alias("churn", "champion", 2),
        "model.alias.set",
        "model:churn",
    )
    assert alias.after == {"alias": "champion", "version": 2}
    no_event(
        stores, lambda: stores.registry.delete_model_version("churn", 9), NotFound, "version=9"
    )
    assert stores.audit.verify() is None


def _concurrent_changes(uri: str) -> None:
    """Threads delete runs and move aliases at once: every change is recorded once, the
    chain holds, and no thread deadlocks on the row locks and the append lock."""
    stores = _sql(uri)
    experiment_id = stores.tracking.create_experiment("exp")
    run_ids = [stores.tracking.create_run(experiment_id).info.run_id for _ in range(12)]
    for n in range(3):
        _model_with_versions(stores, f"m{n}", count=2)
    start = stores.last_id()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(4):
                stores.tracking.delete_run(run_ids[n * 4 + i])
                stores.registry.set_registered_model_alias(f"m{n}", "champion", 1 + i % 2)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    events = stores.events_after(start)
    assert len(events) == 24
    assert sorted(e.resource for e in events if e.action == "run.delete") == sorted(
        f"run:{r}" for r in run_ids
    )
    assert stores.audit.verify() is None


def test_concurrent_changes_on_sqlite(tmp_path: Path) -> None:
    uri = normalize_uri(f"sqlite:///{tmp_path / 'kiln.db'}")
    try:
        _concurrent_changes(uri)
    finally:
        dispose_engine(uri)


@pytest.mark.postgres
def test_concurrent_changes_on_postgresql(postgres_db_uri: str) -> None:
    _concurrent_changes(postgres_db_uri)
