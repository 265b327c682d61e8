"""kiln.wire: entity JSON matches mlflow's message_to_json, and bad fields are InvalidInput."""

from __future__ import annotations

import json
import math

import pytest

from kiln.entities import (
    Experiment,
    FileInfo,
    LifecycleStage,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    ViewType,
)
from kiln.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    NotFound,
    StoreUnavailable,
    TooManyRequests,
    Unauthenticated,
)
from kiln.wire.errors import error_body, error_from_body
from kiln.wire.fields import as_float, as_int, opt_enum, req_str, str_list
from kiln.wire.tracking import (
    VIEW_TYPE_NUMBERS,
    experiment_from_json,
    experiment_to_json,
    file_info_from_json,
    file_info_to_json,
    metric_from_json,
    metric_to_json,
    parse_run_status,
    parse_view_type,
    run_from_json,
    run_to_json,
)

RUN_ID = "a" * 32


def _run() -> Run:
    info = RunInfo(
        run_id=RUN_ID,
        experiment_id="1",
        run_name="nm",
        user_id="u",
        status=RunStatus.FINISHED,
        start_time=5,
        end_time=9,
        artifact_uri="mlflow-artifacts:/1/" + RUN_ID + "/artifacts",
    )
    data = RunData(
        metrics={"m": Metric("m", 1.5, 7, 2), "n": Metric("n", math.nan, 8, 0)},
        params={"p": "v"},
        tags={"t": "x"},
    )
    return Run(info, data)


def _mlflow_json(message: object) -> object:
    from mlflow.utils.proto_json_utils import message_to_json

    return json.loads(message_to_json(message))


def test_run_json_equals_mlflow_message_to_json() -> None:
    import mlflow.entities as mle

    run = _run()
    info = run.info
    ml_run = mle.Run(
        mle.RunInfo(
            run_id=info.run_id,
            experiment_id=info.experiment_id,
            user_id=info.user_id,
            status=info.status.value,
            start_time=info.start_time,
            end_time=info.end_time,
            lifecycle_stage="active",
            artifact_uri=info.artifact_uri,
            run_name=info.run_name,
        ),
        mle.RunData(
            metrics=[mle.Metric("m", 1.5, 7, 2), mle.Metric("n", math.nan, 8, 0)],
            params=[mle.Param("p", "v")],
            tags=[mle.RunTag("t", "x")],
        ),
        mle.RunInputs([]),
        mle.RunOutputs([]),
    )
    ours = json.loads(json.dumps(run_to_json(run)))
    assert ours == _mlflow_json(ml_run.to_proto())


def test_experiment_json_equals_mlflow_message_to_json() -> None:
    import mlflow.entities as mle

    exp = Experiment("3", "e", "mlflow-artifacts:/3", LifecycleStage.DELETED, 10, 11, {"a": "b"})
    ml_exp = mle.Experiment(
        "3", "e", "mlflow-artifacts:/3", "deleted", [mle.ExperimentTag("a", "b")], 10, 11
    )
    assert experiment_to_json(exp) == _mlflow_json(ml_exp.to_proto())
    assert experiment_from_json(experiment_to_json(exp)) == exp


def test_run_round_trips_through_json_including_nan() -> None:
    run = _run()
    back = run_from_json(json.loads(json.dumps(run_to_json(run), allow_nan=False)))
    assert back.info == run.info
    assert back.data.params == run.data.params
    assert back.data.metric_objects["m"] == run.data.metric_objects["m"]
    assert math.isnan(back.data.metrics["n"])


def test_mlflow_client_parses_our_run_json() -> None:
    from mlflow.entities import Run as MlflowRun
    from mlflow.protos.service_pb2 import GetRun
    from mlflow.utils.proto_json_utils import parse_dict

    message = GetRun.Response()
    parse_dict({"run": run_to_json(_run())}, message)
    parsed = MlflowRun.from_proto(message.run)
    assert parsed.info.run_id == RUN_ID
    assert parsed.info.end_time == 9
    assert parsed.data.metrics["m"] == 1.5
    assert math.isnan(parsed.data.metrics["n"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1.0), (2.5, 2.5), ("3.25", 3.25), ("Infinity", math.inf), ("-Infinity", -math.inf)],
)
def test_metric_values_accept_protobuf_json_forms(value: object, expected: float) -> None:
    metric = metric_from_json({"key": "m", "value": value, "timestamp": "12", "step": 3})
    assert metric == Metric("m", expected, 12, 3)


def test_infinite_metric_values_are_written_as_strings() -> None:
    assert metric_to_json(Metric("m", -math.inf, 1))["value"] == "-Infinity"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"key": "m", "timestamp": 1}, r"metric\.value"),
        ({"key": "m", "value": 1}, r"metric\.timestamp"),
        ({"key": "m", "value": "abc", "timestamp": 1}, r"'metric\.value' must be a number"),
        ({"key": "m", "value": True, "timestamp": 1}, r"must be a number, got a boolean"),
        ({"key": "m", "value": 1, "timestamp": 1.5}, r"'metric\.timestamp' must be an integer"),
        ({"key": 5, "value": 1, "timestamp": 1}, r"field 'key' must be a string"),
    ],
)
def test_bad_metric_fields_are_invalid_input(body: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        metric_from_json(body)


def test_field_readers_name_the_field() -> None:
    with pytest.raises(InvalidInput, match="required field 'name'"):
        req_str({}, "name")
    with pytest.raises(InvalidInput, match=r"'ids'\[1\] must be a string"):
        str_list({"ids": ["1", 2]}, "ids")
    with pytest.raises(InvalidInput, match="'ids' must be a list"):
        str_list({"ids": "1"}, "ids")
    with pytest.raises(InvalidInput, match="must be an integer"):
        as_int("12a", "n")
    assert as_int("-4", "n") == -4
    assert as_float("NaN", "x") != as_float("NaN", "x")


def test_enums_accept_names_and_numbers() -> None:
    assert parse_view_type({"v": "ALL"}, "v") is ViewType.ALL
    assert parse_view_type({"v": 2}, "v") is ViewType.DELETED_ONLY
    assert parse_view_type({}, "v") is ViewType.ACTIVE_ONLY
    assert parse_run_status({"status": "KILLED"}) is RunStatus.KILLED
    with pytest.raises(InvalidInput, match="must be one of ACTIVE_ONLY, ALL, DELETED_ONLY"):
        opt_enum({"v": "SOME"}, "v", VIEW_TYPE_NUMBERS)


def test_file_info_json_omits_size_of_directories() -> None:
    assert file_info_to_json(FileInfo("d", True)) == {"path": "d", "is_dir": True}
    info = FileInfo("d/f.txt", False, 3)
    assert file_info_from_json(file_info_to_json(info)) == info


def test_error_envelopes_map_back_to_classes() -> None:
    assert error_body(NotFound("gone")) == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "gone",
    }
    error = error_from_body(400, {"error_code": "RESOURCE_ALREADY_EXISTS", "message": "dup"})
    assert isinstance(error, AlreadyExists)
    assert error.message == "dup"
    assert isinstance(error_from_body(401, None, "no"), Unauthenticated)
    assert isinstance(error_from_body(502, None, "<html>"), StoreUnavailable)
    throttled = {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "wait"}
    assert type(error_from_body(429, throttled)) is TooManyRequests


def test_conflict_survives_the_round_trip_through_an_envelope() -> None:
    body = error_body(Conflict("param changed"))
    assert body == {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "param changed",
        "kiln_error": "Conflict",
    }
    assert type(error_from_body(400, body)) is Conflict
    assert type(error_from_body(400, error_body(InvalidInput("bad")))) is InvalidInput
