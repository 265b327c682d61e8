"""Logged-model stores: one behaviour suite run on the memory and SQL backends."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kiln.entities import LifecycleStage
from kiln.entities.logged_model import LoggedModelMetric, LoggedModelOutput, LoggedModelStatus
from kiln.errors import AlreadyExists, Conflict, InvalidInput, InvalidUri, NotFound
from kiln.store.file.logged_models import FileLoggedModelStore, open_file_logged_model_store
from kiln.store.memory.logged_models import MemoryLoggedModelStore
from kiln.store.open import open_logged_model_store
from kiln.store.protocols.logged_models import LoggedModelStore
from kiln.store.query.logged_models import parse_logged_model_filter
from kiln.store.sql.engine import dispose_engine, engine_for, head_revision, normalize_uri
from kiln.store.sql.logged_models import (
    LOGGED_MODEL_TABLES,
    SqlLoggedModelStore,
    logged_model_metadata,
)
from kiln.testing.registry_contract import TickingClock

ROOT = "mlflow-artifacts:/1"


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> Iterator[str]:
    uri = normalize_uri(f"sqlite:///{tmp_path / 'kiln.db'}")
    yield uri
    dispose_engine(uri)


POSTGRES = pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.integration])


RUNS = ("b" * 32, "c" * 32)


@pytest.fixture(params=["memory", "sqlite", "file", POSTGRES])
def stores(
    request: pytest.FixtureRequest, sqlite_uri: str, tmp_path: Path
) -> tuple[LoggedModelStore, LoggedModelStore]:
    """(a store in workspace ``default``, one in ``other`` over the same data).

    The mlruns store has no workspaces (both are the same store) and keeps run
    outputs in run folders, so the runs of these tests get folders.
    """
    clock = TickingClock()
    if request.param == "memory":
        return MemoryLoggedModelStore("default", clock=clock), MemoryLoggedModelStore("other")
    if request.param == "file":
        for run_id in RUNS:
            (tmp_path / "mlruns" / "1" / run_id).mkdir(parents=True)
            (tmp_path / "mlruns" / "1" / run_id / "meta.yaml").write_text(f"run_id: {run_id}\n")
        file_store = FileLoggedModelStore(tmp_path / "mlruns", clock=clock)
        return file_store, file_store
    uri = sqlite_uri
    if request.param == "postgres":
        uri = normalize_uri(request.getfixturevalue("postgres_db_uri"))
    engine = engine_for(uri)
    return (
        SqlLoggedModelStore(engine, "default", clock=clock),
        SqlLoggedModelStore(engine, "other", clock=clock),
    )


@pytest.fixture
def store(stores: tuple[LoggedModelStore, LoggedModelStore]) -> LoggedModelStore:
    return stores[0]


def _names(page: object) -> list[str]:
    return [m.name for m in page]  # type: ignore[attr-defined]


# create / get ------------------------------------------------------------------
def test_create_makes_a_pending_model_under_the_experiment_root(store: LoggedModelStore) -> None:
    model = store.create_logged_model(
        "1",
        ROOT + "/",
        name="model",
        source_run_id="a" * 32,
        tags={"t": "1"},
        params={"p": "2"},
        model_type="agent",
    )
    assert re.fullmatch(r"m-[0-9a-f]{32}", model.model_id)
    assert model.artifact_location == f"{ROOT}/models/{model.model_id}/artifacts"
    assert (model.status, model.lifecycle_stage) == (
        LoggedModelStatus.PENDING,
        LifecycleStage.ACTIVE,
    )
    assert (model.tags, model.params, model.model_type) == ({"t": "1"}, {"p": "2"}, "agent")
    assert model.creation_timestamp == model.last_updated_timestamp
    assert store.get_logged_model(model.model_id) == model
    assert model.model_uri == f"models:/{model.model_id}"


def test_create_without_a_name_picks_one(store: LoggedModelStore) -> None:
    model = store.create_logged_model("1", ROOT)
    assert model.name
    assert not set(model.name) & set("/:.%\"'")


@pytest.mark.parametrize("name", ["", "a/b", "a.b", "a:b", "50%", "it's"])
def test_bad_names_are_refused(store: LoggedModelStore, name: str) -> None:
    with pytest.raises(InvalidInput, match="Invalid model name"):
        store.create_logged_model("1", ROOT, name=name)


def test_bad_tag_keys_and_long_params_are_refused(store: LoggedModelStore) -> None:
    with pytest.raises(InvalidInput, match="tag key"):
        store.create_logged_model("1", ROOT, tags={"../x": "v"})
    with pytest.raises(InvalidInput, match="limit is 6000"):
        store.create_logged_model("1", ROOT, params={"p": "x" * 6001})


def test_other_workspaces_do_not_see_the_model(
    stores: tuple[LoggedModelStore, LoggedModelStore],
) -> None:
    mine, other = stores
    if isinstance(mine, FileLoggedModelStore):
        pytest.skip("mlruns has no workspaces: see test_file_store_opens_only_default")
    model = mine.create_logged_model("1", ROOT, name="m")
    with pytest.raises(NotFound, match="not found"):
        other.get_logged_model(model.model_id)
    assert list(other.search_logged_models(["1"])) == []


def test_unknown_ids_are_not_found(store: LoggedModelStore) -> None:
    missing = "m-" + "0" * 32
    with pytest.raises(NotFound, match=missing):
        store.get_logged_model(missing)
    with pytest.raises(NotFound, match=missing):
        store.finalize_logged_model(missing, LoggedModelStatus.READY)
    with pytest.raises(NotFound, match=missing):
        store.set_logged_model_tags(missing, {"a": "b"})


# updates -------------------------------------------------------------------------
def test_finalize_sets_status_and_touches_the_model(store: LoggedModelStore) -> None:
    model = store.create_logged_model("1", ROOT, name="m")
    ready = store.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert ready.status is LoggedModelStatus.READY
    assert ready.last_updated_timestamp > model.last_updated_timestamp
    assert store.get_logged_model(model.model_id).status is LoggedModelStatus.READY


def test_tags_upsert_and_delete(store: LoggedModelStore) -> None:
    model = store.create_logged_model("1", ROOT, tags={"a": "1"})
    store.set_logged_model_tags(model.model_id, {"a": "2", "b": "3"})
    store.delete_logged_model_tag(model.model_id, "b")
    assert store.get_logged_model(model.model_id).tags == {"a": "2"}
    with pytest.raises(NotFound, match="No tag with key 'b'"):
        store.delete_logged_model_tag(model.model_id, "b")


def test_params_are_write_once(store: LoggedModelStore) -> None:
    model = store.create_logged_model("1", ROOT, params={"lr": "0.1"})
    store.log_logged_model_params(model.model_id, {"lr": "0.1", "depth": "3"})
    assert store.get_logged_model(model.model_id).params == {"lr": "0.1", "depth": "3"}
    with pytest.raises(Conflict, match="Changing param values is not allowed"):
        store.log_logged_model_params(model.model_id, {"lr": "0.2", "new": "x"})
    assert "new" not in store.get_logged_model(model.model_id).params


def test_metrics_round_trip_nan_included(store: LoggedModelStore) -> None:
    model = store.create_logged_model("1", ROOT)
    metrics = [
        LoggedModelMetric("acc", 0.5, 10, 1, "r" * 32, "train", "d1"),
        LoggedModelMetric("loss", math.nan, 11),
    ]
    store.log_logged_model_metrics(model.model_id, metrics)
    got = store.get_logged_model(model.model_id).metrics
    assert got[0] == metrics[0]
    assert (got[1].key, math.isnan(got[1].value)) == ("loss", True)


def test_a_retried_metric_write_adds_nothing(store: LoggedModelStore) -> None:
    model = store.create_logged_model("1", ROOT)
    points = [
        LoggedModelMetric("acc", 0.5, 10, 1, "r" * 32, "train", "d1"),
        LoggedModelMetric("loss", math.nan, 11),
        LoggedModelMetric("acc", 0.5, 10, 1, "r" * 32, "test", "d2"),
    ]
    store.log_logged_model_metrics(model.model_id, points)
    store.log_logged_model_metrics(model.model_id, [*points, points[0]])
    store.log_logged_model_metrics(model.model_id, [LoggedModelMetric("loss", math.nan, 11)])
    got = store.get_logged_model(model.model_id).metrics
    assert sorted((m.key, m.dataset_name or "") for m in got) == [
        ("acc", "test"),
        ("acc", "train"),
        ("loss", ""),
    ]


def test_run_model_inputs_are_kept_once_each(store: LoggedModelStore) -> None:
    run_id = "b" * 32
    first, second = "m-" + "2" * 32, "m-" + "1" * 32
    store.log_model_inputs(run_id, [first, second, first])
    store.log_model_inputs(run_id, [second])
    assert store.get_model_inputs(run_id) == sorted([first, second])
    assert store.get_model_inputs("c" * 32) == []


def test_delete_hides_the_model(store: LoggedModelStore) -> None:
    model = store.create_logged_model("1", ROOT, name="gone")
    store.delete_logged_model(model.model_id)
    with pytest.raises(NotFound, match="not found"):
        store.get_logged_model(model.model_id)
    deleted = store.get_logged_model(model.model_id, allow_deleted=True)
    assert deleted.lifecycle_stage is LifecycleStage.DELETED
    assert list(store.search_logged_models(["1"])) == []
    with pytest.raises(NotFound, match="not found"):
        store.delete_logged_model(model.model_id)
    with pytest.raises(NotFound, match="not found"):
        store.log_logged_model_params(model.model_id, {"a": "b"})


def test_run_outputs_round_trip(store: LoggedModelStore) -> None:
    model = store.create_logged_model("1", ROOT)
    run_id = "b" * 32
    store.log_outputs(run_id, [LoggedModelOutput(model.model_id, 3)])
    assert store.get_outputs(run_id) == [LoggedModelOutput(model.model_id, 3)]
    assert store.get_outputs("c" * 32) == []
    with pytest.raises(NotFound, match="not found"):
        store.log_outputs(run_id, [LoggedModelOutput("m-" + "1" * 32)])


# search --------------------------------------------------------------------------
@pytest.fixture
def three(store: LoggedModelStore) -> LoggedModelStore:
    """Models a (exp 1), b (exp 1), c (exp 2), created in that order."""
    a = store.create_logged_model("1", ROOT, name="a", params={"lr": "0.1"}, tags={"t": "x"})
    b = store.create_logged_model("1", ROOT, name="b", params={"lr": "0.2"}, model_type="agent")
    c = store.create_logged_model("2", ROOT, name="c", params={"lr": "0.1"})
    store.log_logged_model_metrics(
        a.model_id,
        [
            LoggedModelMetric("acc", 0.9, 1, dataset_name="train", dataset_digest="d1"),
            LoggedModelMetric("acc", 0.5, 2, dataset_name="test", dataset_digest="d2"),
        ],
    )
    store.log_logged_model_metrics(
        b.model_id, [LoggedModelMetric("acc", 0.7, 5, dataset_name="test")]
    )
    store.log_logged_model_metrics(c.model_id, [LoggedModelMetric("acc", 0.99, 1)])
    store.finalize_logged_model(b.model_id, LoggedModelStatus.READY)
    return store


def test_search_defaults_to_newest_first_within_the_experiments(three: LoggedModelStore) -> None:
    assert _names(three.search_logged_models(["1"])) == ["b", "a"]
    assert _names(three.search_logged_models(["1", "2"])) == ["c", "b", "a"]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name = 'a'", ["a"]),
        ("attributes.name != 'a'", ["c", "b"]),
        ("name LIKE '%'", ["c", "b", "a"]),
        ("name ILIKE 'A'", ["a"]),
        ("name IN ('a', 'c')", ["c", "a"]),
        ("params.lr = '0.1'", ["c", "a"]),
        ("params.lr = '0.1' AND name = 'c'", ["c"]),
        ("tags.t = 'x'", ["a"]),
        ("status = 'READY'", ["b"]),
        ("model_type = 'agent'", ["b"]),
        ("metrics.acc > 0.8", ["c", "a"]),
        ("metrics.acc < 0.6", ["a"]),
        ("creation_timestamp > 0", ["c", "b", "a"]),
        ("creation_time < 0", []),
    ],
)
def test_search_filters(three: LoggedModelStore, filter_string: str, expected: list[str]) -> None:
    assert _names(three.search_logged_models(["1", "2"], filter_string)) == expected


def test_datasets_restrict_metric_filters_and_membership(three: LoggedModelStore) -> None:
    test_only = [{"dataset_name": "test"}]
    found = three.search_logged_models(["1", "2"], "metrics.acc > 0.8", datasets=test_only)
    assert _names(found) == []
    assert _names(three.search_logged_models(["1", "2"], datasets=test_only)) == ["b", "a"]
    digest = [{"dataset_name": "test", "dataset_digest": "d2"}]
    assert _names(three.search_logged_models(["1", "2"], datasets=digest)) == ["a"]
    with pytest.raises(InvalidInput, match="dataset_name"):
        three.search_logged_models(["1"], datasets=[{"dataset_digest": "x"}])


def test_order_by_attributes_and_latest_metric_values(three: LoggedModelStore) -> None:
    by_name = three.search_logged_models(["1", "2"], order_by=[{"field_name": "name"}])
    assert _names(by_name) == ["a", "b", "c"]
    desc = [{"field_name": "name", "ascending": False}]
    assert _names(three.search_logged_models(["1", "2"], order_by=desc)) == ["c", "b", "a"]
    # a's latest acc is 0.5 (timestamp 2), b 0.7, c 0.99
    by_acc = [{"field_name": "metrics.acc", "ascending": True}]
    assert _names(three.search_logged_models(["1", "2"], order_by=by_acc)) == ["a", "b", "c"]
    on_train = [{"field_name": "metrics.acc", "ascending": False, "dataset_name": "train"}]
    # only a has acc on train; the others sort last, newest first
    assert _names(three.search_logged_models(["1", "2"], order_by=on_train)) == ["a", "c", "b"]
    with pytest.raises(InvalidInput, match="Only metrics are supported"):
        three.search_logged_models(["1"], order_by=[{"field_name": "params.lr"}])
    with pytest.raises(InvalidInput, match="invalid attribute"):
        three.search_logged_models(["1"], order_by=[{"field_name": "nope"}])


def test_paging_walks_every_model_once(three: LoggedModelStore) -> None:
    order = [{"field_name": "name"}]
    first = three.search_logged_models(["1", "2"], max_results=2, order_by=order)
    assert _names(first) == ["a", "b"]
    assert first.next_page_token is not None
    second = three.search_logged_models(
        ["1", "2"], max_results=2, order_by=order, page_token=first.next_page_token
    )
    assert _names(second) == ["c"]
    assert second.next_page_token is None
    with pytest.raises(InvalidInput, match="different search"):
        three.search_logged_models(["1"], max_results=2, page_token=first.next_page_token)
    with pytest.raises(InvalidInput, match="invalid page token"):
        three.search_logged_models(["1"], page_token="garbage!")
    with pytest.raises(InvalidInput, match="max_results"):
        three.search_logged_models(["1"], max_results=0)


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
        open_logged_model_store("http://localhost:5000", workspace="default")


def test_backends_satisfy_the_protocol(sqlite_uri: str) -> None:
    assert isinstance(MemoryLoggedModelStore(), LoggedModelStore)
    assert isinstance(SqlLoggedModelStore(engine_for(sqlite_uri)), LoggedModelStore)


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
    tracking = open_file_store(tmp_path.as_uri())
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


def test_import_keeps_the_model_as_it_was(store: LoggedModelStore) -> None:
    made = store.create_logged_model("1", ROOT, name="m", params={"p": "1"}, tags={"t": "2"})
    store.log_logged_model_metrics(made.model_id, [LoggedModelMetric("acc", 0.5, 3, 1, "r" * 32)])
    store.finalize_logged_model(made.model_id, LoggedModelStatus.READY)
    original = store.get_logged_model(made.model_id)
    copy = dataclasses.replace(original, model_id="m-" + "7" * 32, experiment_id="2")
    store.import_logged_model(copy)
    assert store.get_logged_model(copy.model_id) == copy
    with pytest.raises(AlreadyExists, match="already exists"):
        store.import_logged_model(copy)
    gone = dataclasses.replace(
        copy, model_id="m-" + "8" * 32, lifecycle_stage=LifecycleStage.DELETED
    )
    store.import_logged_model(gone)
    assert store.get_logged_model(gone.model_id, allow_deleted=True) == gone
