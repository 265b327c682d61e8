"""The one error tree and its two edge tables: each class's MLflow code (on the class),
HTTP status (``kiln.http_status``, both servers) and exit code (``kiln.cli.errors``)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import pytest

import kiln
import kiln.errors
from kiln.cli.errors import lookup
from kiln.errors import KilnError
from kiln.http_status import STATUS_BY_CLASS, status_for

# name -> (error_code, HTTP status, exit code): the class's code, then what the HTTP table
# and the CLI table answer for it (a class without a row answers as its nearest base).
ANSWERS: dict[str, tuple[str, int, int]] = {
    "KilnError": ("INTERNAL_ERROR", 500, 1),
    "InvalidInput": ("INVALID_PARAMETER_VALUE", 400, 2),
    "InvalidUri": ("INVALID_PARAMETER_VALUE", 400, 2),
    "NotReproducible": ("INVALID_PARAMETER_VALUE", 400, 2),
    "BadInput": ("BAD_REQUEST", 400, 2),
    "UnsupportedMediaType": ("BAD_REQUEST", 415, 2),
    "BodyTooLarge": ("REQUEST_LIMIT_EXCEEDED", 413, 2),
    "NotFound": ("RESOURCE_DOES_NOT_EXIST", 404, 3),
    "UnknownModel": ("RESOURCE_DOES_NOT_EXIST", 404, 3),
    "AlreadyExists": ("RESOURCE_ALREADY_EXISTS", 400, 4),
    "Conflict": ("INVALID_PARAMETER_VALUE", 400, 4),
    "DataChanged": ("INVALID_PARAMETER_VALUE", 400, 4),
    "PermissionDenied": ("PERMISSION_DENIED", 403, 5),
    "Unauthenticated": ("UNAUTHENTICATED", 401, 5),
    "TooManyRequests": ("REQUEST_LIMIT_EXCEEDED", 429, 5),
    "StoreUnavailable": ("TEMPORARILY_UNAVAILABLE", 503, 6),
    "DriverMissing": ("TEMPORARILY_UNAVAILABLE", 503, 6),
    "Overloaded": ("TEMPORARILY_UNAVAILABLE", 503, 6),
    "PredictionFailed": ("BAD_REQUEST", 400, 1),
    "ModelValidationFailed": ("BAD_REQUEST", 400, 1),
    "SourceUnavailable": ("INVALID_PARAMETER_VALUE", 400, 7),
    "EnvironmentUnavailable": ("INVALID_PARAMETER_VALUE", 400, 7),
    "EnvironmentBuildFailed": ("INVALID_PARAMETER_VALUE", 400, 7),
    "CheckFailed": ("INTERNAL_ERROR", 500, 1),
    "AnswerMismatch": ("INTERNAL_ERROR", 500, 1),
    "ExampleFailed": ("INTERNAL_ERROR", 500, 1),
    "ServingFailed": ("INTERNAL_ERROR", 500, 1),
    "DemoFailed": ("INTERNAL_ERROR", 500, 1),
    "RequirementsMissing": ("INTERNAL_ERROR", 500, 1),
}


def _subclasses(cls: type[KilnError]) -> Iterator[type[KilnError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_class_gets_its_code_status_and_exit_code() -> None:
    assert sorted(kiln.errors.__all__) == sorted(ANSWERS)
    for name, answers in ANSWERS.items():
        cls = getattr(kiln.errors, name)
        assert issubclass(cls, KilnError), name
        error = cls("x")
        assert (error.error_code, status_for(error), lookup(error).exit_code) == answers, name


@pytest.mark.parametrize("attribute", ["http_status", "exit_code", "status"])
def test_the_classes_carry_no_edge_answer(attribute: str) -> None:
    """Statuses and exit codes live in the edge tables only, never on a class."""
    for name in kiln.errors.__all__:
        assert not hasattr(getattr(kiln.errors, name), attribute), name


def test_the_http_table_names_only_kiln_errors_and_http_error_statuses() -> None:
    assert all(issubclass(cls, KilnError) for cls in STATUS_BY_CLASS)
    assert all(400 <= status <= 599 for status in STATUS_BY_CLASS.values())
    assert KilnError not in STATUS_BY_CLASS  # unmapped classes answer 500 by the walk


def test_the_most_specific_row_of_the_http_table_wins() -> None:
    """BodyTooLarge is an InvalidInput (400) with a row of its own (413)."""
    assert status_for(kiln.errors.BodyTooLarge("x")) == 413
    assert status_for(kiln.errors.BadInput("x")) == 400


def test_the_message_is_the_string() -> None:
    error = kiln.errors.BadInput("'inputs' must be a list")
    assert (str(error), error.message) == ("'inputs' must be a list",) * 2


def test_no_error_class_lives_outside_kiln_errors() -> None:
    """Import every module of Kiln (not ``__main__``s, not the alembic env script) and
    look for a KilnError subclass defined anywhere else: there must be none."""
    for module in pkgutil.walk_packages(kiln.__path__, "kiln."):
        if module.name.endswith("__main__") or ".migrations" in module.name:
            continue
        importlib.import_module(module.name)
    elsewhere = {
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _subclasses(KilnError)
        if cls.__module__.startswith("kiln.") and cls.__module__ != "kiln.errors"
    }
    assert elsewhere == set()
