"""The shared run rules (kiln.store.rules.runs, .history, .logged_models) and that the
memory and mlruns stores apply them alike."""

from __future__ import annotations

import dataclasses
import random
import re
from pathlib import Path

import pytest

from kiln.entities import (
    RUN_NAME_TAG,
    USER_TAG,
    Experiment,
    LifecycleStage,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from kiln.errors import Conflict, InvalidInput, NotFound
from kiln.store.file.tracking import open_file_store
from kiln.store.memory.tracking import open_memory_store
from kiln.store.protocols.tracking import TrackingStore
from kiln.store.rules.history import check_imported_experiment, check_imported_run
from kiln.store.rules.logged_models import new_params
from kiln.store.rules.runs import (
    as_lifecycle_stage,
    as_run_status,
    as_view_type,
    generate_run_name,
    new_run_tags,
    optional_ms,
    run_artifact_uri,
)


def test_generated_names_are_adjective_noun_number() -> None:
    name = generate_run_name(random.Random(7))
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{1,3}", name)
    assert generate_run_name(random.Random(7)) == name


def test_new_run_tags_carry_the_name_and_the_user() -> None:
    name, tags = new_run_tags([RunTag("k", "v")], "given", "ann")
    assert name == "given"
    assert tags == {"k": "v", RUN_NAME_TAG: "given", USER_TAG: "ann"}


def test_new_run_tags_keep_a_user_tag_and_take_the_name_tag() -> None:
    name, tags = new_run_tags(
        [RunTag(RUN_NAME_TAG, "tagged"), RunTag(USER_TAG, "bob")], None, "ann"
    )
    assert name == "tagged"
    assert tags[USER_TAG] == "bob"


def test_new_run_tags_refuse_a_name_that_disagrees_with_the_tag() -> None:
    with pytest.raises(InvalidInput, match="disagree"):
        new_run_tags([RunTag(RUN_NAME_TAG, "a")], "b", "")


@pytest.mark.parametrize("start_time", [True, "1", 1.5])
def test_new_run_tags_refuse_a_start_time_that_is_not_int_ms(start_time: object) -> None:
    with pytest.raises(InvalidInput, match="start_time must be milliseconds"):
        new_run_tags([], "r", "", start_time)


def test_optional_ms_passes_none_and_ints() -> None:
    assert optional_ms(None, "t") is None
    assert optional_ms(5, "t") == 5


def test_enum_values_are_read_from_strings_and_refused_with_the_choices() -> None:
    assert as_view_type("ALL") is ViewType.ALL
    assert as_run_status("FINISHED") is RunStatus.FINISHED
    assert as_lifecycle_stage("deleted") is LifecycleStage.DELETED
    with pytest.raises(InvalidInput, match="invalid run status 'DONE': use one of RUNNING"):
        as_run_status("DONE")
    with pytest.raises(InvalidInput, match="invalid view type"):
        as_view_type("SOME")
    with pytest.raises(InvalidInput, match="invalid lifecycle stage"):
        as_lifecycle_stage("gone")


def test_run_artifact_uri_joins_with_one_slash() -> None:
    assert run_artifact_uri("s3://b/exp/", "abc") == "s3://b/exp/abc/artifacts"


def _run(**changes: object) -> Run:
    store = open_memory_store(workspace="default")
    run = store.create_run("0", run_name="src")
    info = dataclasses.replace(run.info, **changes)  # type: ignore[arg-type]
    return Run(info=info, data=run.data, inputs=run.inputs)


def test_an_imported_run_goes_deleted_into_a_deleted_experiment() -> None:
    checked = check_imported_run(_run(), "0")
    info = checked.placed("9", "file:///a", LifecycleStage.DELETED, "ws")
    assert (info.experiment_id, info.lifecycle_stage, info.workspace) == (
        "9",
        LifecycleStage.DELETED,
        "ws",
    )
    assert info.artifact_uri == f"file:///a/{info.run_id}/artifacts"


def test_an_imported_run_needs_a_start_time() -> None:
    with pytest.raises(InvalidInput, match="start_time must be milliseconds as an int, got None"):
        check_imported_run(_run(start_time=None), "0")


def test_an_imported_experiment_gets_its_stage_as_the_enum() -> None:
    experiment = Experiment("3", "e", "x", lifecycle_stage="deleted")  # type: ignore[arg-type]
    assert check_imported_experiment(experiment).lifecycle_stage is LifecycleStage.DELETED


def test_new_params_keeps_only_unstored_keys_and_refuses_a_change() -> None:
    assert new_params("m-1", {"a": "1"}, {"a": "1", "b": "2"}) == {"b": "2"}
    with pytest.raises(Conflict, match="Changing param values is not allowed"):
        new_params("m-1", {"a": "1"}, {"a": "2"})


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TrackingStore:
    if request.param == "memory":
        return open_memory_store(workspace="default")
    return open_file_store((tmp_path / "mlruns").as_uri(), workspace="default")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "DONE"}, "invalid run status"),
        ({"lifecycle_stage": "gone"}, "invalid lifecycle stage"),
        ({"end_time": "soon"}, "end_time must be milliseconds"),
        ({"user_id": 7}, "user id must be a string"),
    ],
)
def test_every_store_refuses_a_bad_imported_run_before_writing(
    store: TrackingStore, changes: dict[str, object], message: str
) -> None:
    run = _run(**changes)
    with pytest.raises(InvalidInput, match=message):
        store.import_run(run, "0")  # type: ignore[attr-defined]
    with pytest.raises(NotFound, match="run"):
        store.get_run(run.info.run_id)


def test_every_store_refuses_a_bad_start_time_for_a_new_run(store: TrackingStore) -> None:
    with pytest.raises(InvalidInput, match="start_time must be milliseconds"):
        store.create_run("0", start_time="noon")  # type: ignore[arg-type]
