"""``kiln.exceptions``: MLflow's exception names catch what Kiln raises, and a script's
``raise MlflowException(msg, error_code=...)`` behaves like Kiln's own error of that code."""

from __future__ import annotations

import json
import pickle

import mlflow.exceptions
import pytest

import kiln as mlflow_like
import kiln.errors
import kiln.exceptions
from kiln.errors import KilnError, NotFound

# MLflow's public exception-module names Kiln leaves out, and why: GenAI tracing is not
# part of Kiln; the protobuf enums are MLflow's internals.
LEFT_OUT = {
    "MlflowTracingException": "tracing",
    "MlflowTraceArchivalMalformedTrace": "tracing",
    "MlflowTraceDataCorrupted": "tracing",
    "MlflowTraceDataException": "tracing",
    "MlflowTraceDataNotFound": "tracing",
    "ErrorClass": "protobuf internals",
    "ErrorCode": "protobuf internals",
    "SqlState": "protobuf internals",
    "json": "a module MLflow imports",
    "logging": "a module MLflow imports",
}


def test_every_public_mlflow_exception_name_exists_or_is_left_out_on_purpose() -> None:
    public = {n for n in dir(mlflow.exceptions) if not n.startswith("_")}
    missing = public - set(dir(kiln.exceptions)) - set(LEFT_OUT)
    assert missing == set()
    assert set(kiln.exceptions.__all__) == public - set(LEFT_OUT)


def test_the_code_constants_are_mlflows_numbers() -> None:
    for name in kiln.exceptions.__all__:
        if name.isupper() and name != "ERROR_CODE_TO_HTTP_STATUS":
            assert getattr(kiln.exceptions, name) == getattr(mlflow.exceptions, name), name


def test_mlflow_exception_is_the_base_of_every_kiln_error() -> None:
    assert kiln.exceptions.MlflowException is KilnError
    for name in kiln.errors.__all__:
        assert issubclass(getattr(kiln.errors, name), kiln.exceptions.MlflowException), name


def test_a_kiln_not_found_is_caught_as_mlflow_exception_with_mlflows_code(
    tmp_path: pytest.TempPathFactory,
) -> None:
    client = mlflow_like.KilnClient.from_uri(f"sqlite:///{tmp_path}/k.db")
    try:
        with pytest.raises(mlflow_like.exceptions.MlflowException, match=r"0{32}") as caught:
            client.get_run("0" * 32)
    finally:
        client.close()
    error = caught.value
    assert isinstance(error, NotFound)
    assert error.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert error.get_http_status_code() == 404
    body = json.loads(error.serialize_as_json())
    assert body == {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": error.message}


@pytest.mark.parametrize(
    ("code", "cls", "status"),
    [
        (kiln.exceptions.RESOURCE_DOES_NOT_EXIST, kiln.errors.NotFound, 404),
        ("RESOURCE_DOES_NOT_EXIST", kiln.errors.NotFound, 404),
        (kiln.exceptions.INVALID_PARAMETER_VALUE, kiln.errors.InvalidInput, 400),
        (kiln.exceptions.RESOURCE_ALREADY_EXISTS, kiln.errors.AlreadyExists, 400),
        (kiln.exceptions.PERMISSION_DENIED, kiln.errors.PermissionDenied, 403),
        (kiln.exceptions.INVALID_STATE, KilnError, 500),
        (123456, KilnError, 500),
    ],
)
def test_raising_mlflow_exception_with_a_code_gives_kilns_class_of_that_code(
    code: int | str, cls: type[KilnError], status: int
) -> None:
    with pytest.raises(cls, match=r"^bad thing$") as caught:
        raise kiln.exceptions.MlflowException("bad thing", error_code=code)
    assert type(caught.value) is cls
    assert caught.value.get_http_status_code() == status
    number = mlflow.exceptions.ErrorCode.Value(code) if isinstance(code, str) else code
    theirs = mlflow.exceptions.MlflowException("bad thing", error_code=number)
    assert caught.value.error_code == theirs.error_code


def test_mlflow_style_extras_serialize_and_pickle_like_mlflows() -> None:
    error = kiln.exceptions.MlflowException.invalid_parameter_value("no", field="x")
    ours = json.loads(error.serialize_as_json())
    theirs = json.loads(
        mlflow.exceptions.MlflowException.invalid_parameter_value(
            "no", field="x"
        ).serialize_as_json()
    )
    assert {k: theirs[k] for k in ours} == ours
    assert error.get_http_status_code() == 400
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.message, again.error_code) == (
        kiln.errors.InvalidInput,
        "no",
        "INVALID_PARAMETER_VALUE",
    )


def test_the_statuses_match_mlflows_for_the_codes_kiln_sends() -> None:
    for name in (
        "INVALID_PARAMETER_VALUE",
        "RESOURCE_DOES_NOT_EXIST",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
        "TEMPORARILY_UNAVAILABLE",
        "BAD_REQUEST",
        "INTERNAL_ERROR",
    ):
        assert (
            kiln.exceptions.ERROR_CODE_TO_HTTP_STATUS[name]
            == (mlflow.exceptions.ERROR_CODE_TO_HTTP_STATUS[name])
        ), name


def test_the_subclass_names_catch_the_kiln_errors_they_stand_for() -> None:
    with pytest.raises(kiln.exceptions.InvalidUrlException, match="nope"):
        raise kiln.errors.InvalidUri("nope")
    with pytest.raises(kiln.exceptions.MissingConfigException, match="MLproject"):
        raise kiln.errors.NotFound("no MLproject")
    with pytest.raises(kiln.exceptions.ExecutionException, match="uv"):
        raise kiln.errors.EnvironmentBuildFailed("uv failed")
    with pytest.raises(kiln.exceptions.RestException, match="gone"):
        raise kiln.errors.NotFound("gone")
