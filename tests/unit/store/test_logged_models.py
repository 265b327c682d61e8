"""Logged-model stores: the contract suite on every backend (memory, SQLite, PostgreSQL,
mlruns folder), plus what only one backend has (the SQL schema, the mlruns files)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kiln.entities.logged_model import LoggedModelMetric, LoggedModelOutput, LoggedModelStatus
from kiln.errors import InvalidInput, InvalidUri, NotFound
from kiln.store.file.logged_models import FileLoggedModelStore, open_file_logged_model_store
from kiln.store.memory.logged_models import LoggedModelMemoryState, MemoryLoggedModelStore
from kiln.store.open import open_logged_model_store
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.store.query.logged_models import parse_logged_model_filter
from kiln.store.sql.engine import dispose_engine, engine_for, head_revision, normalize_uri
from kiln.store.sql.logged_models import (
    LOGGED_MODEL_TABLES,
    SqlLoggedModelStore,
    logged_model_metadata,
)
from kiln.testing.contracts import Capability, LoggedModelStoreContract, TickingClock
from kiln.testing.contracts.logged_models import ROOT, RUNS


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> Iterator[str]:
    uri = normalize_uri(f"sqlite:///{tmp_path / 'kiln.db'}")
    yield uri
    dispose_engine(uri)


class TestMemoryLoggedModels(LoggedModelStoreContract):
    @pytest.fixture
    def state(self) -> LoggedModelMemoryState:
        return LoggedModelMemoryState()

    @pytest.fixture
    def logged_model_store(self, state: LoggedModelMemoryState) -> LoggedModelStore:
        return MemoryLoggedModelStore(workspace="default", state=state, clock=TickingClock())

    @pytest.fixture
    def open_workspace(self, state: LoggedModelMemoryState) -> Callable[[str], LoggedModelStore]:
        return lambda workspace: MemoryLoggedModelStore(workspace=workspace, state=state)


class TestSqliteLoggedModels(LoggedModelStoreContract):
    @pytest.fixture
    def logged_model_store(self, sqlite_uri: str) -> LoggedModelStore:
        return SqlLoggedModelStore(
            engine_for(sqlite_uri), workspace="default", clock=TickingClock()
        )

    @pytest.fixture
    def open_workspace(self, sqlite_uri: str) -> Callable[[str], LoggedModelStore]:
        return lambda workspace: SqlLoggedModelStore(engine_for(sqlite_uri), workspace=workspace)


@pytest.mark.postgres
@pytest.mark.integration
class TestPostgresLoggedModels(LoggedModelStoreContract):
    @pytest.fixture
    def logged_model_store(self, postgres_db_uri: str) -> LoggedModelStore:
        engine = engine_for(normalize_uri(postgres_db_uri))
        return SqlLoggedModelStore(engine, workspace="default", clock=TickingClock())

    @pytest.fixture
    def open_workspace(self, postgres_db_uri: str) -> Callable[[str], LoggedModelStore]:
        engine = engine_for(normalize_uri(postgres_db_uri))
        return lambda workspace: SqlLoggedModelStore(engine, workspace=workspace)


class TestFileLoggedModels(LoggedModelStoreContract):
    """The mlruns layout has no workspaces, and keeps run outputs in run folders (so
    the contract's runs get folders)."""

    lacks = frozenset({Capability.WORKSPACES})

    @pytest.fixture
    def logged_model_store(self, tmp_path: Path) -> LoggedModelStore:
        for run_id in RUNS:
            (tmp_path / "mlruns" / "1" / run_id).mkdir(parents=True)
            (tmp_path / "mlruns" / "1" / run_id / "meta.yaml").write_text(f"run_id: {run_id}\n")
        return FileLoggedModelStore(tmp_path / "mlruns", clock=TickingClock())

    @pytest.fixture
    def open_workspace(self, tmp_path: Path) -> Callable[[str], LoggedModelStore]:
        uri = (tmp_path / "mlruns").as_uri()
        return lambda workspace: open_file_logged_model_store(uri, workspace=workspace)


@pytest.mark.parametrize(
    ("filter_string", "message"),
    [
        ("nope = 'x'", "invalid attribute 'nope'"),
        ("runs.x = 'y'", "invalid entity type 'runs'"),
        ("metrics.acc LIKE 'x'", "comparator 'LIKE' is not allowed"),
        ("params.lr > '1'", "comparator '>' is not allowed"),
        ("name = 3", "needs a string value"),
        ("metrics.acc = 'x'", "needs a number value"),
        ("name = 'a' OR name = 'b'", "OR is not supported"),
    ],
)
def test_bad_filters_are_invalid_input(filter_string: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        parse_logged_model_filter(filter_string)


# SQL schema and opener -------------------------------------------------------------
def test_migration_creates_the_tables_as_declared(sqlite_uri: str) -> None:
    engine = engine_for(sqlite_uri)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == head_revision()
        diffs = compare_metadata(context, logged_model_metadata)
    names = {table.name for table in LOGGED_MODEL_TABLES}
    relevant = [
        d
        for d in diffs
        if not (d[0] == "remove_table" and d[1].name not in names)
        and not (d[0] == "remove_index" and d[1].table.name not in names)
    ]
    assert relevant == []


def test_opener_picks_the_backend(sqlite_uri: str, tmp_path: Path) -> None:
    assert isinstance(open_logged_model_store(sqlite_uri, workspace="default"), SqlLoggedModelStore)
    assert isinstance(
        open_logged_model_store(tmp_path.as_uri(), workspace="default"), FileLoggedModelStore
    )
    assert isinstance(
        open_logged_model_store("memory://", workspace="default"), MemoryLoggedModelStore
    )
    with pytest.raises(InvalidUri, match="no logged-model store"):
        open_logged_model_store("s3://bucket/mlruns", workspace="default")


def test_backends_satisfy_the_protocol(sqlite_uri: str) -> None:
    assert isinstance(MemoryLoggedModelStore(workspace="default"), LoggedModelStore)
    assert isinstance(
        SqlLoggedModelStore(engine_for(sqlite_uri), workspace="default"), LoggedModelStore
    )


def test_file_store_opens_only_default(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no workspaces"):
        open_file_logged_model_store(tmp_path.as_uri(), workspace="other")


def test_file_store_keeps_dataset_names_with_spaces(tmp_path: Path) -> None:
    store = FileLoggedModelStore(tmp_path)
    model = store.create_logged_model("1", ROOT)
    spaced = LoggedModelMetric("acc", 0.5, 1, 0, "r" * 32, "my  test set", "d1")
    store.log_logged_model_metrics(model.model_id, [spaced])
    assert store.get_logged_model(model.model_id).metrics == (spaced,)
    broken = LoggedModelMetric("acc", 0.5, 2, 0, "r" * 32, "a\nb", "d1")
    with pytest.raises(InvalidInput, match="line break"):
        store.log_logged_model_metrics(model.model_id, [broken])
    with pytest.raises(InvalidInput, match="digest cannot be empty or contain spaces"):
        store.log_logged_model_metrics(
            model.model_id, [LoggedModelMetric("a", 1, 3, 0, "r", "n", "")]
        )


def test_file_store_needs_the_run_folder_for_outputs(tmp_path: Path) -> None:
    store = FileLoggedModelStore(tmp_path)
    model = store.create_logged_model("1", ROOT)
    with pytest.raises(NotFound, match="Run with id"):
        store.log_outputs("d" * 32, [LoggedModelOutput(model.model_id)])
    with pytest.raises(NotFound, match="Run with id"):
        store.log_model_inputs("../x", [model.model_id])


def test_mlflow_reads_the_file_stores_models_and_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.store.tracking.file_store as mlflow_file_store

    from kiln.store.file.tracking import open_file_store

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    tracking = open_file_store(tmp_path.as_uri(), workspace="default")
    experiment_id = tracking.create_experiment("e")
    run = tracking.create_run(experiment_id=experiment_id, user_id="u")
    root = tracking.get_experiment(experiment_id).artifact_location
    store = FileLoggedModelStore(tmp_path)
    model = store.create_logged_model(
        experiment_id, root, name="m", source_run_id=run.info.run_id, params={"p": "1"}
    )
    store.log_logged_model_metrics(
        model.model_id, [LoggedModelMetric("rmse", 0.5, 7, 0, run.info.run_id, "test", "d1")]
    )
    store.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    theirs = mlflow_file_store.FileStore(tmp_path.as_uri())
    got = theirs.get_logged_model(model.model_id)
    assert (got.name, got.params, got.status.to_int()) == ("m", {"p": "1"}, 2)
    assert got.artifact_location == model.artifact_location
    (metric,) = got.metrics
    assert (metric.key, metric.value, metric.dataset_name, metric.run_id) == (
        "rmse",
        0.5,
        "test",
        run.info.run_id,
    )
    made = theirs.create_logged_model(experiment_id, name="theirs")
    assert store.get_logged_model(made.model_id).name == "theirs"
    assert [m.name for m in store.search_logged_models([experiment_id])] == ["theirs", "m"]
